"""SQLite reactions: the ``reactions`` table, one row per (message, emoji, user)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from nodechat.errors import Conflict, NotFound
from nodechat.models import Reaction
from nodechat.storage.base import ReactionChange, ReactionStore, collect_reactions
from nodechat.storage.sqlite.engine import Database

_COUNT = "SELECT count(*) FROM reactions WHERE message_id = ? AND emoji = ?"


def _count(conn: sqlite3.Connection, message_id: str, emoji: str) -> int:
    return int(conn.execute(_COUNT, (message_id, emoji)).fetchone()[0])


class SqliteReactionStore(ReactionStore):
    """Reactions on a shared :class:`Database`; the single writer makes the limit exact."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add_reaction(
        self, message_id: str, emoji: str, user_id: str, now: int, *, max_distinct: int
    ) -> ReactionChange:
        """Add the user's reaction; a repeat changes nothing."""

        def fn(conn: sqlite3.Connection) -> ReactionChange:
            row = conn.execute(
                "SELECT deleted FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
            if row is None:
                raise NotFound("no such message", code="message_not_found")
            if row[0]:
                raise Conflict("this message was deleted", code="message_deleted")
            if _count(conn, message_id, emoji) == 0:
                distinct = conn.execute(
                    "SELECT count(DISTINCT emoji) FROM reactions WHERE message_id = ?",
                    (message_id,),
                ).fetchone()[0]
                if distinct >= max_distinct:
                    raise Conflict(
                        f"a message takes at most {max_distinct} different reactions",
                        code="too_many_reactions",
                    )
            added = conn.execute(
                "INSERT OR IGNORE INTO reactions (message_id, emoji, user_id, created_at)"
                " VALUES (?, ?, ?, ?)",
                (message_id, emoji, user_id, now),
            ).rowcount
            return ReactionChange(_count(conn, message_id, emoji), added > 0)

        return await self.db.write(fn)

    async def remove_reaction(self, message_id: str, emoji: str, user_id: str) -> ReactionChange:
        """Remove the user's reaction; removing an absent one changes nothing."""

        def fn(conn: sqlite3.Connection) -> ReactionChange:
            removed = conn.execute(
                "DELETE FROM reactions WHERE message_id = ? AND emoji = ? AND user_id = ?",
                (message_id, emoji, user_id),
            ).rowcount
            return ReactionChange(_count(conn, message_id, emoji), removed > 0)

        return await self.db.write(fn)

    async def reactions(
        self, message_ids: Sequence[str], viewer_id: str
    ) -> dict[str, tuple[Reaction, ...]]:
        """Per message: its emoji in first-use order, counts, and the viewer's own."""
        if not message_ids:
            return {}
        found = self.db.read(
            "SELECT message_id, emoji, count(*), max(user_id = ?), min(created_at) AS first"
            " FROM reactions WHERE message_id IN (SELECT value FROM json_each(?))"
            " GROUP BY message_id, emoji ORDER BY message_id, first, emoji",
            (viewer_id, json.dumps(list(message_ids))),
        )
        return collect_reactions((r[0], r[1], r[2], r[3]) for r in found)
