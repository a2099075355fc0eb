"""SQLite messages: conversations, messages, read markers and blocks."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from nodechat.errors import ChatError, Conflict, NotFound, fold
from nodechat.models import Conversation, ConversationKind, Message, Pin, PinnedMessage
from nodechat.storage.base import (
    AppendOutcome,
    AppendResult,
    MessageStore,
    NewMessage,
    PinResult,
)
from nodechat.storage.portable import participant_fields
from nodechat.storage.sqlite.engine import Database

_CONVERSATION = "id, kind, group_id, user_a, user_b, last_seq, parent_id"
_MESSAGE = (
    "id, conversation_id, seq, author_id, body, nonce, reply_to, created_at, edited_at, deleted"
)


def _conversation(row: sqlite3.Row) -> Conversation:
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


def message_from_row(row: sqlite3.Row) -> Message:
    """A stored message read back (a row, or a document on MongoDB)."""
    return Message(
        id=row["id"],
        conversation_id=row["conversation_id"],
        seq=row["seq"],
        author_id=row["author_id"],
        body=row["body"],
        nonce=row["nonce"],
        created_at=row["created_at"],
        reply_to=row["reply_to"],
        edited_at=row["edited_at"],
        deleted=bool(row["deleted"]),
    )


_PIN = "message_id, conversation_id, pinned_by, pinned_at"


def _pin(row: sqlite3.Row) -> Pin:
    return Pin(row["conversation_id"], row["message_id"], row["pinned_by"], row["pinned_at"])


def _json_list(values: Sequence[str]) -> str:
    """A JSON array of strings, for ``json_each(?)``: one parameter however many ids."""
    return json.dumps(list(values))


def _message_or_missing(
    conn: sqlite3.Connection, rows: list[sqlite3.Row], message_id: str
) -> Message:
    """The message of an ``UPDATE ... RETURNING``; NotFound or Conflict(message_deleted) if none."""
    if rows:
        return message_from_row(rows[0])
    if conn.execute("SELECT 1 FROM messages WHERE id = ?", (message_id,)).fetchall():
        raise Conflict("this message was deleted", code="message_deleted")
    raise NotFound("no such message", code="message_not_found")


class SqliteMessageStore(MessageStore):
    """Messages on a shared :class:`Database`."""

    ordered_appends = True  # the writer queue is filled before append first suspends

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- conversations ---------------------------------------------------

    async def ensure_conversation(self, conversation: Conversation) -> Conversation:
        """Create the conversation if missing; return the stored one."""
        user_a, user_b = participant_fields(conversation)

        def fn(conn: sqlite3.Connection) -> Conversation:
            try:
                conn.execute(
                    "INSERT OR IGNORE INTO conversations"
                    " (id, kind, group_id, user_a, user_b, parent_id) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        conversation.id,
                        conversation.kind.value,
                        conversation.group_id,
                        user_a,
                        user_b,
                        conversation.parent_id,
                    ),
                )
            except sqlite3.IntegrityError as exc:  # a channel conversation of no group
                if conversation.parent_id is not None:  # a thread of a conversation gone
                    raise NotFound("no such conversation", code="conversation_not_found") from exc
                raise NotFound("no such group", code="group_not_found") from exc
            rows = conn.execute(
                f"SELECT {_CONVERSATION} FROM conversations WHERE id = ?", (conversation.id,)
            ).fetchall()
            return _conversation(rows[0])

        return await self.db.write(fn)

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        """The conversation with its ``last_seq``, or None."""
        row = self.db.read_one(
            f"SELECT {_CONVERSATION} FROM conversations WHERE id = ?", (conversation_id,)
        )
        return _conversation(row) if row is not None else None

    async def list_direct(self, user_id: str) -> list[Conversation]:
        """The direct conversations a user takes part in."""
        rows = self.db.read(
            f"SELECT {_CONVERSATION} FROM conversations WHERE kind = ?"
            " AND (user_a = ? OR user_b = ?) ORDER BY id",
            (ConversationKind.DIRECT.value, user_id, user_id),
        )
        return [_conversation(row) for row in rows]

    async def last_seqs(self, conversation_ids: Sequence[str]) -> dict[str, int]:
        """``last_seq`` of each existing conversation among the ids."""
        if not conversation_ids:
            return {}
        rows = self.db.read(
            "SELECT id, last_seq FROM conversations WHERE id IN (SELECT value FROM json_each(?))",
            (_json_list(conversation_ids),),
        )
        return {row[0]: row[1] for row in rows}

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
        new = NewMessage(conversation_id, message_id, author_id, body, nonce, reply_to, now)
        return await self.db.write(lambda conn: _append(conn, new))

    async def append_many(self, items: Sequence[NewMessage]) -> list[AppendOutcome]:
        """The whole batch in one writer job: one future, items in order, each in a savepoint."""

        def fn(conn: sqlite3.Connection) -> list[AppendOutcome]:
            outcomes: list[AppendOutcome] = []
            for item in items:
                conn.execute("SAVEPOINT item")
                try:
                    outcomes.append(_append(conn, item))
                except ChatError as exc:  # synchronous, in the writer thread: no await here
                    conn.execute("ROLLBACK TO item")
                    outcomes.append(exc)
                conn.execute("RELEASE item")
            return outcomes

        return await fold(self.db.write(fn), len(items)) if items else []

    async def get_message(self, message_id: str) -> Message | None:
        """The message, or None."""
        row = self.db.read_one(f"SELECT {_MESSAGE} FROM messages WHERE id = ?", (message_id,))
        return message_from_row(row) if row is not None else None

    async def edit_message(self, message_id: str, body: str, now: int) -> Message:
        """Replace the body and set ``edited_at``; ``Conflict(message_deleted)`` if deleted."""

        def fn(conn: sqlite3.Connection) -> Message:
            rows = conn.execute(
                "UPDATE messages SET body = ?, edited_at = ? WHERE id = ? AND deleted = 0"
                f" RETURNING {_MESSAGE}",
                (body, now, message_id),
            ).fetchall()
            return _message_or_missing(conn, rows, message_id)

        return await self.db.write(fn)

    async def delete_message(self, message_id: str, now: int) -> Message:
        """Mark deleted and drop the body; the seq stays. Deleting twice is a no-op."""

        def fn(conn: sqlite3.Connection) -> Message:
            conn.execute(
                "UPDATE messages SET deleted = 1, body = '', edited_at = ?"
                " WHERE id = ? AND deleted = 0",
                (now, message_id),
            )
            conn.execute("DELETE FROM reactions WHERE message_id = ?", (message_id,))
            rows = conn.execute(
                f"SELECT {_MESSAGE} FROM messages WHERE id = ?", (message_id,)
            ).fetchall()
            if not rows:
                raise NotFound("no such message", code="message_not_found")
            return message_from_row(rows[0])

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
        where = ["conversation_id = ?"]
        params: list[object] = [conversation_id]
        if after is not None:
            where.append("seq > ?")
            params.append(after)
        if before is not None:
            where.append("seq < ?")
            params.append(before)
        order = "ASC" if after is not None else "DESC"
        params.append(max(limit, 0))
        rows = self.db.read(
            f"SELECT {_MESSAGE} FROM messages WHERE {' AND '.join(where)}"
            f" ORDER BY seq {order} LIMIT ?",
            params,
        )
        return [message_from_row(row) for row in rows]

    # -- pins ------------------------------------------------------------

    async def pin(self, pin: Pin, *, limit: int) -> PinResult:
        """Pin a live message of the conversation, at most ``limit`` per conversation."""

        def fn(conn: sqlite3.Connection) -> PinResult:
            found = conn.execute(
                "SELECT 1 FROM messages WHERE id = ? AND conversation_id = ? AND deleted = 0",
                (pin.message_id, pin.conversation_id),
            ).fetchall()
            if not found:
                raise NotFound("no such message", code="message_not_found")
            stored = conn.execute(
                f"SELECT {_PIN} FROM pins WHERE message_id = ?", (pin.message_id,)
            ).fetchall()
            if stored:
                return PinResult(_pin(stored[0]), False)
            (count,) = conn.execute(
                "SELECT count(*) FROM pins WHERE conversation_id = ?", (pin.conversation_id,)
            ).fetchone()
            if count >= limit:
                raise Conflict(f"at most {limit} pins per conversation", code="too_many_pins")
            conn.execute(
                f"INSERT INTO pins ({_PIN}) VALUES (?, ?, ?, ?)",
                (pin.message_id, pin.conversation_id, pin.pinned_by, pin.pinned_at),
            )
            return PinResult(pin, True)

        return await self.db.write(fn)

    async def unpin(self, message_id: str) -> Pin | None:
        """Remove a message's pin; the removed pin or None."""

        def fn(conn: sqlite3.Connection) -> Pin | None:
            rows = conn.execute(
                f"DELETE FROM pins WHERE message_id = ? RETURNING {_PIN}", (message_id,)
            ).fetchall()
            return _pin(rows[0]) if rows else None

        return await self.db.write(fn)

    async def list_pins(self, conversation_id: str) -> list[PinnedMessage]:
        """Pinned live messages, newest pin first."""
        columns = ", ".join(f"m.{c.strip()}" for c in _MESSAGE.split(","))
        rows = self.db.read(
            f"SELECT {columns}, p.pinned_by, p.pinned_at FROM pins p"
            " JOIN messages m ON m.id = p.message_id"
            " WHERE p.conversation_id = ? AND m.deleted = 0"
            " ORDER BY p.pinned_at DESC, m.seq DESC",
            (conversation_id,),
        )
        return [
            PinnedMessage(
                message_from_row(row),
                Pin(row["conversation_id"], row["id"], row["pinned_by"], row["pinned_at"]),
            )
            for row in rows
        ]

    async def count_messages(self) -> int:
        """How many messages are stored (deleted ones included)."""
        row = self.db.read_one("SELECT count(*) FROM messages")
        return int(row[0]) if row is not None else 0

    async def count_messages_by_day(self, since: int, until: int) -> dict[int, int]:
        """Messages per UTC day (``created_at // 86400000``) in ``[since, until)``."""
        rows = self.db.read(
            "SELECT created_at / 86400000 AS day, count(*) AS n FROM messages"
            " WHERE created_at >= ? AND created_at < ? GROUP BY day",
            (since, until),
        )
        return {int(row["day"]): int(row["n"]) for row in rows}

    # -- read markers ----------------------------------------------------

    async def set_read_marker(self, user_id: str, conversation_id: str, seq: int) -> int:
        """Move the marker forward only; return the marker now stored."""

        def fn(conn: sqlite3.Connection) -> int:
            rows = conn.execute(
                "INSERT INTO read_markers (user_id, conversation_id, seq) VALUES (?, ?, ?)"
                " ON CONFLICT (user_id, conversation_id) DO UPDATE"
                " SET seq = max(seq, excluded.seq) RETURNING seq",
                (user_id, conversation_id, seq),
            ).fetchall()
            stored: int = rows[0][0]
            return stored

        return await self.db.write(fn)

    async def read_markers(self, user_id: str, conversation_ids: Sequence[str]) -> dict[str, int]:
        """The user's markers for those conversations (missing = 0)."""
        markers = dict.fromkeys(conversation_ids, 0)
        if not markers:
            return markers
        rows = self.db.read(
            "SELECT conversation_id, seq FROM read_markers WHERE user_id = ?"
            " AND conversation_id IN (SELECT value FROM json_each(?))",
            (user_id, _json_list(conversation_ids)),
        )
        markers.update({row[0]: row[1] for row in rows})
        return markers

    async def unread_counts(self, user_id: str, conversation_ids: Sequence[str]) -> dict[str, int]:
        """Per conversation: messages after the user's marker, not by the user, not deleted."""
        if not conversation_ids:
            return {}
        # The correlated count lets the (conversation_id, seq) index seek to the marker.
        rows = self.db.read(
            "SELECT ids.value,"
            " (SELECT count(*) FROM messages m WHERE m.conversation_id = ids.value"
            "  AND m.seq > coalesce(r.seq, 0) AND m.author_id != ? AND m.deleted = 0)"
            " FROM (SELECT DISTINCT value FROM json_each(?)) ids"
            " LEFT JOIN read_markers r ON r.user_id = ? AND r.conversation_id = ids.value",
            (user_id, _json_list(conversation_ids), user_id),
        )
        return {row[0]: row[1] for row in rows}

    # -- blocks ----------------------------------------------------------

    async def block(self, user_id: str, blocked_id: str, now: int) -> None:
        """``user_id`` blocks ``blocked_id`` (idempotent)."""

        def fn(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO blocks (user_id, blocked_id, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (user_id, blocked_id, now),
            )

        await self.db.write(fn)

    async def unblock(self, user_id: str, blocked_id: str) -> None:
        """Lift a block (idempotent)."""

        def fn(conn: sqlite3.Connection) -> None:
            conn.execute(
                "DELETE FROM blocks WHERE user_id = ? AND blocked_id = ?", (user_id, blocked_id)
            )

        await self.db.write(fn)

    async def is_blocked(self, user_a: str, user_b: str) -> bool:
        """Whether either user blocks the other."""
        row = self.db.read_one(
            "SELECT 1 FROM blocks WHERE (user_id = ? AND blocked_id = ?)"
            " OR (user_id = ? AND blocked_id = ?) LIMIT 1",
            (user_a, user_b, user_b, user_a),
        )
        return row is not None


def _append(conn: sqlite3.Connection, m: NewMessage) -> AppendResult:
    existing = conn.execute(
        f"SELECT {_MESSAGE} FROM messages WHERE author_id = ? AND nonce = ?",
        (m.author_id, m.nonce),
    ).fetchall()
    if existing:
        return AppendResult(message_from_row(existing[0]), created=False)
    bumped = conn.execute(
        "UPDATE conversations SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq",
        (m.conversation_id,),
    ).fetchall()
    if not bumped:
        raise NotFound("no such conversation", code="conversation_not_found")
    seq: int = bumped[0][0]
    try:
        conn.execute(
            f"INSERT INTO messages ({_MESSAGE}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, 0)",
            (m.message_id, m.conversation_id, seq, m.author_id, m.body, m.nonce, m.reply_to, m.now),
        )
    except sqlite3.IntegrityError as exc:
        raise Conflict("a message with this id exists", code="message_exists") from exc
    message = Message(
        id=m.message_id,
        conversation_id=m.conversation_id,
        seq=seq,
        author_id=m.author_id,
        body=m.body,
        nonce=m.nonce,
        created_at=m.now,
        reply_to=m.reply_to,
    )
    return AppendResult(message, created=True)
