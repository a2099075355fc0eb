"""SQLite threads: summaries read from the thread conversations and their last messages."""

from __future__ import annotations

import json
from collections.abc import Sequence

from nodechat.models import ThreadSummary
from nodechat.storage.base import ThreadStore
from nodechat.storage.sqlite.engine import Database


class SqliteThreadStore(ThreadStore):
    """Thread summaries on a shared :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def thread_ids(self, parent_ids: Sequence[str]) -> list[str]:
        """The threads under the given conversations (the ``conversations_parent`` index)."""
        if not parent_ids:
            return []
        rows = self.db.read(
            "SELECT id FROM conversations WHERE parent_id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(parent_ids)),),
        )
        return [row[0] for row in rows]

    async def summaries(self, conversation_ids: Sequence[str]) -> dict[str, ThreadSummary]:
        """One read: each thread's ``last_seq`` and its message at that seq (the
        ``(conversation_id, seq)`` index finds it)."""
        if not conversation_ids:
            return {}
        rows = self.db.read(
            "SELECT c.id, c.last_seq, m.created_at FROM conversations c"
            " JOIN messages m ON m.conversation_id = c.id AND m.seq = c.last_seq"
            " WHERE c.id IN (SELECT value FROM json_each(?)) AND c.kind = 'thread'",
            (json.dumps(list(conversation_ids)),),
        )
        return {row[0]: ThreadSummary(row[0], int(row[1]), int(row[2])) for row in rows}
