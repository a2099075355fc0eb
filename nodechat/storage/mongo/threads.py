"""MongoDB threads: summaries read from the thread conversations and their newest messages.

The count is the thread's highest stored seq, read through the
``(conversation_id, seq)`` index rather than from ``last_seq``: that counter may
lag one behind after a crash mid-append (see messages.append_message), the
messages never do.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import DESCENDING

from nodechat.models import ConversationKind, ThreadSummary
from nodechat.storage.base import ThreadStore
from nodechat.storage.mongo.engine import Db, Engine


class MongoThreadStore(ThreadStore):
    """Thread summaries on a shared :class:`Engine`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def thread_ids(self, parent_ids: Sequence[str]) -> list[str]:
        """The threads under the given conversations (the ``parent_id_1`` index)."""
        if not parent_ids:
            return []
        ids = list(set(parent_ids))

        def fn(db: Db) -> list[str]:
            found = db.conversations.find({"parent_id": {"$in": ids}}, {"_id": 1})
            return [str(doc["_id"]) for doc in found]

        return await self.engine.run(fn)

    async def summaries(self, conversation_ids: Sequence[str]) -> dict[str, ThreadSummary]:
        """The threads among the ids, then each one's newest message (one index seek)."""
        if not conversation_ids:
            return {}
        ids = list(set(conversation_ids))

        def fn(db: Db) -> dict[str, ThreadSummary]:
            found: dict[str, ThreadSummary] = {}
            threads = db.conversations.find(
                {"_id": {"$in": ids}, "kind": ConversationKind.THREAD.value}, {"_id": 1}
            )
            for thread in threads:
                top = db.messages.find_one(
                    {"conversation_id": thread["_id"]},
                    {"seq": 1, "created_at": 1},
                    sort=[("seq", DESCENDING)],
                )
                if top is not None:
                    found[thread["_id"]] = ThreadSummary(
                        thread["_id"], int(top["seq"]), int(top["created_at"])
                    )
            return found

        return await self.engine.run(fn)
