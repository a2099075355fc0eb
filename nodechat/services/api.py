"""One interface per role. Local implementations sit over a store and a bus;
remote ones (gRPC clients) come with the split roles. Transports depend on
these interfaces only, and all authorization happens behind them.

Every method that acts for a user takes the caller's verified
:class:`~nodechat.models.Identity` first.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from nodechat.errors import ChatError, settle
from nodechat.errors import fold as fold  # re-exported: the batch helper of every stage
from nodechat.models import (
    Channel,
    ConversationState,
    FileRecord,
    Group,
    Identity,
    Invite,
    Member,
    Message,
    PinnedMessage,
    TokenPair,
    User,
)
from nodechat.services.admin import AdminService

if TYPE_CHECKING:  # sessions.py builds on the interfaces below
    from nodechat.services.sessions import SessionService

MEMBER_PAGE_MAX = 1000  # members in one member.list page at most (also the default)


class AuthService(ABC):
    """Accounts, passwords, tokens and sessions."""

    # calls cross the network (a role's gRPC client): independent reads are worth
    # making concurrently, since a remote read costs a round trip, a local one little
    remote: ClassVar[bool] = False

    @abstractmethod
    async def register(
        self,
        username: str,
        email: str,
        password: str,
        *,
        display_name: str | None = None,
        address: str = "",
        user_agent: str = "",
    ) -> TokenPair:
        """Create an account and log it in."""

    @abstractmethod
    async def login(
        self, login: str, password: str, *, address: str = "", user_agent: str = ""
    ) -> TokenPair:
        """Log in by username or email; ``InvalidCredentials`` for either mistake."""

    @abstractmethod
    async def refresh(self, refresh_token: str) -> TokenPair:
        """Spend a refresh token for a new pair; reuse of a spent one revokes the session."""

    @abstractmethod
    async def authenticate(self, access_token: str) -> Identity:
        """Verify an access token (signature, claims, live session, enabled user)."""

    @abstractmethod
    async def logout(self, identity: Identity) -> None:
        """End the caller's session (its live connections are closed)."""

    @abstractmethod
    async def logout_all(self, identity: Identity) -> int:
        """End every session of the caller; return how many."""

    @abstractmethod
    async def get_user(self, identity: Identity, user_id: str | None = None) -> User:
        """The caller's own account, or another user's (public fields are for the adapter to pick)."""

    @abstractmethod
    async def find_user(self, identity: Identity, username: str) -> User:
        """Look a user up by username."""

    @abstractmethod
    async def get_users(self, identity: Identity, user_ids: Sequence[str]) -> list[User]:
        """The users among ``user_ids`` that exist."""

    @abstractmethod
    async def update_profile(
        self, identity: Identity, *, display_name: str | None = None, about: str | None = None
    ) -> User:
        """Change the caller's display name and/or about text."""

    @abstractmethod
    async def change_password(
        self, identity: Identity, old_password: str, new_password: str
    ) -> None:
        """Change the password; every other session of the user ends."""


@dataclass(frozen=True, slots=True)
class GroupView:
    """A group as one member sees it."""

    group: Group
    channels: list[Channel]
    role: str
    member_count: int

    def to_dict(self) -> dict[str, Any]:
        """Wire form."""
        return {
            **self.group.to_dict(),
            "channels": [c.to_dict() for c in self.channels],
            "role": self.role,
            "member_count": self.member_count,
        }


@dataclass(frozen=True, slots=True)
class MemberPage:
    """One page of a group's member list, in (join time, user id) order."""

    members: list[Member]
    users: list[User]  # the users of ``members`` (any deleted meanwhile left out)
    next: str | None  # the cursor of the following page; None on the last page


class GroupService(ABC):
    """Groups, channels, members, roles and invites."""

    remote: ClassVar[bool] = False  # as AuthService.remote

    @abstractmethod
    async def create_group(self, identity: Identity, name: str, description: str = "") -> GroupView:
        """Create a group owned by the caller, with a ``welcome`` text channel."""

    @abstractmethod
    async def list_groups(self, identity: Identity) -> list[GroupView]:
        """The caller's groups with their channels."""

    @abstractmethod
    async def get_group(self, identity: Identity, group_id: str) -> GroupView:
        """One group; ``NotFound`` for a non-member."""

    @abstractmethod
    async def update_group(
        self,
        identity: Identity,
        group_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> GroupView:
        """Rename/describe (owner or admin)."""

    @abstractmethod
    async def delete_group(self, identity: Identity, group_id: str) -> None:
        """Delete the group (owner)."""

    @abstractmethod
    async def create_channel(
        self, identity: Identity, group_id: str, name: str, kind: str = "text", topic: str = ""
    ) -> Channel:
        """Add a channel at the end (owner or admin)."""

    @abstractmethod
    async def update_channel(
        self,
        identity: Identity,
        channel_id: str,
        *,
        name: str | None = None,
        topic: str | None = None,
    ) -> Channel:
        """Rename or set the topic (owner or admin)."""

    @abstractmethod
    async def delete_channel(self, identity: Identity, channel_id: str) -> None:
        """Delete a channel and its history (owner or admin)."""

    @abstractmethod
    async def reorder_channels(
        self, identity: Identity, group_id: str, channel_ids: Sequence[str]
    ) -> list[Channel]:
        """Set the channel order (owner or admin)."""

    @abstractmethod
    async def list_members(
        self,
        identity: Identity,
        group_id: str,
        *,
        after: str | None = None,
        limit: int = MEMBER_PAGE_MAX,
    ) -> MemberPage:
        """A page of the members of a group the caller belongs to, after cursor ``after``."""

    @abstractmethod
    async def create_invite(
        self,
        identity: Identity,
        group_id: str,
        *,
        expires_in: int | None = None,
        max_uses: int | None = None,
    ) -> Invite:
        """A new invite code (owner or admin); ``expires_in`` in seconds."""

    @abstractmethod
    async def list_invites(self, identity: Identity, group_id: str) -> list[Invite]:
        """The group's invites (owner or admin)."""

    @abstractmethod
    async def revoke_invite(self, identity: Identity, code: str) -> Invite:
        """Revoke an invite (owner or admin)."""

    @abstractmethod
    async def join(self, identity: Identity, code: str) -> GroupView:
        """Join a group by invite code."""

    @abstractmethod
    async def leave(self, identity: Identity, group_id: str) -> None:
        """Leave a group (an owner must transfer ownership first)."""

    @abstractmethod
    async def kick(self, identity: Identity, group_id: str, user_id: str) -> None:
        """Remove a member of lower rank (owner or admin)."""

    @abstractmethod
    async def ban(self, identity: Identity, group_id: str, user_id: str) -> None:
        """Remove a member of lower rank and keep them out (owner or admin)."""

    @abstractmethod
    async def unban(self, identity: Identity, group_id: str, user_id: str) -> None:
        """Lift a ban (owner or admin)."""

    @abstractmethod
    async def set_role(self, identity: Identity, group_id: str, user_id: str, role: str) -> Member:
        """Make a member admin or member (owner)."""

    @abstractmethod
    async def transfer_ownership(
        self, identity: Identity, group_id: str, user_id: str
    ) -> GroupView:
        """Hand the group to another member (owner); the old owner becomes admin."""

    @abstractmethod
    async def member_group_ids(self, user_id: str) -> list[str]:
        """Groups of a user, for the socket node's subscriptions (trusted callers only)."""


@dataclass(frozen=True, slots=True)
class SendResult:
    """The ack of a send: the stored message, and whether this call created it."""

    message: Message
    created: bool


SendOutcome = SendResult | ChatError
"""One item's answer in every batching stage of sends: its ack or its error."""


@dataclass(frozen=True, slots=True)
class SendItem:
    """One send of a pipelined run (:meth:`MessageService.send_many`)."""

    identity: Identity
    conversation_id: str
    body: str
    nonce: str
    reply_to: str | None = None
    attachments: tuple[str, ...] = ()  # file ids, the author's unattached uploads


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """One page of history and whether more lies beyond it in the same direction."""

    messages: list[Message]
    has_more: bool


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """A message.search call: plain words, optional filters, and the page wanted.

    ``before``/``after`` bound the creation time (ms, exclusive); ``cursor`` is
    the ``next_cursor`` of the previous page (services/search.py says what it holds).
    """

    text: str
    conversation_id: str | None = None
    author_id: str | None = None
    before: int | None = None
    after: int | None = None
    cursor: str | None = None
    limit: int = 20


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One search result: the message (as history shows it) and an excerpt around a match.

    ``highlights`` are ``(start, end)`` code-point offsets into ``snippet`` of the
    words that matched."""

    message: Message
    snippet: str
    highlights: tuple[tuple[int, int], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Wire form."""
        return {
            "message": self.message.to_dict(),
            "snippet": self.snippet,
            "highlights": [list(span) for span in self.highlights],
        }


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of search results, best first, and the cursor of the next (None: last)."""

    hits: list[SearchHit]
    next_cursor: str | None

    def to_dict(self) -> dict[str, Any]:
        """Wire form (the reply of message.search)."""
        return {"results": [h.to_dict() for h in self.hits], "next_cursor": self.next_cursor}


@dataclass(frozen=True, slots=True)
class ReactionResult:
    """Where one emoji on a message stands after a react or unreact call."""

    message_id: str
    conversation_id: str
    emoji: str
    count: int  # people who reacted with this emoji now
    me: bool  # whether the caller is among them
    changed: bool  # False for a repeat (already there, or already gone)

    def to_dict(self) -> dict[str, Any]:
        """Wire form (the reply of message.react and message.unreact)."""
        return {
            "message_id": self.message_id,
            "conversation": self.conversation_id,
            "emoji": self.emoji,
            "count": self.count,
            "me": self.me,
            "changed": self.changed,
        }


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """Messages after a seq, or the statement that the gap is too large to replay."""

    conversation_id: str
    messages: list[Message]
    last_seq: int
    too_old: bool = False


class MessageService(ABC):
    """Conversations, messages, history, read markers and blocks."""

    remote: ClassVar[bool] = False  # as AuthService.remote

    @abstractmethod
    async def send(
        self,
        identity: Identity,
        conversation_id: str,
        body: str,
        nonce: str,
        reply_to: str | None = None,
        attachments: Sequence[str] = (),
    ) -> SendResult:
        """Store a message durably and publish it; idempotent on (author, nonce).

        ``attachments``: ids of the author's unattached uploads, attached all or none."""

    async def send_many(self, items: Sequence[SendItem]) -> list[SendOutcome]:
        """Several sends at once, each with its own result or error.

        The messages of one conversation are stored in item order (a client's
        pipelined sends keep their order). This default sends one at a time;
        implementations overlap the work where they can keep that order.
        """
        return [
            await settle(
                self.send(i.identity, i.conversation_id, i.body, i.nonce, i.reply_to, i.attachments)
            )
            for i in items
        ]

    @abstractmethod
    async def edit(self, identity: Identity, message_id: str, body: str) -> Message:
        """Edit one's own message."""

    @abstractmethod
    async def delete(self, identity: Identity, message_id: str) -> Message:
        """Delete one's own message, or any in a group one owns or administers."""

    @abstractmethod
    async def pin(self, identity: Identity, message_id: str) -> PinnedMessage:
        """Pin a message in its conversation (channel: owner or admin); idempotent."""

    @abstractmethod
    async def unpin(self, identity: Identity, message_id: str) -> Message:
        """Unpin a message (who may pin may unpin); idempotent. The message."""

    @abstractmethod
    async def pins(self, identity: Identity, conversation_id: str) -> list[PinnedMessage]:
        """A conversation's pinned messages, newest pin first."""

    @abstractmethod
    async def react(self, identity: Identity, message_id: str, emoji: str) -> ReactionResult:
        """Add the caller's reaction to a message they can read (a repeat is a no-op)."""

    @abstractmethod
    async def unreact(self, identity: Identity, message_id: str, emoji: str) -> ReactionResult:
        """Remove the caller's reaction (removing an absent one is a no-op)."""

    @abstractmethod
    async def history(
        self,
        identity: Identity,
        conversation_id: str,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = 50,
    ) -> HistoryPage:
        """Messages by cursor; newest first unless ``after`` is given."""

    @abstractmethod
    async def search(self, identity: Identity, request: SearchRequest) -> SearchPage:
        """Full-text search over the conversations the caller may read now (or one of them)."""

    @abstractmethod
    async def replay(
        self, identity: Identity, conversation_id: str, after_seq: int, limit: int
    ) -> ReplayResult:
        """Everything after ``after_seq`` in order, or ``too_old`` past ``limit`` messages."""

    @abstractmethod
    async def mark_read(self, identity: Identity, conversation_id: str, seq: int) -> int:
        """Move the caller's read marker forward; return the stored marker."""

    @abstractmethod
    async def open_direct(self, identity: Identity, user_id: str) -> ConversationState:
        """The direct conversation with another user, created if needed."""

    @abstractmethod
    async def conversations(self, identity: Identity) -> list[ConversationState]:
        """Every conversation of the caller with last seq, read marker and unread count."""

    @abstractmethod
    async def typing(self, identity: Identity, conversation_id: str) -> None:
        """Tell the conversation the caller is typing (ephemeral, not stored)."""

    @abstractmethod
    async def direct_peer_ids(self, user_id: str) -> list[str]:
        """Users with a direct conversation with ``user_id`` (trusted callers only, for presence)."""

    @abstractmethod
    async def block(self, identity: Identity, user_id: str) -> None:
        """Block a user: no direct messages either way."""

    @abstractmethod
    async def unblock(self, identity: Identity, user_id: str) -> None:
        """Lift a block."""


@dataclass(frozen=True, slots=True)
class FileList:
    """The caller's files, newest first, with what they take and may take."""

    files: list[FileRecord]
    used_bytes: int
    file_count: int
    quota: int
    max_size: int

    def to_dict(self) -> dict[str, Any]:
        """Wire form (``GET /api/v1/files``)."""
        return {
            "files": [f.to_dict() for f in self.files],
            "usage": {"bytes": self.used_bytes, "files": self.file_count},
            "quota": self.quota,
            "max_size": self.max_size,
        }


class FileService(ABC):
    """Uploads, downloads and the collection of uploads never attached."""

    @abstractmethod
    async def upload(
        self, identity: Identity, name: str, chunks: AsyncIterable[bytes]
    ) -> FileRecord:
        """Store a new file from a byte stream (the limit is enforced while reading; a
        refused or failed upload leaves nothing behind); its type is sniffed."""

    @abstractmethod
    async def download(
        self, identity: Identity, file_id: str
    ) -> tuple[FileRecord, AsyncIterator[bytes]]:
        """A file and its bytes, for a caller who may read the conversation it is attached
        to (an unattached file: its owner only); ``NotFound(file_not_found)`` otherwise."""

    @abstractmethod
    async def list_files(self, identity: Identity) -> FileList:
        """The caller's own files and usage."""

    @abstractmethod
    async def collect(self) -> int:
        """Delete released files and uploads unattached past the configured age (blob and
        row); how many (trusted callers only: the periodic task, the admin CLI)."""


@dataclass(frozen=True, slots=True)
class Services:
    """The role interfaces a transport talks to (``admin``, ``sessions``: None where they
    are not served; a socket node starts its sessions itself)."""

    auth: AuthService
    groups: GroupService
    messages: MessageService
    admin: AdminService | None = None
    sessions: SessionService | None = None
    files: FileService | None = None
