"""The backend-neutral row format every store exports and imports (``admin migrate``).

Each table is a list of plain dict rows with exactly the columns below, in
keyset order of its key columns. Booleans are ``bool``, times are integer
milliseconds, absent values are ``None``. A backend maps these to its own
layout (SQLite and PostgreSQL tables, MongoDB collections).
"""

from __future__ import annotations

from dataclasses import dataclass

from nodechat.errors import InvalidRequest
from nodechat.models import Conversation, ConversationKind

SELF_PREFIX = "self:"


@dataclass(frozen=True, slots=True)
class TableSpec:
    """One portable table: its columns, the columns of its key, and its boolean columns."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    booleans: tuple[str, ...] = ()


# In dependency order: importing in this order never references a missing row.
TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "users",
        (
            "id",
            "username",
            "email",
            "display_name",
            "about",
            "password_hash",
            "created_at",
            "disabled",
            "is_admin",
        ),
        ("id",),
        ("disabled", "is_admin"),
    ),
    TableSpec(
        "sessions",
        ("id", "user_id", "created_at", "expires_at", "revoked_at", "user_agent", "address"),
        ("id",),
    ),
    TableSpec("refresh_tokens", ("hash", "session_id", "expires_at", "used_at"), ("hash",)),
    TableSpec("groups", ("id", "name", "description", "owner_id", "created_at"), ("id",)),
    TableSpec(
        "channels", ("id", "group_id", "name", "kind", "position", "topic", "created_at"), ("id",)
    ),
    TableSpec("members", ("group_id", "user_id", "role", "joined_at"), ("group_id", "user_id")),
    TableSpec("bans", ("group_id", "user_id", "banned_by", "created_at"), ("group_id", "user_id")),
    TableSpec(
        "invites",
        (
            "code",
            "group_id",
            "created_by",
            "created_at",
            "expires_at",
            "max_uses",
            "uses",
            "revoked",
        ),
        ("code",),
        ("revoked",),
    ),
    # a thread's parent sorts before it ("thread:" after "ch_", "dm:" and "self:")
    TableSpec(
        "conversations",
        ("id", "kind", "group_id", "user_a", "user_b", "last_seq", "parent_id"),
        ("id",),
    ),
    TableSpec(
        "messages",
        (
            "id",
            "conversation_id",
            "seq",
            "author_id",
            "body",
            "nonce",
            "reply_to",
            "created_at",
            "edited_at",
            "deleted",
        ),
        ("id",),
        ("deleted",),
    ),
    TableSpec("pins", ("message_id", "conversation_id", "pinned_by", "pinned_at"), ("message_id",)),
    TableSpec(
        "files",
        (
            "id",
            "owner_id",
            "name",
            "size",
            "sha256",
            "content_type",
            "created_at",
            "message_id",
            "conversation_id",
            "released",
        ),
        ("id",),
        ("released",),
    ),
    TableSpec(
        "reactions",
        ("message_id", "emoji", "user_id", "created_at"),
        ("message_id", "emoji", "user_id"),
    ),
    TableSpec(
        "read_markers", ("user_id", "conversation_id", "seq"), ("user_id", "conversation_id")
    ),
    TableSpec("blocks", ("user_id", "blocked_id", "created_at"), ("user_id", "blocked_id")),
)

TABLE_BY_NAME = {t.name: t for t in TABLES}


def participant_fields(conversation: Conversation) -> tuple[str | None, str | None]:
    """``(user_a, user_b)`` as every backend stores them: a direct pair sorted, a self
    conversation's owner, nothing for a channel."""
    kind, people = conversation.kind, conversation.participants
    if kind is ConversationKind.DIRECT:
        if len(people) != 2:
            raise InvalidRequest("a direct conversation has two participants")
        a, b = sorted(people)
        return a, b
    if kind is ConversationKind.SELF:
        if people:
            return people[0], None
        if conversation.id.startswith(SELF_PREFIX):
            return conversation.id[len(SELF_PREFIX) :], None
        raise InvalidRequest("a self conversation needs its owner")
    return None, None
