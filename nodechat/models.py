"""Domain records shared by every layer. Plain frozen dataclasses, no I/O.

Times are integer milliseconds since the Unix epoch (``*_at`` fields).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

_B32 = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
# ``@name`` where name is a possible username (3-32 of a-z 0-9 _ . -), not inside a
# word or an e-mail address; a trailing dot is punctuation, not part of the name.
_MENTION_RE = re.compile(r"(?<![\w@.])@([A-Za-z0-9_.-]{3,32})")


def mentions(body: str) -> list[str]:
    """The usernames a message body mentions (``@ann``), lower case, sorted, once each."""
    if "@" not in body:
        return []
    names = {m.rstrip(".").lower() for m in _MENTION_RE.findall(body)}
    return sorted(n for n in names if len(n) >= 3)


def now_ms() -> int:
    """Current wall-clock time in integer milliseconds."""
    return time.time_ns() // 1_000_000


def new_id(prefix: str) -> str:
    """A new time-ordered id: ``prefix_`` + 48-bit ms time + 60 random bits, base32."""
    n = (now_ms() << 60) | int.from_bytes(os.urandom(8), "big") >> 4
    chars = []
    for _ in range(22):
        chars.append(_B32[n & 31])
        n >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"


class Role(StrEnum):
    """A member's role in a group; owner > admin > member."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"

    @property
    def rank(self) -> int:
        """Higher outranks lower."""
        return {"owner": 3, "admin": 2, "member": 1}[self.value]


class ChannelKind(StrEnum):
    """What a channel carries."""

    TEXT = "text"
    VOICE = "voice"


class ConversationKind(StrEnum):
    """The kinds of conversation a message can belong to."""

    CHANNEL = "channel"
    DIRECT = "direct"
    SELF = "self"
    THREAD = "thread"  # the replies under one message of another conversation


def direct_conversation_id(user_a: str, user_b: str) -> str:
    """The id of the direct conversation between two users (order-free)."""
    a, b = sorted((user_a, user_b))
    return f"dm:{a}:{b}"


def self_conversation_id(user_id: str) -> str:
    """The id of a user's notes-to-self conversation."""
    return f"self:{user_id}"


THREAD_PREFIX = "thread:"


def thread_conversation_id(root_message_id: str) -> str:
    """The id of the thread under a message (its root)."""
    return f"{THREAD_PREFIX}{root_message_id}"


def thread_root_id(conversation_id: str) -> str | None:
    """The root message id of a thread conversation id, or None for any other id."""
    if conversation_id.startswith(THREAD_PREFIX) and len(conversation_id) > len(THREAD_PREFIX):
        return conversation_id[len(THREAD_PREFIX) :]
    return None


@dataclass(frozen=True, slots=True)
class User:
    """An account as others may see it (no secrets)."""

    id: str
    username: str
    email: str
    display_name: str
    about: str
    created_at: int
    disabled: bool = False
    is_admin: bool = False

    def public(self) -> dict[str, Any]:
        """What any other user may learn (no email)."""
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "about": self.about,
        }

    def private(self) -> dict[str, Any]:
        """What the user themself sees."""
        return {
            **self.public(),
            "email": self.email,
            "created_at": self.created_at,
            "is_admin": self.is_admin,
        }


@dataclass(frozen=True, slots=True)
class AuthSession:
    """A login: one refresh-token family, one or more devices' access tokens."""

    id: str
    user_id: str
    created_at: int
    expires_at: int
    revoked_at: int | None = None
    user_agent: str = ""
    address: str = ""

    def active(self, at: int) -> bool:
        """Whether the session may still be used at time ``at``."""
        return self.revoked_at is None and at < self.expires_at


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is calling: a verified user and the session the token belongs to."""

    user_id: str
    session_id: str


@dataclass(frozen=True, slots=True)
class TokenPair:
    """What login, register and refresh hand back."""

    access_token: str
    refresh_token: str
    access_expires_at: int
    session_id: str
    user: User

    def to_dict(self) -> dict[str, Any]:
        """Wire form."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "access_expires_at": self.access_expires_at,
            "session_id": self.session_id,
            "user": self.user.private(),
        }


@dataclass(frozen=True, slots=True)
class Group:
    """A community with channels and members."""

    id: str
    name: str
    description: str
    owner_id: str
    created_at: int

    def to_dict(self) -> dict[str, Any]:
        """Wire form."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "owner_id": self.owner_id,
            "created_at": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class Channel:
    """A text or voice channel of a group; its id is also its conversation id."""

    id: str
    group_id: str
    name: str
    kind: ChannelKind
    position: int
    topic: str = ""
    created_at: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Wire form."""
        return {
            "id": self.id,
            "group_id": self.group_id,
            "name": self.name,
            "kind": self.kind.value,
            "position": self.position,
            "topic": self.topic,
        }


@dataclass(frozen=True, slots=True)
class Member:
    """A user's membership of a group."""

    group_id: str
    user_id: str
    role: Role
    joined_at: int

    def to_dict(self) -> dict[str, Any]:
        """Wire form."""
        return {
            "group_id": self.group_id,
            "user_id": self.user_id,
            "role": self.role.value,
            "joined_at": self.joined_at,
        }


@dataclass(frozen=True, slots=True)
class Invite:
    """An invite code to join a group."""

    code: str
    group_id: str
    created_by: str
    created_at: int
    expires_at: int | None
    max_uses: int | None
    uses: int = 0
    revoked: bool = False

    def usable(self, at: int) -> bool:
        """Whether the code can still be used at time ``at``."""
        if self.revoked:
            return False
        if self.expires_at is not None and at >= self.expires_at:
            return False
        return self.max_uses is None or self.uses < self.max_uses

    def to_dict(self) -> dict[str, Any]:
        """Wire form."""
        return {
            "code": self.code,
            "group_id": self.group_id,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "max_uses": self.max_uses,
            "uses": self.uses,
            "revoked": self.revoked,
        }


@dataclass(frozen=True, slots=True)
class Conversation:
    """Where messages live: a channel, a direct pair, or a user's notes."""

    id: str
    kind: ConversationKind
    group_id: str | None = None
    participants: tuple[str, ...] = ()
    last_seq: int = 0
    parent_id: str | None = None  # a thread's: the conversation of its root message


@dataclass(frozen=True, slots=True)
class ThreadSummary:
    """A thread as its root message shows it: how many replies, the last one's time."""

    conversation: str
    count: int
    last_at: int | None
    unread: int | None = None  # as one viewer sees it (history); None in events

    def to_dict(self) -> dict[str, Any]:
        """Wire form."""
        out: dict[str, Any] = {
            "conversation": self.conversation,
            "count": self.count,
            "last_at": self.last_at,
        }
        if self.unread is not None:
            out["unread"] = self.unread
        return out


@dataclass(frozen=True, slots=True)
class Reaction:
    """One emoji on a message: how many reacted with it, and whether the viewer did."""

    emoji: str
    count: int
    me: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Wire form."""
        return {"emoji": self.emoji, "count": self.count, "me": self.me}


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file as a message shows it: enough to list it and to fetch it by id."""

    id: str
    name: str
    size: int
    type: str

    def to_dict(self) -> dict[str, Any]:
        """Wire form."""
        return {"id": self.id, "name": self.name, "size": self.size, "type": self.type}


@dataclass(frozen=True, slots=True)
class FileRecord:
    """An uploaded file's metadata (its bytes are in the blob store under ``id``).

    ``message_id``/``conversation_id`` are None until a message attaches it;
    ``released`` marks the files of a deleted message, due for collection."""

    id: str
    owner_id: str
    name: str
    size: int
    sha256: str
    content_type: str
    created_at: int
    message_id: str | None = None
    conversation_id: str | None = None
    released: bool = False

    @property
    def attachable(self) -> bool:
        """Whether a message may still attach it (never attached, never released)."""
        return self.message_id is None and self.conversation_id is None and not self.released

    def attachment(self) -> Attachment:
        """The file as a message lists it."""
        return Attachment(self.id, self.name, self.size, self.content_type)

    def to_dict(self) -> dict[str, Any]:
        """Wire form (the upload's reply and the file list)."""
        return {
            "id": self.id,
            "name": self.name,
            "size": self.size,
            "type": self.content_type,
            "sha256": self.sha256,
            "created_at": self.created_at,
            "message_id": self.message_id,
            "conversation": self.conversation_id,
        }


@dataclass(frozen=True, slots=True)
class Message:
    """One stored message. ``seq`` is gap-free within its conversation."""

    id: str
    conversation_id: str
    seq: int
    author_id: str
    body: str
    nonce: str
    created_at: int
    reply_to: str | None = None
    edited_at: int | None = None
    deleted: bool = False
    # as one viewer sees them (history); empty where no viewer applies (events)
    reactions: tuple[Reaction, ...] = ()
    thread: ThreadSummary | None = None  # the thread under it, if it has one (history)
    attachments: tuple[Attachment, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Wire form; a deleted message carries no body (and no reactions), but keeps
        its thread: the replies stay readable."""
        out: dict[str, Any] = {
            "id": self.id,
            "conversation": self.conversation_id,
            "seq": self.seq,
            "author_id": self.author_id,
            "body": "" if self.deleted else self.body,
            "nonce": self.nonce,
            "created_at": self.created_at,
            "reply_to": self.reply_to,
            "edited_at": self.edited_at,
            "deleted": self.deleted,
            "mentions": [] if self.deleted else mentions(self.body),
            "reactions": [] if self.deleted else [r.to_dict() for r in self.reactions],
            "attachments": [] if self.deleted else [a.to_dict() for a in self.attachments],
        }
        if self.thread is not None:
            out["thread"] = self.thread.to_dict()
        return out


@dataclass(frozen=True, slots=True)
class ConversationState:
    """A user's view of one conversation: where it is and what they have read."""

    conversation: Conversation
    last_read_seq: int
    unread: int
    peer_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Pin:
    """A message pinned in its conversation: by whom and when."""

    conversation_id: str
    message_id: str
    pinned_by: str
    pinned_at: int


@dataclass(frozen=True, slots=True)
class PinnedMessage:
    """One entry of a conversation's pin list: the message and its pin."""

    message: Message
    pin: Pin

    def to_dict(self) -> dict[str, Any]:
        """Wire form: the message object with who pinned it and when."""
        return {
            "message": self.message.to_dict(),
            "pinned_by": self.pin.pinned_by,
            "pinned_at": self.pin.pinned_at,
        }
