"""The MongoDB backend: pymongo's pooled client on a thread pool, the three store parts.

Built on single-document atomic operations and unique indexes only (no
multi-document transactions), so it runs on a standalone server, a replica set
or a sharded cluster, and its logic runs unchanged on mongomock in the tests.
Where SQLite uses one transaction over several rows, the steps are ordered so
that concurrency is safe and a crash in between leaves a harmless, completable
state (see compound.py and messages.append_message).

The code mongomock cannot stand in for is :func:`client.connect` (reaching a
server, the start-up ping) and the server's side of the write concern; see
docs/storage.md, "Testing".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bson.errors import BSONError
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from nodechat.errors import ChatError, Unavailable
from nodechat.storage.base import Store
from nodechat.storage.mongo import portable
from nodechat.storage.mongo.accounts import MongoAccountStore
from nodechat.storage.mongo.bulk import MongoBulkStore
from nodechat.storage.mongo.client import connect, parse_url
from nodechat.storage.mongo.engine import Document, Engine
from nodechat.storage.mongo.files import MongoFileStore
from nodechat.storage.mongo.groups import MongoGroupStore
from nodechat.storage.mongo.indexes import prepare
from nodechat.storage.mongo.messages import MongoMessageStore
from nodechat.storage.mongo.reactions import MongoReactionStore
from nodechat.storage.mongo.search import MongoSearchStore
from nodechat.storage.mongo.threads import MongoThreadStore


class MongoStore(Store):
    """A :class:`Store` on one MongoDB database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.accounts = MongoAccountStore(engine)
        self.bulk = MongoBulkStore(engine)
        self.groups = MongoGroupStore(engine)
        self.messages = MongoMessageStore(engine)
        self.reactions = MongoReactionStore(engine)
        self.threads = MongoThreadStore(engine)
        self.search = MongoSearchStore(engine)
        self.files = MongoFileStore(engine)

    async def close(self) -> None:
        """Let running operations finish and close the client (if this store opened it)."""
        await self.engine.close()

    def describe(self) -> str:
        """The hosts and database, for humans (no credentials)."""
        return self.engine.description

    async def export_rows(
        self, table: str, *, after: tuple[Any, ...] | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        return await portable.export_rows(self.engine, table, after, limit)

    async def import_rows(self, table: str, rows: Sequence[dict[str, Any]]) -> int:
        return await portable.import_rows(self.engine, table, rows)

    async def count_rows(self, table: str) -> int:
        return await portable.count_rows(self.engine, table)


def open_mongo(
    url: str, *, client: MongoClient[Document] | None = None, workers: int = 32
) -> MongoStore:
    """Open the store in the database a ``mongodb://`` or ``mongodb+srv://`` URL names.

    Without ``client``, connects (one pooled client) and pings the server
    first: ``Unavailable(code='store_unavailable')`` naming the hosts if none
    answers. A given ``client`` (e.g. a ``mongomock.MongoClient`` in tests) is
    used as is, not pinged, and not closed by :meth:`MongoStore.close`.
    The database defaults to ``nodechat``; ``workers`` bounds the operations
    in flight. Creates the indexes on every open (a no-op when they exist).
    """
    parsed = parse_url(url)
    write_concern = parsed.write_concern()
    owned: MongoClient[Document] | None = None
    if client is None:
        owned = client = connect(url, parsed)
    try:
        db = client.get_database(parsed.database, write_concern=write_concern)
        prepare(db)
    except ChatError:
        if owned is not None:
            owned.close()
        raise
    except (PyMongoError, BSONError) as exc:
        if owned is not None:
            owned.close()
        raise Unavailable(
            f"cannot prepare the MongoDB database {parsed.redacted}: {exc}",
            code="store_unavailable",
        ) from exc
    where = parsed.redacted if owned is not None else f"{parsed.redacted} (supplied client)"
    return MongoStore(
        Engine(db, owned_client=owned, description=f"mongodb {where}", workers=workers)
    )


__all__ = ["MongoStore", "open_mongo"]
