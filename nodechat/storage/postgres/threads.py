"""PostgreSQL threads: summaries read from the thread conversations and their last messages."""

from __future__ import annotations

from collections.abc import Sequence

from nodechat.models import ThreadSummary
from nodechat.storage.base import ThreadStore
from nodechat.storage.postgres.engine import Database


class PostgresThreadStore(ThreadStore):
    """Thread summaries on a shared :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def thread_ids(self, parent_ids: Sequence[str]) -> list[str]:
        """The threads under the given conversations (the ``conversations_parent`` index)."""
        if not parent_ids:
            return []
        found = await self.db.read(
            "SELECT id FROM conversations WHERE parent_id = ANY(%s)", (list(parent_ids),)
        )
        return [row["id"] for row in found]

    async def summaries(self, conversation_ids: Sequence[str]) -> dict[str, ThreadSummary]:
        """One read: each thread's ``last_seq`` and its message at that seq (the
        ``(conversation_id, seq)`` unique index finds it)."""
        if not conversation_ids:
            return {}
        found = await self.db.read(
            "SELECT c.id, c.last_seq, m.created_at FROM conversations c"
            " JOIN messages m ON m.conversation_id = c.id AND m.seq = c.last_seq"
            " WHERE c.id = ANY(%s) AND c.kind = 'thread'",
            (list(conversation_ids),),
        )
        return {
            row["id"]: ThreadSummary(row["id"], int(row["last_seq"]), int(row["created_at"]))
            for row in found
        }
