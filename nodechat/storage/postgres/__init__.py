"""The PostgreSQL backend: pooled reads, a group-committing writer, the three store parts.

:func:`open_postgres` connects once, synchronously, to check the server is
reachable and to apply the schema migrations (so a bad URL fails at start,
with the host in the message); the connection pool and the writer open
lazily on the first operation, in the running event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from nodechat.storage.base import Store
from nodechat.storage.postgres import portable
from nodechat.storage.postgres.accounts import PostgresAccountStore
from nodechat.storage.postgres.bulk import PostgresBulkStore
from nodechat.storage.postgres.engine import Database, connect_options, unavailable, where
from nodechat.storage.postgres.files import PostgresFileStore
from nodechat.storage.postgres.groups import PostgresGroupStore
from nodechat.storage.postgres.messages import PostgresMessageStore
from nodechat.storage.postgres.reactions import PostgresReactionStore
from nodechat.storage.postgres.schema import migrate
from nodechat.storage.postgres.search import PostgresSearchStore
from nodechat.storage.postgres.threads import PostgresThreadStore


class PostgresStore(Store):
    """A :class:`Store` on one PostgreSQL :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.accounts = PostgresAccountStore(db)
        self.bulk = PostgresBulkStore(db)
        self.groups = PostgresGroupStore(db)
        self.messages = PostgresMessageStore(db)
        self.reactions = PostgresReactionStore(db)
        self.threads = PostgresThreadStore(db)
        self.search = PostgresSearchStore(db)
        self.files = PostgresFileStore(db)

    async def close(self) -> None:
        """Commit the queued writes and close every connection."""
        await self.db.close()

    def describe(self) -> str:
        """Server and database, for humans (no credentials)."""
        return f"postgresql {self.db.where}"

    async def export_rows(
        self, table: str, *, after: tuple[Any, ...] | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        return await portable.export_rows(self.db, table, after, limit)

    async def import_rows(self, table: str, rows: Sequence[dict[str, Any]]) -> int:
        return await portable.import_rows(self.db, table, rows)

    async def count_rows(self, table: str) -> int:
        return await portable.count_rows(self.db, table)


def open_postgres(url: str) -> PostgresStore:
    """Open the store at a ``postgresql://`` URL (or conninfo), migrating its schema first.

    ``Unavailable(code='store_unavailable')`` if the server cannot be reached
    or refuses the connection; ``Unavailable(code='schema_too_new')`` if the
    database was migrated by a newer nodechat.
    """
    try:
        with psycopg.connect(url, autocommit=True, **connect_options(url)) as conn:
            migrate(conn)
    except psycopg.Error as exc:
        raise unavailable(where(url), exc) from exc
    return PostgresStore(Database(url))


__all__ = ["PostgresStore", "open_postgres"]
