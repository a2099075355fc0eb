"""PostgreSQL files: the ``files`` table of uploaded files' metadata.

``create_file`` takes the owner's user row lock (``SELECT ... FOR UPDATE``) before
it sums their usage, so uploads in every process sharing the database are
serialized per owner and the quota holds exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg.rows import DictRow

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
from nodechat.storage.postgres.engine import Conn, Database, rowcount, rows

_COLUMNS = ", ".join(FILE_COLUMNS)
_USAGE = "SELECT count(*) AS n, coalesce(sum(size), 0) AS total FROM files WHERE owner_id = %s"


def _record(row: DictRow) -> FileRecord:
    return file_record(tuple(row[c] for c in FILE_COLUMNS))


class PostgresFileStore(FileStore):
    """File rows on a shared :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_file(self, record: FileRecord, *, quota: int) -> FileRecord:
        """Insert the row unless the owner's files would pass the quota."""

        async def fn(conn: Conn) -> FileRecord:
            await rows(conn, "SELECT id FROM users WHERE id = %s FOR UPDATE", (record.owner_id,))
            used = int((await rows(conn, _USAGE, (record.owner_id,)))[0]["total"])
            if used + record.size > quota:
                raise quota_exceeded(quota)
            await rowcount(
                conn,
                f"INSERT INTO files ({_COLUMNS})"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, NULL, NULL, false)",
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
        found = await self.db.read_one(f"SELECT {_COLUMNS} FROM files WHERE id = %s", (file_id,))
        return _record(found) if found is not None else None

    async def list_files(self, owner_id: str, *, limit: int = 100) -> list[FileRecord]:
        """The owner's files, newest first."""
        found = await self.db.read(
            f"SELECT {_COLUMNS} FROM files WHERE owner_id = %s"
            " ORDER BY created_at DESC, id DESC LIMIT %s",
            (owner_id, limit),
        )
        return [_record(r) for r in found]

    async def usage(self, owner_id: str) -> FileUsage:
        """Count and total size of the owner's files."""
        row = (await self.db.read(_USAGE, (owner_id,)))[0]
        return FileUsage(int(row["n"]), int(row["total"]))

    async def attach_files(
        self, file_ids: Sequence[str], owner_id: str, message_id: str, conversation_id: str
    ) -> list[FileRecord]:
        """All or none in one transaction."""
        wanted = list(dict.fromkeys(file_ids))

        async def fn(conn: Conn) -> list[FileRecord]:
            changed = await rowcount(
                conn,
                "UPDATE files SET message_id = %s, conversation_id = %s"
                " WHERE id = ANY(%s) AND owner_id = %s AND message_id IS NULL"
                " AND conversation_id IS NULL AND NOT released",
                (message_id, conversation_id, wanted, owner_id),
            )
            if changed != len(wanted):
                raise not_attachable()  # Database.write rolls the update back
            found = await rows(
                conn, f"SELECT {_COLUMNS} FROM files WHERE message_id = %s", (message_id,)
            )
            by_id = {r["id"]: _record(r) for r in found}
            return [by_id[i] for i in wanted]

        return await self.db.write(fn)

    async def detach_message(self, message_id: str) -> int:
        """Unattach the message's files."""

        async def fn(conn: Conn) -> int:
            return await rowcount(
                conn,
                "UPDATE files SET message_id = NULL, conversation_id = NULL WHERE message_id = %s",
                (message_id,),
            )

        return await self.db.write(fn)

    async def release_message(self, message_id: str) -> int:
        """Detach and mark released."""

        async def fn(conn: Conn) -> int:
            return await rowcount(
                conn,
                "UPDATE files SET message_id = NULL, released = true WHERE message_id = %s",
                (message_id,),
            )

        return await self.db.write(fn)

    async def attachments(self, message_ids: Sequence[str]) -> dict[str, tuple[FileRecord, ...]]:
        """Attached rows per message, in upload order."""
        if not message_ids:
            return {}
        found = await self.db.read(
            f"SELECT {_COLUMNS} FROM files WHERE message_id = ANY(%s) ORDER BY created_at, id",
            (list(message_ids),),
        )
        return group_attachments([_record(r) for r in found])

    async def stale_files(self, created_before: int, *, limit: int = 500) -> list[FileRecord]:
        """Released rows, and unattached ones older than ``created_before``."""
        found = await self.db.read(
            f"SELECT {_COLUMNS} FROM files WHERE message_id IS NULL"
            " AND (released OR created_at < %s) ORDER BY created_at, id LIMIT %s",
            (created_before, limit),
        )
        return [_record(r) for r in found]

    async def delete_file(self, file_id: str) -> bool:
        """Delete one row."""

        async def fn(conn: Conn) -> bool:
            return await rowcount(conn, "DELETE FROM files WHERE id = %s", (file_id,)) > 0

        return await self.db.write(fn)
