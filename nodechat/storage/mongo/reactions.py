"""MongoDB reactions: the ``reactions`` collection, one document per (message, emoji, user).

Without transactions, the unique index ``(message_id, emoji, user_id)`` makes a
repeat a no-op, and the limit and the deleted check follow the "re-check after
inserting a child" pattern of compound.py: insert, then look again at the
message and its distinct emoji, and undo the insert if it lost. Two racing new
emoji may then both be refused; none is ever kept past the limit.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymongo.errors import DuplicateKeyError

from nodechat.errors import Conflict, NotFound
from nodechat.models import Reaction
from nodechat.storage.base import ReactionChange, ReactionStore, collect_reactions
from nodechat.storage.mongo.engine import Db, Document, Engine


def _too_many(max_distinct: int) -> Conflict:
    return Conflict(
        f"a message takes at most {max_distinct} different reactions", code="too_many_reactions"
    )


def _check_message(db: Db, message_id: str) -> None:
    message = db.messages.find_one({"_id": message_id}, {"deleted": 1})
    if message is None:
        raise NotFound("no such message", code="message_not_found")
    if message.get("deleted"):
        raise Conflict("this message was deleted", code="message_deleted")


def _count(db: Db, message_id: str, emoji: str) -> int:
    return int(db.reactions.count_documents({"message_id": message_id, "emoji": emoji}))


class MongoReactionStore(ReactionStore):
    """Reactions in one collection of the store's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def add_reaction(
        self, message_id: str, emoji: str, user_id: str, now: int, *, max_distinct: int
    ) -> ReactionChange:
        """Add the user's reaction; a repeat changes nothing."""
        key = {"message_id": message_id, "emoji": emoji, "user_id": user_id}

        def fn(db: Db) -> ReactionChange:
            _check_message(db, message_id)
            new_emoji = _count(db, message_id, emoji) == 0
            if new_emoji and len(db.reactions.distinct("emoji", {"message_id": message_id})) >= (
                max_distinct
            ):
                raise _too_many(max_distinct)
            try:
                db.reactions.insert_one({**key, "created_at": now})
            except DuplicateKeyError:
                return ReactionChange(_count(db, message_id, emoji), False)
            try:  # re-check: a delete or another new emoji may have raced past us
                _check_message(db, message_id)
                if new_emoji and (
                    len(db.reactions.distinct("emoji", {"message_id": message_id})) > max_distinct
                ):
                    raise _too_many(max_distinct)
            except (NotFound, Conflict):
                db.reactions.delete_one(key)
                raise
            return ReactionChange(_count(db, message_id, emoji), True)

        return await self.engine.run(fn)

    async def remove_reaction(self, message_id: str, emoji: str, user_id: str) -> ReactionChange:
        """Remove the user's reaction; removing an absent one changes nothing."""

        def fn(db: Db) -> ReactionChange:
            removed = db.reactions.delete_one(
                {"message_id": message_id, "emoji": emoji, "user_id": user_id}
            ).deleted_count
            return ReactionChange(_count(db, message_id, emoji), removed > 0)

        return await self.engine.run(fn)

    async def reactions(
        self, message_ids: Sequence[str], viewer_id: str
    ) -> dict[str, tuple[Reaction, ...]]:
        """Per message: its emoji in first-use order, counts, and the viewer's own."""
        if not message_ids:
            return {}

        def fn(db: Db) -> list[Document]:
            return list(db.reactions.find({"message_id": {"$in": list(message_ids)}}))

        tally: dict[tuple[str, str], list[int]] = {}  # -> [count, viewer reacted, first use]
        for doc in await self.engine.run(fn):
            entry = tally.setdefault((doc["message_id"], doc["emoji"]), [0, 0, doc["created_at"]])
            entry[0] += 1
            entry[1] |= doc["user_id"] == viewer_id
            entry[2] = min(entry[2], doc["created_at"])
        order = sorted(tally.items(), key=lambda kv: (kv[0][0], kv[1][2], kv[0][1]))
        return collect_reactions(
            (message_id, emoji, count, bool(me)) for (message_id, emoji), (count, me, _) in order
        )
