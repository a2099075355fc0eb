"""The SQLite backend: one file, a group-committing writer, the three store parts."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nodechat.errors import Unavailable
from nodechat.storage.base import Store
from nodechat.storage.sqlite import portable
from nodechat.storage.sqlite.accounts import SqliteAccountStore
from nodechat.storage.sqlite.bulk import SqliteBulkStore
from nodechat.storage.sqlite.engine import Database
from nodechat.storage.sqlite.files import SqliteFileStore
from nodechat.storage.sqlite.groups import SqliteGroupStore
from nodechat.storage.sqlite.messages import SqliteMessageStore
from nodechat.storage.sqlite.reactions import SqliteReactionStore
from nodechat.storage.sqlite.schema import MIGRATIONS
from nodechat.storage.sqlite.search import SqliteSearchStore
from nodechat.storage.sqlite.threads import SqliteThreadStore


class SqliteStore(Store):
    """A :class:`Store` on one SQLite :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.accounts = SqliteAccountStore(db)
        self.bulk = SqliteBulkStore(db)
        self.groups = SqliteGroupStore(db)
        self.messages = SqliteMessageStore(db)
        self.reactions = SqliteReactionStore(db)
        self.threads = SqliteThreadStore(db)
        self._search = self.search = SqliteSearchStore(db)
        self.files = SqliteFileStore(db)

    async def close(self) -> None:
        """Commit the queued writes and close the database."""
        await self._search.close()
        await self.db.close()

    def describe(self) -> str:
        """The database file, for humans."""
        return f"sqlite {self.db.path}"

    async def export_rows(
        self, table: str, *, after: tuple[Any, ...] | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        return portable.export_rows(self.db, table, after, limit)

    async def import_rows(self, table: str, rows: Sequence[dict[str, Any]]) -> int:
        return await portable.import_rows(self.db, table, rows)

    async def count_rows(self, table: str) -> int:
        return portable.count_rows(self.db, table)


def open_sqlite(path: str | Path) -> SqliteStore:
    """Open (creating and migrating as needed) the SQLite store at ``path``."""
    try:
        return SqliteStore(Database(path, MIGRATIONS))
    except (sqlite3.Error, OSError) as exc:
        raise Unavailable(
            f"cannot open the SQLite database {path}: {exc}", code="store_unavailable"
        ) from exc


__all__ = ["SqliteStore", "open_sqlite"]
