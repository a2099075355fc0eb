"""The node's fan-out: which local connections want which topic, and presence.

The hub subscribes the bus only to topics that a local session needs (its
user topic, its groups, and the presence of the users it shows), frames each
event once, and writes the same bytes to every local recipient. Membership and revocation events also change the
subscriptions here, so no per-message membership lookup is ever needed.

The hub tells the :class:`~nodechat.services.presence.PresenceService` when
a session connects and disconnects (the presence rules live there). When the
bus reconnects after an outage (and has replayed the other events it logged),
every local session is told to catch up on messages from the store, because
those published meanwhile never reached this node;
what each session receives, and in which order, is its session protocol's
business (:mod:`nodechat.protocol.session`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from nodechat.bus import Bus, Event, group_topic, presence_topic, user_topic
from nodechat.protocol.framing import text_frame
from nodechat.server.connection import ClientConnection
from nodechat.services.presence import PresenceService

log = logging.getLogger(__name__)

REMOVAL_EVENTS = frozenset({"member.left", "member.kicked", "member.banned"})


class Hub:
    """Local subscriptions, delivery and presence for one socket node."""

    def __init__(
        self,
        bus: Bus,
        presence: PresenceService,
        on_delivered: Callable[[int], None] | None = None,
    ) -> None:
        # the voice relay follows mutes, deafens and moves (nodechat.server.voice_relay)
        self.on_voice: Callable[[dict[str, Any]], None] | None = None
        self._bus = bus
        self.presence = presence  # owned: closed with the hub
        self._topics: dict[str, set[ClientConnection]] = {}
        self._users: dict[str, set[ClientConnection]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.delivered = 0
        self._on_delivered = on_delivered
        bus.set_handler(self.on_event)
        bus.set_reconnect_handler(self.on_reconnect)

    @property
    def bus(self) -> Bus:
        """The event bus this hub delivers from (for publishing node-side events)."""
        return self._bus

    @property
    def connections(self) -> int:
        """Authenticated connections on this node."""
        return sum(len(c) for c in self._users.values())

    async def online(self, user_ids: Iterable[str]) -> list[str]:
        """Which of these users are online (on any node), in the order given."""
        return await self.presence.online(user_ids, fallback=self._users.__contains__)

    def user_connections(self, user_id: str) -> set[ClientConnection]:
        """The live connections of one user on this node."""
        return self._users.get(user_id, set())

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _join(self, conn: ClientConnection, topic: str) -> None:
        conns = self._topics.get(topic)
        if conns is None:
            conns = self._topics[topic] = set()
            await self._bus.subscribe(topic)
        conns.add(conn)
        conn.topics.add(topic)

    async def _leave(self, conn: ClientConnection, topic: str) -> None:
        if self._forget(conn, topic):
            await self._unsubscribe_unused(topic)

    async def _unsubscribe_unused(self, topic: str) -> None:
        if topic not in self._topics:  # else a session joined it again meanwhile
            await self._bus.unsubscribe(topic)

    def _forget(self, conn: ClientConnection, topic: str) -> bool:
        """Stop delivering ``topic`` to ``conn`` at once; whether the node should unsubscribe."""
        conn.topics.discard(topic)
        conns = self._topics.get(topic)
        if conns is None:
            return False
        conns.discard(conn)
        if conns:
            return False
        del self._topics[topic]
        return True

    def _leave_now(self, conn: ClientConnection, topic: str) -> None:
        """:meth:`_leave` from a bus callback: nothing more of ``topic`` reaches ``conn``,
        even from an event later in the same bundle or replay; UNSUBSCRIBE follows."""
        if self._forget(conn, topic):
            self._spawn(self._unsubscribe_unused(topic))

    async def attach(self, conn: ClientConnection, group_ids: Iterable[str]) -> None:
        """Subscribe an authenticated connection to its user and group topics."""
        identity = conn.state.identity
        assert identity is not None
        uid = identity.user_id
        await self._join(conn, user_topic(uid))
        for gid in group_ids:
            await self._join(conn, group_topic(gid))
        self._users.setdefault(uid, set()).add(conn)
        await self.presence.connected(uid)

    async def show_peers(self, conn: ClientConnection, user_ids: Iterable[str]) -> None:
        """Have a session hear the presence of these direct-message peers."""
        for uid in conn.state.presence.add_peers(user_ids):
            await self._join(conn, presence_topic(uid))

    async def watch(self, conn: ClientConnection, user_ids: list[str]) -> dict[str, str]:
        """presence.subscribe: the session hears these users' presence from now on; their
        current status (``too_many_subscriptions`` past the session's limit)."""
        for uid in conn.state.presence.watch(user_ids):
            await self._join(conn, presence_topic(uid))
        wanted = list(dict.fromkeys(user_ids))
        online = set(await self.online(wanted))
        found = {u: "online" if u in online else "offline" for u in wanted}
        return conn.state.presence.answer(found)

    async def unwatch(self, conn: ClientConnection, user_ids: list[str] | None) -> int:
        """presence.unsubscribe (None: from everyone); how many subscriptions are left."""
        for uid in conn.state.presence.unwatch(user_ids):
            await self._leave(conn, presence_topic(uid))
        return len(conn.state.presence.watched)

    async def detach(self, conn: ClientConnection) -> None:
        """Forget a closed connection."""
        identity = conn.state.identity
        for topic in list(conn.topics):
            await self._leave(conn, topic)
        if identity is None:
            return
        sessions = self._users.get(identity.user_id)
        if sessions is not None and conn in sessions:
            sessions.discard(conn)
            if not sessions:
                del self._users[identity.user_id]
            await self.presence.disconnected(identity.user_id)

    # -- bus callbacks ---------------------------------------------------------

    def on_reconnect(self, events_lost: bool = False) -> None:
        """The bus is back after an outage and has replayed what it logged: every local
        session catches up on messages from the store. If events were lost for good
        (the log was trimmed), every session is closed with 1012 instead, to rebuild
        its state from a fresh snapshot when it reconnects and resumes."""
        for conns in list(self._users.values()):
            for conn in list(conns):
                if events_lost:
                    conn.close(1012, "events missed: reconnect and resume")
                else:
                    conn.catch_up()

    def on_event(self, topic: str, event: Event) -> None:
        """Deliver one bus event to the local connections subscribed to ``topic``."""
        conns = self._topics.get(topic)
        if not conns:
            return
        kind = event.kind
        data = event.data
        if kind == "voice.updated" and self.on_voice is not None:
            self.on_voice(data)
        if kind == "session.revoked":  # each session decides whether it is the one
            for conn in list(conns):
                conn.deliver(event)
            return
        frame = text_frame(event.frame)
        if kind == "message.created":  # the hot path: one per recipient per message
            conversation, seq = data["conversation"], data["seq"]
            for conn in list(conns):
                conn.deliver_message(event, frame, conversation, seq)
            self._count(len(conns))
            return
        skip = (
            data.get("user_id") if kind == "member.joined" and topic.startswith("group:") else None
        )
        for conn in list(conns):
            identity = conn.state.identity
            if skip is not None and identity is not None and identity.user_id == skip:
                continue
            conn.deliver(event, frame)
        self._count(len(conns))
        if kind in REMOVAL_EVENTS:
            self._drop_user_from_group(data["group_id"], data["user_id"])
        elif kind == "group.deleted":
            for conn in list(conns):
                self._leave_now(conn, topic)
        elif kind in ("member.joined", "group.created") and topic.startswith("user:"):
            gid = data["group_id"] if kind == "member.joined" else data["id"]
            heads = data.get("last_seqs") if kind == "member.joined" else None
            for conn in list(conns):
                self._spawn(self._joined(conn, gid, heads if isinstance(heads, dict) else {}))

    def _count(self, deliveries: int) -> None:
        self.delivered += deliveries
        if self._on_delivered is not None:
            self._on_delivered(deliveries)

    async def _joined(self, conn: ClientConnection, group_id: str, heads: dict[str, int]) -> None:
        """Subscribe a session to a group its user joined; then read from the store what
        its channels got after the join and before the subscription took hold."""
        conn.state.joined(heads)
        await self._join(conn, group_topic(group_id))
        if heads:
            conn.catch_up_on(heads)

    def _drop_user_from_group(self, group_id: str, user_id: str) -> None:
        topic = group_topic(group_id)
        for conn in list(self._users.get(user_id, ())):
            if topic in conn.topics:
                self._leave_now(conn, topic)

    async def close(self) -> None:
        """Wait for pending subscription changes and store reads, then close presence."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for conns in list(self._users.values()):
            for conn in list(conns):
                await conn.settled()
        await self.presence.close()
