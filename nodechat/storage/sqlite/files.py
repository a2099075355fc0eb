"""SQLite files: the ``files`` table of uploaded files' metadata.

The single writer makes the quota exact: the owner's usage is summed and the
row inserted in one write.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from nodechat.models import FileRecord
from nodechat.storage.files import (
    FILE_COLUMNS,
    FileStore,
    FileUsage,
    file_record,
    group_attachments,
    not_attachable,
    quota_exceeded,
)
from nodechat.storage.sqlite.engine import Database

_COLUMNS = ", ".join(FILE_COLUMNS)
_USAGE = "SELECT count(*), coalesce(sum(size), 0) FROM files WHERE owner_id = ?"


class SqliteFileStore(FileStore):
    """File rows on a shared :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_file(self, record: FileRecord, *, quota: int) -> FileRecord:
        """Insert the row unless the owner's files would pass the quota."""

        def fn(conn: sqlite3.Connection) -> FileRecord:
            used = int(conn.execute(_USAGE, (record.owner_id,)).fetchone()[1])
            if used + record.size > quota:
                raise quota_exceeded(quota)
            conn.execute(
                f"INSERT INTO files ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, 0)",
                (
                    record.id,
                    record.owner_id,
                    record.name,
                    record.size,
                    record.sha256,
                    record.content_type,
                    record.created_at,
                ),
            )
            return record

        return await self.db.write(fn)

    async def get_file(self, file_id: str) -> FileRecord | None:
        """One row by id."""
        found = self.db.read(f"SELECT {_COLUMNS} FROM files WHERE id = ?", (file_id,))
        return file_record(tuple(found[0])) if found else None

    async def list_files(self, owner_id: str, *, limit: int = 100) -> list[FileRecord]:
        """The owner's files, newest first."""
        found = self.db.read(
            f"SELECT {_COLUMNS} FROM files WHERE owner_id = ? ORDER BY created_at DESC, id DESC"
            " LIMIT ?",
            (owner_id, limit),
        )
        return [file_record(tuple(r)) for r in found]

    async def usage(self, owner_id: str) -> FileUsage:
        """Count and total size of the owner's files."""
        row = self.db.read(_USAGE, (owner_id,))[0]
        return FileUsage(int(row[0]), int(row[1]))

    async def attach_files(
        self, file_ids: Sequence[str], owner_id: str, message_id: str, conversation_id: str
    ) -> list[FileRecord]:
        """All or none in one write."""

        def fn(conn: sqlite3.Connection) -> list[FileRecord]:
            changed = conn.execute(
                "UPDATE files SET message_id = ?, conversation_id = ?"
                " WHERE id IN (SELECT value FROM json_each(?)) AND owner_id = ?"
                " AND message_id IS NULL AND conversation_id IS NULL AND released = 0",
                (message_id, conversation_id, json.dumps(list(file_ids)), owner_id),
            ).rowcount
            if changed != len(set(file_ids)):
                raise not_attachable()  # Database.write rolls the update back
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM files WHERE message_id = ?", (message_id,)
            ).fetchall()
            by_id = {r[0]: file_record(tuple(r)) for r in rows}
            return [by_id[i] for i in dict.fromkeys(file_ids)]

        return await self.db.write(fn)

    async def detach_message(self, message_id: str) -> int:
        """Unattach the message's files."""

        def fn(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "UPDATE files SET message_id = NULL, conversation_id = NULL WHERE message_id = ?",
                (message_id,),
            ).rowcount

        return await self.db.write(fn)

    async def release_message(self, message_id: str) -> int:
        """Detach and mark released."""

        def fn(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "UPDATE files SET message_id = NULL, released = 1 WHERE message_id = ?",
                (message_id,),
            ).rowcount

        return await self.db.write(fn)

    async def attachments(self, message_ids: Sequence[str]) -> dict[str, tuple[FileRecord, ...]]:
        """Attached rows per message, in upload order."""
        if not message_ids:
            return {}
        found = self.db.read(
            f"SELECT {_COLUMNS} FROM files WHERE message_id IN (SELECT value FROM json_each(?))"
            " ORDER BY created_at, id",
            (json.dumps(list(message_ids)),),
        )
        return group_attachments([file_record(tuple(r)) for r in found])

    async def stale_files(self, created_before: int, *, limit: int = 500) -> list[FileRecord]:
        """Released rows, and unattached ones older than ``created_before``."""
        found = self.db.read(
            f"SELECT {_COLUMNS} FROM files WHERE message_id IS NULL"
            " AND (released = 1 OR created_at < ?) ORDER BY created_at, id LIMIT ?",
            (created_before, limit),
        )
        return [file_record(tuple(r)) for r in found]

    async def delete_file(self, file_id: str) -> bool:
        """Delete one row."""

        def fn(conn: sqlite3.Connection) -> bool:
            return conn.execute("DELETE FROM files WHERE id = ?", (file_id,)).rowcount > 0

        return await self.db.write(fn)
