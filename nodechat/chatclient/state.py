"""What a chat client knows, as plain data: fed snapshots and events, no I/O.

:class:`ChatState` is the model behind the terminal client. The session feeds it
the ready snapshot, events and history pages; widgets read it. Every ``apply_*``
method returns a :class:`Change` saying what to redraw and what to announce.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from nodechat.chatclient import threads
from nodechat.chatclient.records import (
    Change,
    Conversation,
    Group,
    Message,
    Notice,
    PinnedMessage,
    SearchHit,
    SearchResults,
    SidebarEntry,
)

__all__ = ["Change", "ChatState", "Conversation", "Group", "Message", "Notice", "SidebarEntry"]

TYPING_SECONDS = 5.0  # show "typing" this long after the last typing event
NOTIFY_LEVELS = ("all", "mentions", "none")
BACKGROUND_KEEP = 200  # messages kept of a conversation not on screen (older ones: paged in)


class ChatState:
    """Everything the client knows about the account, fed by snapshots and events."""

    def __init__(self) -> None:
        self.me: dict[str, Any] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.online: set[str] = set()
        self.groups: dict[str, Group] = {}
        self.conversations: dict[str, Conversation] = {}
        self.members: dict[str, dict[str, str]] = {}  # group id -> {user id: role}
        self.typing: dict[str, dict[str, float]] = {}  # conversation -> {user id: until}
        self.voice: dict[str, list[str]] = {}  # voice channel id -> participant ids
        # voice channel id -> user id -> {handle, muted, deafened, speaking}
        self.voice_states: dict[str, dict[str, dict[str, Any]]] = {}
        self.muted: set[str] = set()  # notification level "none"
        self.levels: dict[str, str] = {}  # other levels set by the user (else the default)
        self.dnd = False  # do not disturb: counters only, no bell, toast or desktop notice
        self.active: str | None = None  # the conversation on screen
        # users seen (as authors, typers) whose profile is not known yet: the session
        # looks them up with user.list (the snapshot no longer lists group members)
        self.unresolved: set[str] = set()
        self.search: SearchResults | None = None  # the last server search (message.search)

    # -- names -----------------------------------------------------------------------------

    @property
    def my_id(self) -> str:
        """Your user id ('' before the first snapshot)."""
        return str(self.me.get("id", ""))

    @property
    def my_username(self) -> str:
        """Your username, lower case."""
        return str(self.me.get("username", "")).lower()

    def username(self, user_id: str) -> str:
        """A user's username, or a short id when unknown."""
        if user_id == self.my_id:
            return self.my_username
        user = self.users.get(user_id)
        return str(user["username"]) if user else user_id[-6:]

    def user_by_name(self, username: str) -> dict[str, Any] | None:
        """A known user by username (case-insensitive)."""
        name = username.lstrip("@").lower()
        if name == self.my_username:
            return self.me
        return next((u for u in self.users.values() if str(u["username"]).lower() == name), None)

    def level(self, conversation_id: str) -> str:
        """What notifies in a conversation: ``all`` messages, ``mentions`` of you, ``none``.

        The default is ``all`` for direct conversations and ``mentions`` for channels.
        """
        if conversation_id in self.muted:
            return "none"
        conv = self.conversations.get(conversation_id)
        default = "all" if conv is not None and conv.kind == "direct" else "mentions"
        return self.levels.get(conversation_id, default)

    def set_level(self, conversation_id: str, level: str) -> None:
        """Set a conversation's notification level (see :meth:`level`)."""
        if level not in NOTIFY_LEVELS:
            raise ValueError(f"notification level must be one of {', '.join(NOTIFY_LEVELS)}")
        self.muted.discard(conversation_id)
        self.levels.pop(conversation_id, None)
        if level == "none":
            self.muted.add(conversation_id)
        elif level != self.level(conversation_id):
            self.levels[conversation_id] = level

    def learn(self, user_id: str) -> None:
        """Note a user this client shows; unknown ones are looked up later."""
        if user_id and user_id != self.my_id and user_id not in self.users:
            self.unresolved.add(user_id)

    def add_users(self, users: Iterable[dict[str, Any]]) -> Change:
        """Public profiles from ``user.list`` or ``member.list``."""
        for user in users:
            uid = str(user["id"])
            self.users[uid] = dict(user)
            self.unresolved.discard(uid)
        return Change(
            members=True, sidebar=True, conversations={self.active} if self.active else set()
        )

    def title(self, conversation_id: str) -> str:
        """How a conversation is named on screen."""
        conv = self.conversations.get(conversation_id)
        if conv is None:
            return conversation_id
        if conv.kind == "self":
            return "notes to self"
        if conv.kind == "direct":
            return "@" + self.username(conv.peer_id or "")
        if conv.kind == "thread":
            return f"thread in {self.title(conv.parent) if conv.parent else 'a conversation'}"
        group = self.groups.get(conv.group_id or "")
        prefix = "♪ " if conv.channel_kind == "voice" else "#"
        return f"{group.name + ' ' if group else ''}{prefix}{conv.name}"

    def member_names(self, conversation_id: str | None) -> list[str]:
        """Usernames that can read a conversation (for @-completion), yours last."""
        conv = self.conversations.get(conversation_id or "")
        if conv is None:
            return []
        if conv.group_id:
            ids = list(self.members.get(conv.group_id, {})) or list(self.users)
        else:
            ids = [conv.peer_id] if conv.peer_id else []
        names = sorted({self.username(u) for u in ids if u != self.my_id})
        return names

    # -- snapshot --------------------------------------------------------------------------

    def resume_points(self) -> dict[str, int]:
        """{conversation: last seq received} for ``auth.authenticate`` (protocol §6.4)."""
        return {c.id: c.last_seq for c in self.conversations.values()}

    def apply_snapshot(self, ready: dict[str, Any]) -> Change:
        """Adopt the ready snapshot; keep cached messages of conversations still visible."""
        change = Change(sidebar=True, members=True, snapshot=True)
        self.me = dict(ready.get("user") or {})
        self.users = {str(u["id"]): dict(u) for u in ready.get("users") or ()}
        self.online = {str(u) for u in ready.get("online") or ()}
        self.groups = {}
        channels: dict[str, dict[str, Any]] = {}
        for g in ready.get("groups") or ():
            chans = sorted(g.get("channels") or (), key=lambda c: int(c.get("position", 0)))
            self.groups[str(g["id"])] = Group(
                str(g["id"]),
                str(g.get("name", "")),
                str(g.get("role", "member")),
                [str(c["id"]) for c in chans],
            )
            channels.update({str(c["id"]): c for c in chans})
        old = self.conversations
        self.conversations = {}
        for wire in ready.get("conversations") or ():
            conv = self._conversation_from(wire, channels.get(str(wire["id"])))
            previous = old.get(conv.id)
            if previous is not None:
                # keep the cache, but fetch the newest page again when opened: edits
                # and deletions made while away are not replayed (protocol §6.4)
                conv.messages, conv.has_more = previous.messages, previous.has_more
                conv.mentions = previous.mentions if conv.unread else 0
                conv.mentions_upto = previous.mentions_upto
            self.conversations[conv.id] = conv
        change.reload |= threads.keep_threads(old, self.conversations, ready.get("resume") or {})
        for cid, entry in (ready.get("resume") or {}).items():
            stale = self.conversations.get(cid)
            if stale is not None and isinstance(entry, dict) and entry.get("too_old"):
                stale.messages, stale.has_more, stale.loaded = [], True, False
                change.reload.add(cid)
        voice = ready.get("voice")
        self.voice = (
            {str(k): [str(u) for u in v] for k, v in voice.items()}
            if isinstance(voice, dict)
            else {}
        )
        states = ready.get("voice_states")
        self.voice_states = dict(states) if isinstance(states, dict) else {}
        if self.active not in self.conversations:
            self.active = None
        change.conversations = set(self.conversations)
        return change

    def _conversation_from(
        self, wire: dict[str, Any], channel: dict[str, Any] | None
    ) -> Conversation:
        return Conversation(
            id=str(wire["id"]),
            kind=str(wire.get("kind", "channel")),
            group_id=wire.get("group_id"),
            peer_id=wire.get("peer_id"),
            name=str((channel or {}).get("name", "")),
            channel_kind=str((channel or {}).get("kind", "text")),
            position=int((channel or {}).get("position", 0)),
            last_seq=int(wire.get("last_seq", 0)),
            last_read_seq=int(wire.get("last_read_seq", 0)),
            unread=int(wire.get("unread", 0)),
        )

    def add_conversation(self, wire: dict[str, Any]) -> Change:
        """A conversation learned from a reply (``dm.open``)."""
        cid = str(wire["id"])
        if cid not in self.conversations:
            self.conversations[cid] = self._conversation_from(wire, None)
        return Change(sidebar=True, conversations={cid})

    # -- history ---------------------------------------------------------------------------

    def add_history(
        self,
        conversation_id: str,
        messages: Iterable[dict[str, Any]],
        has_more: bool,
        *,
        older: bool,
    ) -> Change:
        """A ``message.history`` page: merge it (dedup by seq)."""
        conv = self.conversations.get(conversation_id)
        if conv is None:
            return Change()
        for wire in messages:
            message = Message.from_wire(wire)
            self.learn(message.author_id)
            conv.put(message)
            conv.last_seq = max(conv.last_seq, message.seq)
            conv.last_at = max(conv.last_at, message.created_at)
        if older or not conv.loaded:
            conv.has_more = has_more
        conv.loaded = True
        conv.loading = False
        return Change(conversations={conversation_id})

    def count_mentions(self, conversation_id: str, unread: Iterable[dict[str, Any]]) -> Change:
        """Count mentions of you among the unread messages (a ``history after=`` page)."""
        conv = self.conversations.get(conversation_id)
        if conv is None:
            return Change()
        messages = [Message.from_wire(m) for m in unread]
        conv.last_at = max([conv.last_at, *(m.created_at for m in messages)])
        conv.mentions = sum(
            m.seq > conv.last_read_seq
            and m.author_id != self.my_id
            and not m.deleted
            and self.my_username in m.mentions
            for m in messages
        )
        conv.mentions_upto = max([conv.mentions_upto, *(m.seq for m in messages)])
        return Change(sidebar=True)

    # -- read markers ----------------------------------------------------------------------

    def set_read(self, conversation_id: str, seq: int) -> Change:
        """Move the read marker forward and recount unread and mentions."""
        conv = self.conversations.get(conversation_id)
        if conv is None or seq < conv.last_read_seq:
            return Change()
        conv.last_read_seq = seq
        if seq >= conv.last_seq:
            conv.unread = conv.mentions = 0
        else:
            later = [
                m
                for m in conv.messages
                if m.seq > seq and m.author_id != self.my_id and not m.deleted
            ]
            # recount only from a loaded range that holds every message after the marker
            if conv.loaded and conv.messages and conv.messages[0].seq <= seq + 1:
                conv.unread = min(conv.unread, len(later))
                conv.mentions = min(
                    conv.mentions, sum(self.my_username in m.mentions for m in later)
                )
        touched = {conversation_id, *threads.after_read(self, conv)}
        return Change(sidebar=True, conversations=touched)

    # -- events ----------------------------------------------------------------------------

    def apply_event(self, kind: str, data: dict[str, Any], now: float) -> Change:
        """Apply one event (protocol §5); unknown kinds change nothing."""
        handler = getattr(self, "_on_" + kind.replace(".", "_"), None)
        if handler is None or not isinstance(data, dict):
            return Change()
        try:
            result: Change = handler(data, now)
        except (AttributeError, KeyError, TypeError, ValueError):
            return Change()  # a malformed event must not take the client down
        return result

    def _on_message_created(self, data: dict[str, Any], now: float) -> Change:
        message = Message.from_wire(data)
        self.learn(message.author_id)
        conv = self.conversations.get(message.conversation)
        if conv is None:  # a new direct conversation or channel we did not know yet
            kind = (
                "thread"
                if message.conversation.startswith(threads.THREAD_PREFIX)
                else "self"
                if message.conversation.startswith("self:")
                else "direct"
                if message.conversation.startswith("dm:")
                else "channel"
            )
            peer = None
            if kind == "direct":
                peer = next(
                    (p for p in message.conversation[3:].split(":") if p != self.my_id), None
                )
            conv = Conversation(id=message.conversation, kind=kind, peer_id=peer, has_more=True)
            self.conversations[conv.id] = conv
        change = Change(conversations={conv.id}, sidebar=True)
        _keep_reactions(conv, message)
        seen = conv.put(message) is False
        if conv.id != self.active:  # a busy channel nobody looks at stays small
            conv.keep_newest(BACKGROUND_KEEP)
        self.typing.get(conv.id, {}).pop(message.author_id, None)
        counted = message.seq <= conv.last_seq  # a replay: the snapshot's unread includes it
        conv.last_seq = max(conv.last_seq, message.seq)
        if message.created_at > conv.last_at:
            conv.last_at = message.created_at
            if conv.kind == "direct":
                change.sidebar = True  # it moves to the top of "Direct"
        if message.author_id == self.my_id:
            return change
        if seen or message.seq <= conv.last_read_seq or message.deleted:
            return change
        conv.unread += 0 if counted else 1
        mentioned = self.my_username in message.mentions
        conv.mentions += mentioned and message.seq > conv.mentions_upto
        level = self.level(conv.id)
        if level == "all" or (level == "mentions" and mentioned):
            change.notices.append(
                Notice(
                    conv.id,
                    f"{self.username(message.author_id)} in {self.title(conv.id)}",
                    message.body,
                    mentioned,
                )
            )
        return change

    def _on_message_thread(self, data: dict[str, Any], now: float) -> Change:
        return threads.on_message_thread(self, data)

    def _on_message_edited(self, data: dict[str, Any], now: float) -> Change:
        conv = self.conversations.get(str(data["conversation"]))
        if conv is None or not any(m.id == data["id"] for m in conv.messages):
            return Change()
        message = Message.from_wire(data)
        _keep_reactions(conv, message)
        conv.put(message)
        return Change(conversations={conv.id})

    def _on_message_deleted(self, data: dict[str, Any], now: float) -> Change:
        conv = self.conversations.get(str(data["conversation"]))
        message = conv.find(str(data["id"])) if conv else None
        if conv is None or message is None:
            return Change()
        message.deleted, message.body, message.mentions = True, "", ()
        message.reactions.clear()
        return Change(conversations={conv.id})

    # -- pins ------------------------------------------------------------------------------

    def set_pins(self, conversation_id: str, pins: Iterable[dict[str, Any]]) -> Change:
        """A ``pin.list`` reply: the conversation's pins, newest first."""
        conv = self.conversations.get(conversation_id)
        if conv is None:
            return Change()
        conv.pins = [PinnedMessage.from_wire(p) for p in pins]
        conv.pins_loaded = True
        for entry in conv.pins:
            self.learn(entry.pinned_by)
        return Change(conversations={conversation_id})

    # -- search ----------------------------------------------------------------------------

    def add_search_page(self, results: SearchResults, reply: dict[str, Any]) -> Change:
        """A ``message.search`` reply: its hits join ``results`` (the current search)."""
        for data in reply.get("results") or ():
            hit = SearchHit.from_wire(data)
            results.hits.append(hit)
            self.learn(hit.message.author_id)
        results.next_cursor = reply.get("next_cursor")
        self.search = results
        return Change()

    def _on_message_pinned(self, data: dict[str, Any], now: float) -> Change:
        conv = self.conversations.get(str(data["conversation"]))
        if conv is None:
            return Change()
        message = Message.from_wire(data["message"])
        conv.add_pin(PinnedMessage(message, str(data["by"]), int(data["pinned_at"])))
        self.learn(str(data["by"]))
        return Change(conversations={conv.id})

    def _on_message_unpinned(self, data: dict[str, Any], now: float) -> Change:
        conv = self.conversations.get(str(data["conversation"]))
        if conv is None or not conv.drop_pin(str(data["message_id"])):
            return Change()
        return Change(conversations={conv.id})

    def _on_message_reaction(self, data: dict[str, Any], now: float) -> Change:
        conv = self.conversations.get(str(data["conversation"]))
        message = conv.find(str(data["message_id"])) if conv else None
        if conv is None or message is None or message.deleted:
            return Change()
        mine = bool(data["added"]) if data.get("user_id") == self.my_id else None
        message.react(str(data["emoji"]), int(data["count"]), mine)
        return Change(conversations={conv.id})

    def reacted(self, conversation_id: str, message_id: str, emoji: str) -> bool:
        """Whether I reacted to the message with this emoji (as far as this client knows)."""
        conv = self.conversations.get(conversation_id)
        message = conv.find(message_id) if conv else None
        return message is not None and message.reactions.get(emoji, (0, False))[1]

    def _on_read_updated(self, data: dict[str, Any], now: float) -> Change:
        return self.set_read(str(data["conversation"]), int(data["seq"]))

    def _on_typing(self, data: dict[str, Any], now: float) -> Change:
        user = str(data["user_id"])
        if user == self.my_id:
            return Change()
        self.learn(user)
        self.typing.setdefault(str(data["conversation"]), {})[user] = now + TYPING_SECONDS
        return Change(typing=True)

    def typing_in(self, conversation_id: str | None, now: float) -> list[str]:
        """Usernames typing in a conversation right now."""
        users = self.typing.get(conversation_id or "", {})
        for user, until in list(users.items()):
            if until <= now:
                del users[user]
        return sorted(self.username(u) for u in users)

    def _on_presence(self, data: dict[str, Any], now: float) -> Change:
        user = str(data["user_id"])
        if data.get("status") == "online":
            self.online.add(user)
        else:
            self.online.discard(user)
        return Change(members=True, sidebar=True)

    def _on_user_updated(self, data: dict[str, Any], now: float) -> Change:
        uid = str(data["id"])
        if uid == self.my_id:
            self.me.update(data)
        else:
            self.users[uid] = dict(data)
        return Change(members=True, sidebar=True)

    def _on_member_joined(self, data: dict[str, Any], now: float) -> Change:
        gid, uid = str(data["group_id"]), str(data["user_id"])
        if isinstance(data.get("user"), dict) and uid != self.my_id:
            self.users[uid] = dict(data["user"])
        if gid in self.members:
            self.members[gid][uid] = str((data.get("member") or {}).get("role", "member"))
        if uid == self.my_id and isinstance(data.get("group"), dict):
            self._add_group(data["group"])
        return Change(members=True, sidebar=True, info=f"{self.username(uid)} joined")

    def _add_group(self, wire: dict[str, Any]) -> None:
        chans = sorted(wire.get("channels") or (), key=lambda c: int(c.get("position", 0)))
        gid = str(wire["id"])
        self.groups[gid] = Group(
            gid,
            str(wire.get("name", "")),
            str(wire.get("role", "member")),
            [str(c["id"]) for c in chans],
        )
        for c in chans:
            self._add_channel(c)

    def _add_channel(self, c: dict[str, Any]) -> None:
        cid = str(c["id"])
        conv = self.conversations.setdefault(
            cid, Conversation(id=cid, kind="channel", group_id=str(c["group_id"]), loaded=False)
        )
        conv.name, conv.channel_kind = str(c.get("name", "")), str(c.get("kind", "text"))
        conv.position, conv.group_id = int(c.get("position", 0)), str(c["group_id"])

    def add_group(self, wire: dict[str, Any]) -> Change:
        """A group view from a reply (``group.create``, ``group.join``); idempotent."""
        self._add_group(wire)
        return Change(sidebar=True)

    def _on_group_created(self, data: dict[str, Any], now: float) -> Change:
        return self.add_group(data)

    def _on_group_updated(self, data: dict[str, Any], now: float) -> Change:
        group = self.groups.get(str(data["id"]))
        if group is not None:
            group.name = str(data.get("name", group.name))
        return Change(sidebar=True)

    def _drop_group(self, gid: str) -> Change:
        group = self.groups.pop(gid, None)
        self.members.pop(gid, None)
        for cid in group.channels if group else ():
            self.conversations.pop(cid, None)
        if self.active not in self.conversations:
            self.active = None
        return Change(sidebar=True, members=True)

    def _on_group_deleted(self, data: dict[str, Any], now: float) -> Change:
        return self._drop_group(str(data["group_id"]))

    def _member_gone(self, data: dict[str, Any], now: float) -> Change:
        gid, uid = str(data["group_id"]), str(data["user_id"])
        if uid == self.my_id:
            return self._drop_group(gid)
        self.members.get(gid, {}).pop(uid, None)
        return Change(members=True)

    _on_member_left = _member_gone
    _on_member_kicked = _member_gone
    _on_member_banned = _member_gone

    def _on_member_updated(self, data: dict[str, Any], now: float) -> Change:
        gid = str(data["group_id"])
        if gid in self.members:
            self.members[gid][str(data["user_id"])] = str(data.get("role", "member"))
        return Change(members=True)

    def add_channel(self, wire: dict[str, Any]) -> Change:
        """A channel from a reply (``channel.create``) or an event; idempotent."""
        return self._on_channel_created(wire, 0.0)

    def _on_channel_created(self, data: dict[str, Any], now: float) -> Change:
        group = self.groups.get(str(data["group_id"]))
        if group is None:
            return Change()
        self._add_channel(data)
        if str(data["id"]) not in group.channels:
            group.channels.append(str(data["id"]))
        group.channels.sort(
            key=lambda c: self.conversations[c].position if c in self.conversations else 0
        )
        return Change(sidebar=True)

    _on_channel_updated = _on_channel_created

    def _on_channel_deleted(self, data: dict[str, Any], now: float) -> Change:
        cid = str(data["id"])
        self.conversations.pop(cid, None)
        group = self.groups.get(str(data.get("group_id", "")))
        if group is not None and cid in group.channels:
            group.channels.remove(cid)
        if self.active == cid:
            self.active = None
        return Change(sidebar=True)

    def _on_resync_required(self, data: dict[str, Any], now: float) -> Change:
        conv = self.conversations.get(str(data["conversation"]))
        if conv is None:
            return Change()
        conv.messages, conv.has_more, conv.loaded = [], True, False
        conv.last_seq = max(conv.last_seq, int(data.get("last_seq", 0)))
        return Change(conversations={conv.id}, reload={conv.id})

    def _on_voice_updated(self, data: dict[str, Any], now: float) -> Change:
        self.voice[str(data["channel"])] = [str(u) for u in data.get("participants") or ()]
        states = data.get("states")
        if isinstance(states, dict):
            self.voice_states[str(data["channel"])] = states
        return Change(sidebar=True, members=True)

    def my_voice_state(self, channel: str) -> dict[str, Any]:
        """Your own flags in a voice channel ({} when not in it)."""
        state = (self.voice_states.get(channel) or {}).get(self.my_id)
        return state if isinstance(state, dict) else {}

    def set_members(self, group_id: str, members: Iterable[dict[str, Any]]) -> Change:
        """The ``member.list`` pages of a group."""
        self.members[group_id] = {str(m["user_id"]): str(m.get("role", "member")) for m in members}
        return Change(members=True)

    def set_presence(self, statuses: dict[str, str]) -> Change:
        """A ``presence.subscribe`` reply: the current status of each user asked for."""
        for user, status in statuses.items():
            (self.online.add if status == "online" else self.online.discard)(str(user))
        return Change(members=True, sidebar=True)

    # -- navigation ------------------------------------------------------------------------

    def ordered(self) -> list[str]:
        """Conversation ids in sidebar order: group channels, direct, notes."""
        out = [c for g in self.groups.values() for c in g.channels if c in self.conversations]
        # direct conversations by the last activity seen here (newest first); before
        # any is seen, in the server's order
        direct = [c for c in self.conversations.values() if c.kind == "direct"]
        out += [c.id for c in sorted(direct, key=lambda c: -c.last_at)]
        out += [c.id for c in self.conversations.values() if c.kind == "self"]
        return out

    def sidebar(self, unread_first: bool = False) -> list[SidebarEntry]:
        """The sidebar lines: headers and conversations, optionally unread ones first."""
        entries: list[SidebarEntry] = []
        unread = [c for c in self.ordered() if self.conversations[c].unread]
        if unread_first and unread:
            entries.append(SidebarEntry("Unread"))
            entries += [SidebarEntry(self.title(c), c, 1) for c in unread]
        skip = set(unread) if unread_first else set()
        for group in self.groups.values():
            entries.append(SidebarEntry(group.name))
            for cid in group.channels:
                if cid in self.conversations and cid not in skip:
                    conv = self.conversations[cid]
                    mark = "♪ " if conv.channel_kind == "voice" else "# "
                    entries.append(SidebarEntry(mark + conv.name, cid, 1))
        direct = [
            c for c in self.ordered() if self.conversations[c].kind != "channel" and c not in skip
        ]
        if direct:
            entries.append(SidebarEntry("Direct"))
            entries += [SidebarEntry(self.title(c), c, 1) for c in direct]
        return entries

    def next_unread(
        self, after: str | None, *, reverse: bool = False, mentions: bool = False
    ) -> str | None:
        """The next (or previous) conversation in sidebar order with unread messages, or
        with unread mentions of you, after ``after`` (wrapping)."""
        order = self.ordered()
        if reverse:
            order.reverse()
        start = order.index(after) + 1 if after in order else 0
        for cid in order[start:] + order[:start]:
            conv = self.conversations[cid]
            if (conv.mentions if mentions else conv.unread) and cid != after:
                return cid
        return None


def _keep_reactions(conv: Conversation, message: Message) -> None:
    """Events carry no reactions (protocol §2.6): keep those already known for the message."""
    known = conv.find(message.id)
    if known is not None and not message.reactions:
        message.reactions = known.reactions
    threads.keep_thread(known, message)
