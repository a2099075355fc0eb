"""PostgreSQL messages: conversations, messages, read markers and blocks.

``append`` is one call of the ``nodechat_append`` function (see the schema):
the seq comes from ``UPDATE conversations ... RETURNING last_seq`` in the same
transaction as the insert, so the conversation's row lock serializes writers
across every process sharing the database and seqs stay gap-free.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from psycopg import errors
from psycopg.rows import DictRow

from nodechat.errors import Conflict, InternalError, InvalidRequest, NotFound, fold, settle
from nodechat.models import Conversation, ConversationKind, Message, Pin, PinnedMessage
from nodechat.storage.base import (
    AppendOutcome,
    AppendResult,
    MessageStore,
    NewMessage,
    PinResult,
)
from nodechat.storage.portable import participant_fields
from nodechat.storage.postgres.engine import Conn, Database, rows

_CONVERSATION = "id, kind, group_id, user_a, user_b, last_seq, parent_id"
_MESSAGE = (
    "id, conversation_id, seq, author_id, body, nonce, reply_to, created_at, edited_at, deleted"
)
_APPEND = "SELECT * FROM nodechat_append(%s, %s, %s, %s, %s, %s, %s)"


def _conversation(row: DictRow) -> Conversation:
    kind = ConversationKind(row["kind"])
    if kind is ConversationKind.DIRECT:
        participants: tuple[str, ...] = (row["user_a"], row["user_b"])
    elif kind is ConversationKind.SELF:
        participants = (row["user_a"],)
    else:
        participants = ()
    return Conversation(
        id=row["id"],
        kind=kind,
        group_id=row["group_id"],
        participants=participants,
        last_seq=row["last_seq"],
        parent_id=row["parent_id"],
    )


def message_from_row(row: DictRow, prefix: str = "") -> Message:
    """A stored message read back (a row, or a document on MongoDB)."""
    return Message(
        id=row[f"{prefix}id"],
        conversation_id=row[f"{prefix}conversation_id"],
        seq=row[f"{prefix}seq"],
        author_id=row[f"{prefix}author_id"],
        body=row[f"{prefix}body"],
        nonce=row[f"{prefix}nonce"],
        created_at=row[f"{prefix}created_at"],
        reply_to=row[f"{prefix}reply_to"],
        edited_at=row[f"{prefix}edited_at"],
        deleted=row[f"{prefix}deleted"],
    )


_PIN = "message_id, conversation_id, pinned_by, pinned_at"


def _pin(row: DictRow) -> Pin:
    return Pin(row["conversation_id"], row["message_id"], row["pinned_by"], row["pinned_at"])


def _check_append(now: int, *texts: str | None) -> None:
    """Refuse what PostgreSQL would (NUL in text, a time beyond BIGINT) before it is
    pipelined: there, one failing statement would fail the whole batch."""
    if any(text is not None and "\x00" in text for text in texts):
        raise InvalidRequest("text may not contain NUL characters", code="invalid_text")
    if not -(2**63) <= now < 2**63:
        raise InvalidRequest("the time is out of range", code="invalid_time")


async def _message_or_missing(conn: Conn, found: list[DictRow], message_id: str) -> Message:
    """The message of an ``UPDATE ... RETURNING``; NotFound or Conflict(message_deleted) if none."""
    if found:
        return message_from_row(found[0])
    if await rows(conn, "SELECT 1 FROM messages WHERE id = %s", (message_id,)):
        raise Conflict("this message was deleted", code="message_deleted")
    raise NotFound("no such message", code="message_not_found")


class PostgresMessageStore(MessageStore):
    """Messages on a shared :class:`Database`."""

    ordered_appends = True  # the writer queue is filled before append first suspends

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- conversations ---------------------------------------------------

    async def ensure_conversation(self, conversation: Conversation) -> Conversation:
        """Create the conversation if missing; return the stored one."""
        user_a, user_b = participant_fields(conversation)

        async def fn(conn: Conn) -> Conversation:
            try:
                await conn.execute(
                    "INSERT INTO conversations (id, kind, group_id, user_a, user_b, parent_id)"
                    " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                    (
                        conversation.id,
                        conversation.kind.value,
                        conversation.group_id,
                        user_a,
                        user_b,
                        conversation.parent_id,
                    ),
                )
            except errors.ForeignKeyViolation as exc:  # a channel conversation of no group
                if conversation.parent_id is not None:  # a thread of a conversation gone
                    raise NotFound("no such conversation", code="conversation_not_found") from exc
                raise NotFound("no such group", code="group_not_found") from exc
            found = await rows(
                conn, f"SELECT {_CONVERSATION} FROM conversations WHERE id = %s", (conversation.id,)
            )
            return _conversation(found[0])

        return await self.db.write(fn)

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        """The conversation with its ``last_seq``, or None."""
        row = await self.db.read_one(
            f"SELECT {_CONVERSATION} FROM conversations WHERE id = %s", (conversation_id,)
        )
        return _conversation(row) if row is not None else None

    async def list_direct(self, user_id: str) -> list[Conversation]:
        """The direct conversations a user takes part in."""
        found = await self.db.read(
            f"SELECT {_CONVERSATION} FROM conversations WHERE kind = %s"
            " AND (user_a = %s OR user_b = %s) ORDER BY id",
            (ConversationKind.DIRECT.value, user_id, user_id),
        )
        return [_conversation(row) for row in found]

    async def last_seqs(self, conversation_ids: Sequence[str]) -> dict[str, int]:
        """``last_seq`` of each existing conversation among the ids."""
        if not conversation_ids:
            return {}
        found = await self.db.read(
            "SELECT id, last_seq FROM conversations WHERE id = ANY(%s)", (list(conversation_ids),)
        )
        return {row["id"]: row["last_seq"] for row in found}

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
        """Store a message with the next seq; a repeated ``(author_id, nonce)`` returns the first."""
        _check_append(now, conversation_id, message_id, author_id, body, nonce, reply_to)
        found = await self.db.call(
            _APPEND,
            (conversation_id, message_id, author_id, body, nonce, reply_to, now),
            lock_key=conversation_id,
        )
        outcome = found[0]["outcome"] if found else None
        if outcome == "created":
            return AppendResult(message_from_row(found[0], "o_"), created=True)
        if outcome == "existing":
            return AppendResult(message_from_row(found[0], "o_"), created=False)
        if outcome == "no_conversation":
            raise NotFound("no such conversation", code="conversation_not_found")
        if outcome == "id_taken":
            raise Conflict("a message with this id exists", code="message_exists")
        raise InternalError(f"the conversation's last_seq is behind its messages ({outcome})")

    async def append_many(self, items: Sequence[NewMessage]) -> list[AppendOutcome]:
        """Every append started in item order, so they share the writer's next commit.

        Each ``append`` enqueues its write before it first suspends
        (``ordered_appends``), and the writer runs its queue in order, so one
        conversation's items get their seqs in item order without waiting for
        each other's commit.
        """

        async def run() -> list[AppendOutcome]:
            started = [asyncio.ensure_future(settle(self._append_item(m))) for m in items]
            return list(await asyncio.gather(*started))

        return await fold(run(), len(items)) if items else []

    async def get_message(self, message_id: str) -> Message | None:
        """The message, or None."""
        row = await self.db.read_one(
            f"SELECT {_MESSAGE} FROM messages WHERE id = %s", (message_id,)
        )
        return message_from_row(row) if row is not None else None

    async def edit_message(self, message_id: str, body: str, now: int) -> Message:
        """Replace the body and set ``edited_at``; ``Conflict(message_deleted)`` if deleted."""

        async def fn(conn: Conn) -> Message:
            found = await rows(
                conn,
                "UPDATE messages SET body = %s, edited_at = %s WHERE id = %s AND NOT deleted"
                f" RETURNING {_MESSAGE}",
                (body, now, message_id),
            )
            return await _message_or_missing(conn, found, message_id)

        return await self.db.write(fn)

    async def delete_message(self, message_id: str, now: int) -> Message:
        """Mark deleted and drop the body; the seq stays. Deleting twice is a no-op."""

        async def fn(conn: Conn) -> Message:
            await conn.execute(
                "UPDATE messages SET deleted = TRUE, body = '', edited_at = %s"
                " WHERE id = %s AND NOT deleted",
                (now, message_id),
            )
            await conn.execute("DELETE FROM reactions WHERE message_id = %s", (message_id,))
            found = await rows(
                conn, f"SELECT {_MESSAGE} FROM messages WHERE id = %s", (message_id,)
            )
            if not found:
                raise NotFound("no such message", code="message_not_found")
            return message_from_row(found[0])

        return await self.db.write(fn)

    async def history(
        self,
        conversation_id: str,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = 50,
    ) -> list[Message]:
        """Messages by seq: newest first (``before`` or neither), oldest first with ``after``."""
        where = ["conversation_id = %s"]
        params: list[object] = [conversation_id]
        if after is not None:
            where.append("seq > %s")
            params.append(after)
        if before is not None:
            where.append("seq < %s")
            params.append(before)
        order = "ASC" if after is not None else "DESC"
        params.append(max(limit, 0))
        found = await self.db.read(
            f"SELECT {_MESSAGE} FROM messages WHERE {' AND '.join(where)}"
            f" ORDER BY seq {order} LIMIT %s",
            params,
        )
        return [message_from_row(row) for row in found]

    # -- pins ------------------------------------------------------------

    async def pin(self, pin: Pin, *, limit: int) -> PinResult:
        """Pin a live message of the conversation, at most ``limit`` per conversation.

        The conversation's row lock (the one appends take) serializes pinners
        across processes, so the count cannot be passed by two at once.
        """

        async def fn(conn: Conn) -> PinResult:
            await conn.execute(
                "SELECT 1 FROM conversations WHERE id = %s FOR UPDATE", (pin.conversation_id,)
            )
            found = await rows(
                conn,
                "SELECT 1 FROM messages WHERE id = %s AND conversation_id = %s AND NOT deleted",
                (pin.message_id, pin.conversation_id),
            )
            if not found:
                raise NotFound("no such message", code="message_not_found")
            stored = await rows(
                conn, f"SELECT {_PIN} FROM pins WHERE message_id = %s", (pin.message_id,)
            )
            if stored:
                return PinResult(_pin(stored[0]), False)
            counted = await rows(
                conn,
                "SELECT count(*) AS n FROM pins WHERE conversation_id = %s",
                (pin.conversation_id,),
            )
            if counted[0]["n"] >= limit:
                raise Conflict(f"at most {limit} pins per conversation", code="too_many_pins")
            await conn.execute(
                f"INSERT INTO pins ({_PIN}) VALUES (%s, %s, %s, %s)",
                (pin.message_id, pin.conversation_id, pin.pinned_by, pin.pinned_at),
            )
            return PinResult(pin, True)

        return await self.db.write(fn)

    async def unpin(self, message_id: str) -> Pin | None:
        """Remove a message's pin; the removed pin or None."""

        async def fn(conn: Conn) -> Pin | None:
            found = await rows(
                conn, f"DELETE FROM pins WHERE message_id = %s RETURNING {_PIN}", (message_id,)
            )
            return _pin(found[0]) if found else None

        return await self.db.write(fn)

    async def list_pins(self, conversation_id: str) -> list[PinnedMessage]:
        """Pinned live messages, newest pin first."""
        columns = ", ".join(f"m.{c.strip()}" for c in _MESSAGE.split(","))
        found = await self.db.read(
            f"SELECT {columns}, p.pinned_by, p.pinned_at FROM pins p"
            " JOIN messages m ON m.id = p.message_id"
            " WHERE p.conversation_id = %s AND NOT m.deleted"
            " ORDER BY p.pinned_at DESC, m.seq DESC",
            (conversation_id,),
        )
        return [
            PinnedMessage(
                message_from_row(row),
                Pin(row["conversation_id"], row["id"], row["pinned_by"], row["pinned_at"]),
            )
            for row in found
        ]

    async def count_messages(self) -> int:
        """How many messages are stored (deleted ones included)."""
        row = await self.db.read_one("SELECT count(*) AS n FROM messages")
        return int(row["n"]) if row is not None else 0

    async def count_messages_by_day(self, since: int, until: int) -> dict[int, int]:
        """Messages per UTC day (``created_at / 86400000``, integer division) in the range."""
        found = await self.db.read(
            "SELECT created_at / 86400000 AS day, count(*) AS n FROM messages"
            " WHERE created_at >= %s AND created_at < %s GROUP BY day",
            [since, until],
        )
        return {int(row["day"]): int(row["n"]) for row in found}

    # -- read markers ----------------------------------------------------

    async def set_read_marker(self, user_id: str, conversation_id: str, seq: int) -> int:
        """Move the marker forward only; return the marker now stored."""

        async def fn(conn: Conn) -> int:
            found = await rows(
                conn,
                "INSERT INTO read_markers AS r (user_id, conversation_id, seq)"
                " VALUES (%s, %s, %s) ON CONFLICT (user_id, conversation_id) DO UPDATE"
                " SET seq = greatest(r.seq, excluded.seq) RETURNING seq",
                (user_id, conversation_id, seq),
            )
            stored: int = found[0]["seq"]
            return stored

        return await self.db.write(fn)

    async def read_markers(self, user_id: str, conversation_ids: Sequence[str]) -> dict[str, int]:
        """The user's markers for those conversations (missing = 0)."""
        markers = dict.fromkeys(conversation_ids, 0)
        if not markers:
            return markers
        found = await self.db.read(
            "SELECT conversation_id, seq FROM read_markers WHERE user_id = %s"
            " AND conversation_id = ANY(%s)",
            (user_id, list(markers)),
        )
        markers.update({row["conversation_id"]: row["seq"] for row in found})
        return markers

    async def unread_counts(self, user_id: str, conversation_ids: Sequence[str]) -> dict[str, int]:
        """Per conversation: messages after the user's marker, not by the user, not deleted."""
        if not conversation_ids:
            return {}
        # The correlated count lets the (conversation_id, seq) index seek to the marker.
        found = await self.db.read(
            "SELECT ids.id,"
            " (SELECT count(*) FROM messages m WHERE m.conversation_id = ids.id"
            "  AND m.seq > coalesce(r.seq, 0) AND m.author_id <> %s AND NOT m.deleted) AS n"
            ' FROM (SELECT DISTINCT unnest(%s::text[]) COLLATE "C" AS id) ids'
            " LEFT JOIN read_markers r ON r.user_id = %s AND r.conversation_id = ids.id",
            (user_id, list(conversation_ids), user_id),
        )
        return {row["id"]: int(row["n"]) for row in found}

    # -- blocks ----------------------------------------------------------

    async def block(self, user_id: str, blocked_id: str, now: int) -> None:
        """``user_id`` blocks ``blocked_id`` (idempotent)."""

        async def fn(conn: Conn) -> None:
            await conn.execute(
                "INSERT INTO blocks (user_id, blocked_id, created_at) VALUES (%s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                (user_id, blocked_id, now),
            )

        await self.db.write(fn)

    async def unblock(self, user_id: str, blocked_id: str) -> None:
        """Lift a block (idempotent)."""

        async def fn(conn: Conn) -> None:
            await conn.execute(
                "DELETE FROM blocks WHERE user_id = %s AND blocked_id = %s", (user_id, blocked_id)
            )

        await self.db.write(fn)

    async def is_blocked(self, user_a: str, user_b: str) -> bool:
        """Whether either user blocks the other."""
        row = await self.db.read_one(
            "SELECT 1 FROM blocks WHERE (user_id = %s AND blocked_id = %s)"
            " OR (user_id = %s AND blocked_id = %s) LIMIT 1",
            (user_a, user_b, user_b, user_a),
        )
        return row is not None
