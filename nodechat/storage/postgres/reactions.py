"""PostgreSQL reactions: the ``reactions`` table, one row per (message, emoji, user).

Adding takes the message's row lock (``SELECT ... FOR UPDATE``) before it counts
the distinct emoji, so writers in every process sharing the database are
serialized per message and the limit holds exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

from nodechat.errors import Conflict, NotFound
from nodechat.models import Reaction
from nodechat.storage.base import ReactionChange, ReactionStore, collect_reactions
from nodechat.storage.postgres.engine import Conn, Database, rowcount, rows

_COUNT = "SELECT count(*) AS n FROM reactions WHERE message_id = %s AND emoji = %s"


async def _count(conn: Conn, message_id: str, emoji: str) -> int:
    found = await rows(conn, _COUNT, (message_id, emoji))
    return int(found[0]["n"])


class PostgresReactionStore(ReactionStore):
    """Reactions on a shared :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add_reaction(
        self, message_id: str, emoji: str, user_id: str, now: int, *, max_distinct: int
    ) -> ReactionChange:
        """Add the user's reaction; a repeat changes nothing."""

        async def fn(conn: Conn) -> ReactionChange:
            found = await rows(
                conn, "SELECT deleted FROM messages WHERE id = %s FOR UPDATE", (message_id,)
            )
            if not found:
                raise NotFound("no such message", code="message_not_found")
            if found[0]["deleted"]:
                raise Conflict("this message was deleted", code="message_deleted")
            if await _count(conn, message_id, emoji) == 0:
                distinct = await rows(
                    conn,
                    "SELECT count(DISTINCT emoji) AS n FROM reactions WHERE message_id = %s",
                    (message_id,),
                )
                if int(distinct[0]["n"]) >= max_distinct:
                    raise Conflict(
                        f"a message takes at most {max_distinct} different reactions",
                        code="too_many_reactions",
                    )
            added = await rowcount(
                conn,
                "INSERT INTO reactions (message_id, emoji, user_id, created_at)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (message_id, emoji, user_id, now),
            )
            return ReactionChange(await _count(conn, message_id, emoji), added > 0)

        return await self.db.write(fn)

    async def remove_reaction(self, message_id: str, emoji: str, user_id: str) -> ReactionChange:
        """Remove the user's reaction; removing an absent one changes nothing."""

        async def fn(conn: Conn) -> ReactionChange:
            removed = await rowcount(
                conn,
                "DELETE FROM reactions WHERE message_id = %s AND emoji = %s AND user_id = %s",
                (message_id, emoji, user_id),
            )
            return ReactionChange(await _count(conn, message_id, emoji), removed > 0)

        return await self.db.write(fn)

    async def reactions(
        self, message_ids: Sequence[str], viewer_id: str
    ) -> dict[str, tuple[Reaction, ...]]:
        """Per message: its emoji in first-use order, counts, and the viewer's own."""
        if not message_ids:
            return {}
        found = await self.db.read(
            "SELECT message_id, emoji, count(*) AS n, bool_or(user_id = %s) AS mine,"
            " min(created_at) AS first FROM reactions WHERE message_id = ANY(%s)"
            " GROUP BY message_id, emoji ORDER BY message_id, first, emoji",
            (viewer_id, list(message_ids)),
        )
        return collect_reactions((r["message_id"], r["emoji"], r["n"], r["mine"]) for r in found)
