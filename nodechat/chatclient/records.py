"""The records of the client's state: messages, conversations, groups, and what changed."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from nodechat.chatclient.files import FileRef


@dataclass
class ThreadInfo:
    """The thread under a message as its root shows it (protocol §2.6 ``thread``)."""

    conversation: str
    count: int
    last_at: int | None = None
    unread: int = 0

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> ThreadInfo:
        """Build from a ``thread`` object (history, events)."""
        last = data.get("last_at")
        return cls(
            str(data["conversation"]),
            int(data.get("count") or 0),
            int(last) if last is not None else None,
            int(data.get("unread") or 0),
        )


@dataclass
class Message:
    """One message of a conversation (the wire form of protocol §2.6)."""

    id: str
    conversation: str
    seq: int
    author_id: str
    body: str
    created_at: int
    reply_to: str | None = None
    edited_at: int | None = None
    deleted: bool = False
    mentions: tuple[str, ...] = ()
    nonce: str | None = None
    # emoji -> (count, whether I reacted), in first-use order
    reactions: dict[str, tuple[int, bool]] = field(default_factory=dict)
    thread: ThreadInfo | None = None  # the thread under it, once it has replies
    attachments: tuple[FileRef, ...] = ()

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Message:
        """Build from a message object; unknown fields are ignored."""
        return cls(
            id=str(data["id"]),
            conversation=str(data["conversation"]),
            seq=int(data["seq"]),
            author_id=str(data.get("author_id") or ""),
            body=str(data.get("body") or ""),
            created_at=int(data.get("created_at") or 0),
            reply_to=data.get("reply_to"),
            edited_at=data.get("edited_at"),
            deleted=bool(data.get("deleted")),
            mentions=tuple(str(m).lower() for m in data.get("mentions") or ()),
            nonce=data.get("nonce"),
            reactions={
                str(r["emoji"]): (int(r["count"]), bool(r.get("me")))
                for r in data.get("reactions") or ()
                if int(r.get("count") or 0) > 0
            },
            thread=ThreadInfo.from_wire(data["thread"]) if data.get("thread") else None,
            attachments=tuple(FileRef.from_wire(a) for a in data.get("attachments") or ()),
        )

    def react(self, emoji: str, count: int, mine: bool | None) -> None:
        """Set an emoji's count (0 drops it); ``mine`` None keeps whether I reacted."""
        if count <= 0:
            self.reactions.pop(emoji, None)
            return
        me = self.reactions.get(emoji, (0, False))[1] if mine is None else mine
        self.reactions[emoji] = (count, me)


@dataclass
class PinnedMessage:
    """One entry of a conversation's pins: the message as pinned, by whom and when."""

    message: Message
    pinned_by: str
    pinned_at: int

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> PinnedMessage:
        """Build from a ``pin.list`` entry or a ``message.pin`` reply."""
        return cls(
            Message.from_wire(data["message"]), str(data["pinned_by"]), int(data["pinned_at"])
        )


@dataclass
class SearchHit:
    """One ``message.search`` result: the message and the excerpt that shows the match."""

    message: Message
    snippet: str
    highlights: tuple[tuple[int, int], ...] = ()

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> SearchHit:
        """Build from a ``message.search`` result object."""
        return cls(
            Message.from_wire(data["message"]),
            str(data.get("snippet") or ""),
            tuple((int(s), int(e)) for s, e in data.get("highlights") or ()),
        )


@dataclass
class SearchResults:
    """The pages of one search loaded so far, and the cursor of the next (None: no more)."""

    query: str
    conversation: str | None = None  # searched only here; None: everything readable
    hits: list[SearchHit] = field(default_factory=list)
    next_cursor: str | None = None


def _seq(message: Message) -> int:
    return message.seq


@dataclass
class Conversation:
    """One conversation: a channel, a direct conversation or notes to self."""

    id: str
    kind: str  # channel | direct | self | thread
    group_id: str | None = None
    parent: str | None = None  # a thread's: the conversation of its root message
    peer_id: str | None = None
    name: str = ""
    channel_kind: str = "text"  # text | voice (channels only)
    position: int = 0
    last_seq: int = 0
    last_read_seq: int = 0
    unread: int = 0
    mentions: int = 0
    mentions_upto: int = 0  # mentions of seqs up to this one were counted from history
    last_at: int = 0  # created_at (ms) of the newest message this client has seen
    messages: list[Message] = field(default_factory=list)  # sorted by seq, unique seqs
    has_more: bool = True  # older history may exist beyond the oldest loaded message
    loaded: bool = False  # the newest page was fetched at least once
    loading: bool = False
    pins: list[PinnedMessage] = field(default_factory=list)  # newest pin first
    pins_loaded: bool = False  # pin.list was fetched (events keep it current after)

    @property
    def oldest_seq(self) -> int | None:
        """The smallest loaded seq, if any."""
        return self.messages[0].seq if self.messages else None

    def find(self, message_id: str) -> Message | None:
        """The loaded message with this id."""
        return next((m for m in self.messages if m.id == message_id), None)

    def put(self, message: Message) -> bool:
        """Insert or replace by seq; return True if it was new."""
        messages = self.messages
        if not messages or message.seq > messages[-1].seq:  # the usual case: the newest
            messages.append(message)
            return True
        at = bisect.bisect_left(messages, message.seq, key=_seq)
        if at < len(messages) and messages[at].seq == message.seq:
            messages[at] = message
            return False
        messages.insert(at, message)
        return True

    def pinned(self, message_id: str) -> bool:
        """Whether the message is among the known pins."""
        return any(p.message.id == message_id for p in self.pins)

    def add_pin(self, entry: PinnedMessage) -> None:
        """Add or replace a message's pin, keeping the newest pin first."""
        self.drop_pin(entry.message.id)
        self.pins.append(entry)
        self.pins.sort(key=lambda p: (p.pinned_at, p.message.seq), reverse=True)

    def drop_pin(self, message_id: str) -> bool:
        """Forget a message's pin; False if it was not pinned."""
        kept = [p for p in self.pins if p.message.id != message_id]
        dropped = len(kept) != len(self.pins)
        self.pins = kept
        return dropped

    def keep_newest(self, limit: int) -> None:
        """Forget all but the newest ``limit`` loaded messages (older ones can be paged in)."""
        if len(self.messages) > limit:
            del self.messages[: len(self.messages) - limit]
            self.has_more = True


@dataclass
class Group:
    """A group you belong to, with its channel ids in position order."""

    id: str
    name: str
    role: str = "member"
    channels: list[str] = field(default_factory=list)


@dataclass
class Notice:
    """Something the user should be told about (bell, desktop notification)."""

    conversation: str
    title: str
    body: str
    mention: bool


@dataclass
class Change:
    """What an update touched."""

    conversations: set[str] = field(default_factory=set)
    sidebar: bool = False
    members: bool = False
    typing: bool = False
    notices: list[Notice] = field(default_factory=list)
    reload: set[str] = field(default_factory=set)  # conversations whose cache was discarded
    info: str | None = None
    unsent: list[str] = field(default_factory=list)  # queued sends the server refused, said why
    status: bool = False  # the connection status changed
    snapshot: bool = False  # a (re)connection replaced the snapshot

    def merge(self, other: Change) -> None:
        """Fold ``other`` (a later change) into this one: a batch drawn at once."""
        self.conversations |= other.conversations
        self.sidebar |= other.sidebar
        self.members |= other.members
        self.typing |= other.typing
        self.notices += other.notices
        self.reload |= other.reload
        self.info = other.info or self.info
        self.unsent += other.unsent
        self.status |= other.status
        self.snapshot |= other.snapshot


@dataclass
class SidebarEntry:
    """One line of the sidebar: a header (conversation None) or a conversation."""

    label: str
    conversation: str | None = None
    depth: int = 0
