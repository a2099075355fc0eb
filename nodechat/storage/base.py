"""The store interface every backend implements (sqlite now; mongodb, postgres later).

A store is five domain parts sharing one database: ``accounts``, ``groups``,
``messages``, ``reactions``, ``threads`` and ``search``. Every method is one atomic operation: it either happens
completely or not at all. Methods raise :mod:`nodechat.errors` types only
(``Conflict`` for a taken unique value, ``NotFound`` for a missing row);
backend exceptions never escape.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from nodechat.errors import ChatError, InternalError, fold, settle
from nodechat.models import (
    AuthSession,
    Channel,
    Conversation,
    Group,
    Invite,
    Member,
    Message,
    Pin,
    PinnedMessage,
    Reaction,
    Role,
    ThreadSummary,
    User,
)
from nodechat.storage.bulk import BulkStore
from nodechat.storage.files import FileStore


class RefreshOutcome(StrEnum):
    """What happened when a refresh token was presented."""

    ROTATED = "rotated"  # valid: marked used, the new hash stored
    REUSED = "reused"  # already used: the whole session was revoked
    INVALID = "invalid"  # unknown, expired, or its session is gone


@dataclass(frozen=True, slots=True)
class RefreshResult:
    """Outcome of :meth:`AccountStore.rotate_refresh`."""

    outcome: RefreshOutcome
    session: AuthSession | None = None


@dataclass(frozen=True, slots=True)
class AppendResult:
    """Outcome of :meth:`MessageStore.append`: the message and whether it is new."""

    message: Message
    created: bool


@dataclass(frozen=True, slots=True)
class PinResult:
    """Outcome of :meth:`MessageStore.pin`: the stored pin and whether it is new."""

    pin: Pin
    created: bool


AppendOutcome = AppendResult | ChatError
MemberKey = tuple[int, str]  # (joined_at, user_id): a member's place in a group's member order
"""One item's answer of :meth:`MessageStore.append_many`: its result or its error."""


@dataclass(frozen=True, slots=True)
class NewMessage:
    """One message for :meth:`MessageStore.append_many` (the arguments of ``append``)."""

    conversation_id: str
    message_id: str
    author_id: str
    body: str
    nonce: str
    reply_to: str | None
    now: int


class AccountStore(ABC):
    """Users, their password hashes, login sessions and refresh tokens."""

    @abstractmethod
    async def create_user(self, user: User, password_hash: str) -> None:
        """Insert a user; ``Conflict(code='username_taken'|'email_taken')`` if taken (case-insensitive)."""

    @abstractmethod
    async def get_user(self, user_id: str) -> User | None:
        """The user with this id, or None."""

    @abstractmethod
    async def get_users(self, user_ids: Sequence[str]) -> list[User]:
        """The users that exist among ``user_ids`` (any order)."""

    @abstractmethod
    async def find_user(self, login: str) -> tuple[User, str] | None:
        """The user whose username or email equals ``login`` case-insensitively, with its password hash."""

    @abstractmethod
    async def get_password_hash(self, user_id: str) -> str | None:
        """The stored password hash of a user."""

    @abstractmethod
    async def update_profile(
        self, user_id: str, *, display_name: str | None = None, about: str | None = None
    ) -> User:
        """Change profile fields that are not None; ``NotFound`` if no such user."""

    @abstractmethod
    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        """Replace the password hash."""

    @abstractmethod
    async def set_disabled(self, user_id: str, disabled: bool) -> User:
        """Disable or enable an account."""

    @abstractmethod
    async def set_admin(self, user_id: str, is_admin: bool) -> User:
        """Grant or revoke server admin."""

    @abstractmethod
    async def list_users(self, *, after: str | None = None, limit: int = 100) -> list[User]:
        """Users ordered by id, starting after ``after``."""

    @abstractmethod
    async def count_users(self) -> int:
        """How many accounts exist."""

    @abstractmethod
    async def create_session(
        self, session: AuthSession, refresh_hash: str, refresh_expires_at: int
    ) -> None:
        """Store a new session with its first refresh token (stored as a hash)."""

    @abstractmethod
    async def get_session(self, session_id: str) -> AuthSession | None:
        """The session with this id, or None."""

    @abstractmethod
    async def list_sessions(
        self, user_id: str, *, active_at: int | None = None
    ) -> list[AuthSession]:
        """A user's sessions; only those active at ``active_at`` when given."""

    @abstractmethod
    async def rotate_refresh(
        self, refresh_hash: str, new_hash: str, new_expires_at: int, now: int
    ) -> RefreshResult:
        """Atomically spend a refresh token and store its successor.

        A token already spent revokes its whole session (``REUSED``).
        """

    @abstractmethod
    async def revoke_session(self, session_id: str, now: int) -> bool:
        """Revoke one session; False if it was unknown or already revoked."""

    @abstractmethod
    async def revoke_user_sessions(
        self, user_id: str, now: int, *, keep: str | None = None
    ) -> list[str]:
        """Revoke every active session of a user except ``keep``; return the revoked ids."""


class GroupStore(ABC):
    """Groups, channels, members, bans and invites."""

    @abstractmethod
    async def create_group(self, group: Group, owner: Member, channels: Sequence[Channel]) -> None:
        """Insert a group with its owner membership and first channels."""

    @abstractmethod
    async def get_group(self, group_id: str) -> Group | None:
        """The group, or None."""

    @abstractmethod
    async def update_group(
        self, group_id: str, *, name: str | None = None, description: str | None = None
    ) -> Group:
        """Change the fields that are not None."""

    @abstractmethod
    async def delete_group(self, group_id: str) -> None:
        """Delete the group and everything in it (channels, members, invites, messages)."""

    @abstractmethod
    async def list_groups(self, user_id: str) -> list[Group]:
        """The groups a user is a member of, oldest membership first."""

    @abstractmethod
    async def list_all_groups(self, *, after: str | None = None, limit: int = 100) -> list[Group]:
        """Every group ordered by id (operator view)."""

    @abstractmethod
    async def get_member(self, group_id: str, user_id: str) -> Member | None:
        """The membership, or None."""

    @abstractmethod
    async def list_members(
        self, group_id: str, *, after: MemberKey | None = None, limit: int | None = None
    ) -> list[Member]:
        """Members of a group ordered by (join time, user id): all of them, or at most
        ``limit`` that come after the member whose key is ``after``."""

    @abstractmethod
    async def count_members(self, group_id: str) -> int:
        """How many members a group has."""

    @abstractmethod
    async def member_group_ids(self, user_id: str) -> list[str]:
        """Ids of the groups a user belongs to."""

    @abstractmethod
    async def add_member(self, member: Member) -> None:
        """Add a membership; ``Conflict`` if it exists."""

    @abstractmethod
    async def remove_member(self, group_id: str, user_id: str) -> bool:
        """Remove a membership; False if there was none."""

    @abstractmethod
    async def set_role(self, group_id: str, user_id: str, role: Role) -> Member:
        """Change a member's role; ``NotFound`` if not a member."""

    @abstractmethod
    async def transfer_owner(self, group_id: str, from_user: str, to_user: str) -> Group:
        """Make ``to_user`` owner and ``from_user`` admin, atomically."""

    @abstractmethod
    async def ban(self, group_id: str, user_id: str, by: str, now: int) -> None:
        """Ban a user (removing the membership if any)."""

    @abstractmethod
    async def unban(self, group_id: str, user_id: str) -> bool:
        """Lift a ban; False if there was none."""

    @abstractmethod
    async def is_banned(self, group_id: str, user_id: str) -> bool:
        """Whether the user is banned from the group."""

    @abstractmethod
    async def create_channel(self, channel: Channel) -> None:
        """Insert a channel (its position is taken as given)."""

    @abstractmethod
    async def get_channel(self, channel_id: str) -> Channel | None:
        """The channel, or None."""

    @abstractmethod
    async def list_channels(self, group_id: str) -> list[Channel]:
        """Channels of a group ordered by position."""

    @abstractmethod
    async def update_channel(
        self, channel_id: str, *, name: str | None = None, topic: str | None = None
    ) -> Channel:
        """Change the fields that are not None."""

    @abstractmethod
    async def delete_channel(self, channel_id: str) -> None:
        """Delete a channel and its messages."""

    @abstractmethod
    async def reorder_channels(self, group_id: str, channel_ids: Sequence[str]) -> list[Channel]:
        """Set positions 0..n-1 in the given order; ids must be exactly the group's channels."""

    @abstractmethod
    async def create_invite(self, invite: Invite) -> None:
        """Insert an invite."""

    @abstractmethod
    async def get_invite(self, code: str) -> Invite | None:
        """The invite, or None."""

    @abstractmethod
    async def list_invites(self, group_id: str) -> list[Invite]:
        """A group's invites, newest first."""

    @abstractmethod
    async def revoke_invite(self, code: str) -> Invite:
        """Mark an invite revoked."""

    @abstractmethod
    async def join_with_invite(self, code: str, user_id: str, now: int) -> Member:
        """Atomically check the invite (usable, user not banned), count a use, add the member.

        ``NotFound(code='invite_invalid')`` for an unknown/expired/used-up/revoked code,
        ``Forbidden(code='banned')`` for a banned user, ``Conflict(code='already_member')``.
        """


class MessageStore(ABC):
    """Conversations, messages, read markers and blocks."""

    #: True when appends are stored in the order their ``append`` calls were made,
    #: even if the callers never awaited in between (the call enqueues the write
    #: before it first suspends). A claim about ``append`` that the store's own
    #: ``append_many`` may build on (PostgreSQL does) and the store contract tests
    #: check; nothing outside the store branches on it.
    ordered_appends: bool = False

    @abstractmethod
    async def ensure_conversation(self, conversation: Conversation) -> Conversation:
        """Create the conversation if missing; return the stored one."""

    @abstractmethod
    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        """The conversation with its ``last_seq``, or None."""

    @abstractmethod
    async def list_direct(self, user_id: str) -> list[Conversation]:
        """The direct conversations a user takes part in."""

    @abstractmethod
    async def last_seqs(self, conversation_ids: Sequence[str]) -> dict[str, int]:
        """``last_seq`` of each existing conversation among the ids."""

    @abstractmethod
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
        """Store a message with the next seq of its conversation.

        Idempotent on ``(author_id, nonce)``: a repeat returns the stored
        message with ``created=False``. ``NotFound`` if the conversation does
        not exist. Durable when it returns.
        """

    async def append_many(self, items: Sequence[NewMessage]) -> list[AppendOutcome]:
        """Append several messages, each with its own result or error. Durable when it returns.

        The contract every backend keeps: the messages of one conversation get
        their seqs in item order (a client's pipelined sends keep their order);
        items of different conversations may be stored in any order; it never
        raises for the batch (a failure of the whole batch is every item's error).
        This default appends one conversation's items one after another, the
        conversations concurrently; a backend may share one commit instead.
        """
        lanes: dict[str, list[int]] = {}
        for i, m in enumerate(items):
            lanes.setdefault(m.conversation_id, []).append(i)
        outcomes: list[AppendOutcome] = [InternalError("append not run")] * len(items)

        async def lane(indexes: list[int]) -> None:
            for i in indexes:
                outcomes[i] = await settle(self._append_item(items[i]))

        async def run() -> list[AppendOutcome]:
            await asyncio.gather(*(lane(indexes) for indexes in lanes.values()))
            return outcomes

        return await fold(run(), len(items))

    async def _append_item(self, m: NewMessage) -> AppendResult:
        return await self.append(
            m.conversation_id,
            message_id=m.message_id,
            author_id=m.author_id,
            body=m.body,
            nonce=m.nonce,
            reply_to=m.reply_to,
            now=m.now,
        )

    @abstractmethod
    async def get_message(self, message_id: str) -> Message | None:
        """The message, or None."""

    @abstractmethod
    async def edit_message(self, message_id: str, body: str, now: int) -> Message:
        """Replace the body and set ``edited_at``."""

    @abstractmethod
    async def delete_message(self, message_id: str, now: int) -> Message:
        """Mark deleted and drop the body (the seq stays, so there is no gap)."""

    @abstractmethod
    async def history(
        self,
        conversation_id: str,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = 50,
    ) -> list[Message]:
        """Messages by seq: newest first (``before`` or neither), oldest first with ``after``."""

    @abstractmethod
    async def pin(self, pin: Pin, *, limit: int) -> PinResult:
        """Pin a message of ``pin.conversation_id``; pinning a pinned message returns the
        stored pin with ``created=False``. ``NotFound(code='message_not_found')`` if the
        message is missing, deleted or of another conversation;
        ``Conflict(code='too_many_pins')`` if the conversation has ``limit`` pins already."""

    @abstractmethod
    async def unpin(self, message_id: str) -> Pin | None:
        """Remove a message's pin; the removed pin, or None if it was not pinned."""

    @abstractmethod
    async def list_pins(self, conversation_id: str) -> list[PinnedMessage]:
        """The conversation's pinned messages that are not deleted, newest pin first."""

    @abstractmethod
    async def set_read_marker(self, user_id: str, conversation_id: str, seq: int) -> int:
        """Move the marker forward only; return the marker now stored."""

    @abstractmethod
    async def read_markers(self, user_id: str, conversation_ids: Sequence[str]) -> dict[str, int]:
        """The user's markers for those conversations (missing = 0)."""

    @abstractmethod
    async def unread_counts(self, user_id: str, conversation_ids: Sequence[str]) -> dict[str, int]:
        """Per conversation: messages after the user's marker, not by the user, not deleted."""

    @abstractmethod
    async def block(self, user_id: str, blocked_id: str, now: int) -> None:
        """``user_id`` blocks ``blocked_id`` (idempotent)."""

    @abstractmethod
    async def unblock(self, user_id: str, blocked_id: str) -> None:
        """Lift a block (idempotent)."""

    @abstractmethod
    async def is_blocked(self, user_a: str, user_b: str) -> bool:
        """Whether either user blocks the other."""

    @abstractmethod
    async def count_messages(self) -> int:
        """How many messages are stored."""

    @abstractmethod
    async def count_messages_by_day(self, since: int, until: int) -> dict[int, int]:
        """Messages stored (deleted ones included) with ``since <= created_at < until``,
        per UTC day: ``{created_at // 86_400_000: count}``; days without messages are absent."""


@dataclass(frozen=True, slots=True)
class ReactionChange:
    """Outcome of adding or removing a reaction: the emoji's count now, and whether
    the call changed anything (a repeat does not)."""

    count: int
    changed: bool


class ReactionStore(ABC):
    """Emoji reactions on messages: one row per ``(message_id, emoji, user_id)``.

    Deleting a message (``MessageStore.delete_message``) removes its reactions.
    """

    @abstractmethod
    async def add_reaction(
        self, message_id: str, emoji: str, user_id: str, now: int, *, max_distinct: int
    ) -> ReactionChange:
        """Add the user's reaction; a repeat changes nothing.

        ``NotFound(message_not_found)`` for no such message,
        ``Conflict(message_deleted)`` for a deleted one, and
        ``Conflict(too_many_reactions)`` if the emoji is new on the message and
        it already has ``max_distinct`` distinct emoji.
        """

    @abstractmethod
    async def remove_reaction(self, message_id: str, emoji: str, user_id: str) -> ReactionChange:
        """Remove the user's reaction; removing an absent one changes nothing."""

    @abstractmethod
    async def reactions(
        self, message_ids: Sequence[str], viewer_id: str
    ) -> dict[str, tuple[Reaction, ...]]:
        """Per message, its emoji in the order each was first used (ties by emoji), with
        the count and whether ``viewer_id`` reacted; messages without any are absent."""


class ThreadStore(ABC):
    """Thread summaries. A thread is a conversation of kind ``thread`` (its messages,
    seqs, markers and replays are the ``messages`` part's); this part reads what a root
    message shows of it.

    A thread's reply count is its ``last_seq`` and its last activity the
    ``created_at`` of its message at that seq: both are written by the append's own
    transaction, so a summary is never ahead of or behind the thread's messages.
    """

    @abstractmethod
    async def thread_ids(self, parent_ids: Sequence[str]) -> list[str]:
        """The ids of the threads under the given conversations (search reads them)."""

    @abstractmethod
    async def summaries(self, conversation_ids: Sequence[str]) -> dict[str, ThreadSummary]:
        """Per thread conversation among the ids that exists and has a reply: its summary
        (``unread`` None); the others are absent."""


def collect_reactions(
    rows: Iterable[tuple[str, str, int, bool]],
) -> dict[str, tuple[Reaction, ...]]:
    """``(message_id, emoji, count, viewer_reacted)`` rows, already in display order,
    grouped per message (what every backend's ``reactions`` returns)."""
    found: dict[str, list[Reaction]] = {}
    for message_id, emoji, count, me in rows:
        found.setdefault(message_id, []).append(Reaction(emoji, int(count), bool(me)))
    return {message_id: tuple(items) for message_id, items in found.items()}


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A full-text search within given conversations (the service decides which).

    ``terms`` are plain words (letters, digits, ``_``; the service splits the
    user's text), each matched as a whole word, case-insensitively; a message
    matches if it holds every term. ``before``/``after`` bound ``created_at``
    (exclusive, milliseconds).
    """

    terms: tuple[str, ...]
    conversation_ids: tuple[str, ...]
    author_id: str | None = None
    before: int | None = None
    after: int | None = None


SEARCH_WINDOW = 1000
"""Messages ranked at most per search: when more match, the newest this many do."""


class SearchStore(ABC):
    """Full-text search over message bodies with the backend's own engine.

    The index follows every append, edit and delete; deleted messages never match.
    Ranking every match of a common word costs time in proportion to them (a
    second for 500k), so only the newest SEARCH_WINDOW matches (after the
    filters) are ranked: a chat search wants the recent ones, and paging ends
    there anyway (services/search.py: MAX_RESULTS).
    """

    window: int = SEARCH_WINDOW  # an instance may set its own (tests do)

    @abstractmethod
    async def search(self, query: SearchQuery, *, offset: int, limit: int) -> list[Message]:
        """Up to ``limit`` matching messages after skipping ``offset``: of the newest
        SEARCH_WINDOW matches, best match first (bm25 / ts_rank / textScore), ties
        newest first, then by id descending."""


class Store(ABC):
    """A connected backend: the domain parts, bulk writes, and the lifecycle."""

    accounts: AccountStore
    groups: GroupStore
    messages: MessageStore
    reactions: ReactionStore
    threads: ThreadStore
    search: SearchStore
    files: FileStore  # uploaded files' metadata (nodechat.storage.files)
    bulk: BulkStore  # admin-side provisioning only (nodechat.storage.bulk)

    @abstractmethod
    async def export_rows(
        self, table: str, *, after: tuple[Any, ...] | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Up to ``limit`` rows of a portable table (nodechat.storage.portable) in key order,
        starting after the key tuple ``after``."""

    @abstractmethod
    async def import_rows(self, table: str, rows: Sequence[dict[str, Any]]) -> int:
        """Insert portable rows, skipping rows whose key already exists (so an interrupted
        import can simply run again); return how many were new. One transaction."""

    @abstractmethod
    async def count_rows(self, table: str) -> int:
        """How many rows a portable table holds."""

    @abstractmethod
    async def close(self) -> None:
        """Finish pending writes and release the backend."""

    @abstractmethod
    def describe(self) -> str:
        """Where the data lives, for humans (no credentials)."""
