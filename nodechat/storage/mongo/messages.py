"""MongoDB messages: conversations, messages, read markers and blocks."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from nodechat.errors import Conflict, NotFound, Unavailable
from nodechat.models import Conversation, ConversationKind, Message, Pin, PinnedMessage
from nodechat.storage.base import AppendResult, MessageStore, PinResult
from nodechat.storage.mongo.compound import require_group
from nodechat.storage.mongo.engine import Db, Document, Engine
from nodechat.storage.portable import participant_fields

# Each failed try means another writer stored a message in the meantime, so a
# writer gives up only under contention no chat conversation sees.
MAX_SEQ_TRIES = 10_000


def _conversation(doc: Document) -> Conversation:
    kind = ConversationKind(doc["kind"])
    if kind is ConversationKind.DIRECT:
        participants: tuple[str, ...] = (doc["user_a"], doc["user_b"])
    elif kind is ConversationKind.SELF:
        participants = (doc["user_a"],)
    else:
        participants = ()
    return Conversation(
        id=doc["_id"],
        kind=kind,
        group_id=doc.get("group_id"),
        participants=participants,
        last_seq=doc.get("last_seq", 0),
        parent_id=doc.get("parent_id"),
    )


def message_from_row(doc: Document) -> Message:
    """A stored message read back (a row, or a document on MongoDB)."""
    return Message(
        id=doc["_id"],
        conversation_id=doc["conversation_id"],
        seq=doc["seq"],
        author_id=doc["author_id"],
        body=doc["body"],
        nonce=doc["nonce"],
        created_at=doc["created_at"],
        reply_to=doc.get("reply_to"),
        edited_at=doc.get("edited_at"),
        deleted=bool(doc.get("deleted", False)),
    )


def _pin(doc: Document) -> Pin:
    return Pin(doc["conversation_id"], doc["_id"], doc["pinned_by"], doc["pinned_at"])


def append_message(db: Db, doc: Document) -> AppendResult:
    """Store ``doc`` (all fields but ``seq``) with the next seq of its conversation.

    Seqs come from the messages themselves, not from a counter taken first,
    because the unique index on ``(conversation_id, seq)`` is the only lock:

    1. A stored message with the same ``(author_id, nonce)`` is returned as is.
    2. Try ``seq = last_seq + 1`` (the conversation's counter, a hint), then,
       after each collision, ``seq = highest stored seq + 1`` (read through the
       same index). ``insert_one`` either takes the seq or fails with a
       duplicate key: then another writer, maybe on another replica, took it,
       and we try again above it.
    3. After the insert, ``$max`` moves ``last_seq`` up to the new seq.

    Gap-free: a seq is only ever taken by an inserted message, and a writer
    only tries ``n + 1`` where ``n <= `` the highest stored seq (the hint is
    never above it: ``last_seq`` only ever gets the seqs of stored messages).
    So the stored seqs of a conversation are always exactly ``1..max``; a
    message is never deleted alone (a deleted message keeps its seq).

    A duplicate ``(author_id, nonce)`` means a concurrent retry of the same
    send won: its message is returned with ``created=False``. If step 3 finds
    the conversation gone (deleted meanwhile), the message is removed again
    and ``NotFound`` raised. A crash between 2 and 3 leaves ``last_seq`` one
    behind the stored messages until the conversation's next message moves
    it; history, which reads messages, is complete.
    """
    conversation_id = doc["conversation_id"]
    key = {"author_id": doc["author_id"], "nonce": doc["nonce"]}
    existing = db.messages.find_one(key)
    if existing is not None:
        return AppendResult(message_from_row(existing), created=False)
    conv = db.conversations.find_one({"_id": conversation_id}, {"last_seq": 1})
    if conv is None:
        raise NotFound("no such conversation", code="conversation_not_found")
    seq = int(conv.get("last_seq", 0)) + 1
    for _ in range(MAX_SEQ_TRIES):
        try:
            db.messages.insert_one({**doc, "seq": seq})
            break
        except DuplicateKeyError as exc:
            existing = db.messages.find_one(key)
            if existing is not None:  # the same send, stored by a concurrent retry
                return AppendResult(message_from_row(existing), created=False)
            if db.messages.find_one({"_id": doc["_id"]}, {"_id": 1}) is not None:
                raise Conflict("a message with this id exists", code="message_exists") from exc
            top = db.messages.find_one(
                {"conversation_id": conversation_id}, {"seq": 1}, sort=[("seq", DESCENDING)]
            )
            seq = (int(top["seq"]) if top is not None else 0) + 1
    else:
        raise Unavailable("too many concurrent writers in this conversation", code="store_busy")
    bumped = db.conversations.update_one({"_id": conversation_id}, {"$max": {"last_seq": seq}})
    if bumped.matched_count == 0:
        db.messages.delete_one({"_id": doc["_id"]})
        raise NotFound("no such conversation", code="conversation_not_found")
    return AppendResult(message_from_row({**doc, "seq": seq}), created=True)


class MongoMessageStore(MessageStore):
    """Messages in ``conversations``, ``messages``, ``read_markers`` and ``blocks``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- conversations ---------------------------------------------------

    async def ensure_conversation(self, conversation: Conversation) -> Conversation:
        """Create the conversation if missing; return the stored one."""
        user_a, user_b = participant_fields(conversation)
        fields = {
            "kind": conversation.kind.value,
            "group_id": conversation.group_id,
            "user_a": user_a,
            "user_b": user_b,
            "last_seq": 0,
            "parent_id": conversation.parent_id,
        }

        def fn(db: Db) -> Document:
            if conversation.kind is ConversationKind.CHANNEL:
                require_group(db, conversation.group_id or "")
            if conversation.parent_id is not None and (
                db.conversations.find_one({"_id": conversation.parent_id}, {"_id": 1}) is None
            ):  # a thread of a conversation gone
                raise NotFound("no such conversation", code="conversation_not_found")
            with contextlib.suppress(DuplicateKeyError):  # a concurrent upsert was first
                db.conversations.update_one(
                    {"_id": conversation.id}, {"$setOnInsert": fields}, upsert=True
                )
            doc = db.conversations.find_one({"_id": conversation.id})
            if doc is None:  # deleted again in between
                raise NotFound("no such conversation", code="conversation_not_found")
            return doc

        return _conversation(await self.engine.run(fn))

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        """The conversation with its ``last_seq``, or None."""
        doc = await self.engine.run(lambda db: db.conversations.find_one({"_id": conversation_id}))
        return _conversation(doc) if doc is not None else None

    async def list_direct(self, user_id: str) -> list[Conversation]:
        """The direct conversations a user takes part in."""
        query = {
            "kind": ConversationKind.DIRECT.value,
            "$or": [{"user_a": user_id}, {"user_b": user_id}],
        }
        docs = await self.engine.run(
            lambda db: list(db.conversations.find(query, sort=[("_id", ASCENDING)]))
        )
        return [_conversation(doc) for doc in docs]

    async def last_seqs(self, conversation_ids: Sequence[str]) -> dict[str, int]:
        """``last_seq`` of each existing conversation among the ids."""
        if not conversation_ids:
            return {}
        ids = list(set(conversation_ids))
        docs = await self.engine.run(
            lambda db: list(db.conversations.find({"_id": {"$in": ids}}, {"last_seq": 1}))
        )
        return {doc["_id"]: int(doc.get("last_seq", 0)) for doc in docs}

    # -- messages --------------------------------------------------------

    async def append(
        self,
        conversation_id: str,
        *,
        message_id: str,
        author_id: str,
        body: str,
        nonce: str,
        reply_to: str | None,
        now: int,
    ) -> AppendResult:
        """Store a message with the next seq (see :func:`append_message`)."""
        doc = {
            "_id": message_id,
            "conversation_id": conversation_id,
            "author_id": author_id,
            "body": body,
            "nonce": nonce,
            "reply_to": reply_to,
            "created_at": now,
            "edited_at": None,
            "deleted": False,
        }
        return await self.engine.run(lambda db: append_message(db, doc))

    async def get_message(self, message_id: str) -> Message | None:
        """The message, or None."""
        doc = await self.engine.run(lambda db: db.messages.find_one({"_id": message_id}))
        return message_from_row(doc) if doc is not None else None

    async def edit_message(self, message_id: str, body: str, now: int) -> Message:
        """Replace the body and set ``edited_at``; ``Conflict(message_deleted)`` if deleted."""

        def fn(db: Db) -> Document:
            doc = db.messages.find_one_and_update(
                {"_id": message_id, "deleted": False},
                {"$set": {"body": body, "edited_at": now}},
                return_document=ReturnDocument.AFTER,
            )
            if doc is not None:
                return doc
            if db.messages.find_one({"_id": message_id}, {"_id": 1}) is not None:
                raise Conflict("this message was deleted", code="message_deleted")
            raise NotFound("no such message", code="message_not_found")

        return message_from_row(await self.engine.run(fn))

    async def delete_message(self, message_id: str, now: int) -> Message:
        """Mark deleted and drop the body; the seq stays. Deleting twice is a no-op."""

        def fn(db: Db) -> Document:
            db.messages.update_one(
                {"_id": message_id, "deleted": False},
                {"$set": {"deleted": True, "body": "", "edited_at": now}},
            )
            db.reactions.delete_many({"message_id": message_id})  # after the mark: see reactions.py
            doc = db.messages.find_one({"_id": message_id})
            if doc is None:
                raise NotFound("no such message", code="message_not_found")
            return doc

        return message_from_row(await self.engine.run(fn))

    async def history(
        self,
        conversation_id: str,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = 50,
    ) -> list[Message]:
        """Messages by seq: newest first (``before`` or neither), oldest first with ``after``."""
        if limit <= 0:  # MongoDB reads limit 0 as "no limit"
            return []
        seq: Document = {}
        if after is not None:
            seq["$gt"] = after
        if before is not None:
            seq["$lt"] = before
        query: Document = {"conversation_id": conversation_id}
        if seq:
            query["seq"] = seq
        order = ASCENDING if after is not None else DESCENDING
        docs = await self.engine.run(
            lambda db: list(db.messages.find(query, sort=[("seq", order)], limit=limit))
        )
        return [message_from_row(doc) for doc in docs]

    # -- pins ------------------------------------------------------------

    async def pin(self, pin: Pin, *, limit: int) -> PinResult:
        """Pin a live message of the conversation, at most ``limit`` per conversation.

        Without a transaction the count and the insert are two steps: two pinners
        racing at the limit may both get in (one pin over); the ``_id`` (the message
        id) keeps a message pinned once.
        """

        def fn(db: Db) -> PinResult:
            live = {"_id": pin.message_id, "conversation_id": pin.conversation_id}
            if db.messages.find_one({**live, "deleted": False}, {"_id": 1}) is None:
                raise NotFound("no such message", code="message_not_found")
            stored = db.pins.find_one({"_id": pin.message_id})
            if stored is not None:
                return PinResult(_pin(stored), False)
            if db.pins.count_documents({"conversation_id": pin.conversation_id}) >= limit:
                raise Conflict(f"at most {limit} pins per conversation", code="too_many_pins")
            doc = {
                "_id": pin.message_id,
                "conversation_id": pin.conversation_id,
                "pinned_by": pin.pinned_by,
                "pinned_at": pin.pinned_at,
            }
            try:
                db.pins.insert_one(doc)
            except DuplicateKeyError:  # a concurrent pin of the same message won
                raced = db.pins.find_one({"_id": pin.message_id})
                if raced is None:
                    raise
                return PinResult(_pin(raced), False)
            return PinResult(pin, True)

        return await self.engine.run(fn)

    async def unpin(self, message_id: str) -> Pin | None:
        """Remove a message's pin; the removed pin or None."""
        doc = await self.engine.run(lambda db: db.pins.find_one_and_delete({"_id": message_id}))
        return _pin(doc) if doc is not None else None

    async def list_pins(self, conversation_id: str) -> list[PinnedMessage]:
        """Pinned live messages, newest pin first (pins left by a deleted message skipped)."""

        def fn(db: Db) -> list[PinnedMessage]:
            pins = [
                _pin(doc)
                for doc in db.pins.find(
                    {"conversation_id": conversation_id}, sort=[("pinned_at", DESCENDING)]
                )
            ]
            ids = [p.message_id for p in pins]
            messages = {
                doc["_id"]: message_from_row(doc)
                for doc in db.messages.find({"_id": {"$in": ids}, "deleted": False})
            }
            pinned = [
                PinnedMessage(messages[p.message_id], p) for p in pins if p.message_id in messages
            ]
            pinned.sort(key=lambda e: (e.pin.pinned_at, e.message.seq), reverse=True)
            return pinned

        return await self.engine.run(fn)

    async def count_messages(self) -> int:
        """How many messages are stored (deleted ones included)."""
        return await self.engine.run(lambda db: db.messages.count_documents({}))

    async def count_messages_by_day(self, since: int, until: int) -> dict[int, int]:
        """Messages per UTC day in the range, grouped on the server."""
        day_start = {"$subtract": ["$created_at", {"$mod": ["$created_at", 86_400_000]}]}
        pipeline: list[Document] = [
            {"$match": {"created_at": {"$gte": since, "$lt": until}}},
            {"$group": {"_id": day_start, "n": {"$sum": 1}}},
        ]
        docs = await self.engine.run(lambda db: list(db.messages.aggregate(pipeline)))
        return {int(doc["_id"]) // 86_400_000: int(doc["n"]) for doc in docs}

    # -- read markers ----------------------------------------------------

    async def set_read_marker(self, user_id: str, conversation_id: str, seq: int) -> int:
        """Move the marker forward only (one ``$max`` upsert); return the marker now stored."""
        key = {"user_id": user_id, "conversation_id": conversation_id}

        def fn(db: Db) -> int:
            for _ in range(2):  # a concurrent first upsert makes ours a duplicate: retry once
                try:
                    doc = db.read_markers.find_one_and_update(
                        key,
                        {"$max": {"seq": seq}},
                        upsert=True,
                        return_document=ReturnDocument.AFTER,
                    )
                except DuplicateKeyError:
                    continue
                if doc is not None:
                    return int(doc["seq"])
            raise Unavailable("could not store the read marker", code="store_busy")

        return await self.engine.run(fn)

    async def read_markers(self, user_id: str, conversation_ids: Sequence[str]) -> dict[str, int]:
        """The user's markers for those conversations (missing = 0)."""
        markers = dict.fromkeys(conversation_ids, 0)
        if not markers:
            return markers
        docs = await self.engine.run(
            lambda db: list(
                db.read_markers.find(
                    {"user_id": user_id, "conversation_id": {"$in": list(markers)}},
                    {"conversation_id": 1, "seq": 1},
                )
            )
        )
        markers.update({doc["conversation_id"]: int(doc["seq"]) for doc in docs})
        return markers

    async def unread_counts(self, user_id: str, conversation_ids: Sequence[str]) -> dict[str, int]:
        """Per conversation: messages after the user's marker, not by the user, not deleted.

        Two round trips: the markers, then one aggregation whose ``$or`` has a
        ``(conversation_id, seq > marker)`` branch per conversation, each
        served by the ``(conversation_id, seq)`` index.
        """
        markers = await self.read_markers(user_id, list(dict.fromkeys(conversation_ids)))
        if not markers:
            return {}
        branches = [{"conversation_id": cid, "seq": {"$gt": seq}} for cid, seq in markers.items()]
        pipeline: list[Document] = [
            {"$match": {"$or": branches, "author_id": {"$ne": user_id}, "deleted": False}},
            {"$group": {"_id": "$conversation_id", "n": {"$sum": 1}}},
        ]
        docs = await self.engine.run(lambda db: list(db.messages.aggregate(pipeline)))
        counts = dict.fromkeys(markers, 0)
        counts.update({doc["_id"]: int(doc["n"]) for doc in docs})
        return counts

    # -- blocks ----------------------------------------------------------

    async def block(self, user_id: str, blocked_id: str, now: int) -> None:
        """``user_id`` blocks ``blocked_id`` (idempotent)."""

        def fn(db: Db) -> None:
            with contextlib.suppress(DuplicateKeyError):  # a concurrent block was first
                db.blocks.update_one(
                    {"user_id": user_id, "blocked_id": blocked_id},
                    {"$setOnInsert": {"created_at": now}},
                    upsert=True,
                )

        await self.engine.run(fn)

    async def unblock(self, user_id: str, blocked_id: str) -> None:
        """Lift a block (idempotent)."""
        await self.engine.run(
            lambda db: db.blocks.delete_one({"user_id": user_id, "blocked_id": blocked_id})
        )

    async def is_blocked(self, user_a: str, user_b: str) -> bool:
        """Whether either user blocks the other."""
        doc = await self.engine.run(
            lambda db: db.blocks.find_one(
                {
                    "$or": [
                        {"user_id": user_a, "blocked_id": user_b},
                        {"user_id": user_b, "blocked_id": user_a},
                    ]
                },
                {"_id": 1},
            )
        )
        return doc is not None
