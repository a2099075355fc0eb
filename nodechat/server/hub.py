"""The node's fan-out: which local connections want which topic, and presence.

The hub subscribes the bus only to topics that a local session needs (its
user topic and its groups), frames each event once, and writes the same bytes
to every local recipient. Membership and revocation events also change the
subscriptions here, so no per-message membership lookup is ever needed.

Presence is counted by a :class:`PresenceRegistry` (this node only, or every
node through Redis); the hub announces a status change when the registry says
the user's cluster-wide status changed. When the bus reconnects after an
outage, the hub backfills every local connection from the store, because
events published meanwhile never reached this node.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from nodechat.bus import Bus, Event, group_topic, user_topic
from nodechat.cluster import LocalPresence, PresenceRegistry
from nodechat.errors import ChatError
from nodechat.server.connection import CLOSE_REVOKED, Backfill, ClientConnection
from nodechat.server.framing import text_frame

log = logging.getLogger(__name__)

REMOVAL_EVENTS = frozenset({"member.left", "member.kicked", "member.banned"})

PresenceTopics = Callable[[str], Awaitable[list[str]]]

TO_LATEST = -1  # ``through`` of a backfill after a bus reconnect: whatever the store has
RECONNECT_BACKFILLS = 32  # store reads at once when a reconnect backfills every connection


class Hub:
    """Local subscriptions, delivery and presence for one socket node."""

    def __init__(
        self,
        bus: Bus,
        presence_topics: PresenceTopics,
        presence: PresenceRegistry | None = None,
        on_delivered: Callable[[int], None] | None = None,
    ) -> None:
        self._bus = bus
        self._presence_topics = presence_topics
        self._presence = presence if presence is not None else LocalPresence()  # owned
        self._backfill: Backfill | None = None
        self._backfills = asyncio.Semaphore(RECONNECT_BACKFILLS)
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

    def set_backfill(self, backfill: Backfill) -> None:
        """How to replay a conversation from the store to a connection (the endpoint's)."""
        self._backfill = backfill

    @property
    def connections(self) -> int:
        """Authenticated connections on this node."""
        return sum(len(c) for c in self._users.values())

    async def online(self, user_ids: Iterable[str]) -> list[str]:
        """Which of these users are online (on any node), in the order given."""
        ids = list(user_ids)
        try:
            found = await self._presence.online(ids)
        except ChatError as exc:
            log.warning("presence lookup failed (%s); answering for this node only", exc.code)
            found = {u for u in ids if u in self._users}
        return [u for u in ids if u in found]

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
        conn.topics.discard(topic)
        conns = self._topics.get(topic)
        if conns is None:
            return
        conns.discard(conn)
        if not conns:
            del self._topics[topic]
            await self._bus.unsubscribe(topic)

    async def attach(self, conn: ClientConnection, group_ids: Iterable[str]) -> None:
        """Subscribe an authenticated connection to its user and group topics."""
        identity = conn.state.identity
        assert identity is not None
        uid = identity.user_id
        await self._join(conn, user_topic(uid))
        for gid in group_ids:
            await self._join(conn, group_topic(gid))
        self._users.setdefault(uid, set()).add(conn)
        if await self._count(self._presence.connect, uid):
            await self._announce(uid, "online")

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
            if await self._count(self._presence.disconnect, identity.user_id):
                await self._announce(identity.user_id, "offline")

    @staticmethod
    async def _count(change: Callable[[str], Awaitable[bool]], user_id: str) -> bool:
        """Apply a presence change; whether the status changed (False if it could not tell)."""
        try:
            return await change(user_id)
        except ChatError as exc:  # presence is best effort; never fail a connect over it
            log.warning("presence update failed for %s: %s", user_id, exc.code)
            return False

    async def _announce(self, user_id: str, status: str) -> None:
        try:
            topics = await self._presence_topics(user_id)
        except Exception:  # presence is best effort; never fail a connect over it
            log.warning("presence lookup failed for %s", user_id, exc_info=True)
            return
        event = Event("presence", {"user_id": user_id, "status": status})
        for topic in topics:
            await self._bus.publish(topic, event)

    # -- bus callbacks ---------------------------------------------------------

    def on_reconnect(self) -> None:
        """The bus is back after an outage: backfill every local connection from the store."""
        if self._backfill is None:
            log.warning("bus reconnected, but no backfill is set: events may have been missed")
            return
        for conns in self._users.values():
            for conn in conns:
                self._spawn(self._catch_up(conn, self._backfill))

    async def _catch_up(self, conn: ClientConnection, backfill: Backfill) -> None:
        for conversation, seq in list(conn.state.seen.items()):
            async with self._backfills:
                # a held connection is authenticating (its snapshot must go out first) or
                # already replaying from the store; releasing it here would break either
                if not conn.open or conn.state.identity is None or conn.held:
                    return
                conn.hold()  # live events wait for the replay, as for a seq gap
                await backfill(
                    conn, conversation, conn.state.seen.get(conversation, seq), TO_LATEST
                )  # releases the connection when done

    def on_event(self, topic: str, event: Event) -> None:
        """Deliver one bus event to the local connections subscribed to ``topic``."""
        conns = self._topics.get(topic)
        if not conns:
            return
        kind = event.kind
        data = event.data
        if kind == "session.revoked":
            self._revoke(conns, data)
            return
        frame = text_frame(event.frame)
        skip = (
            data.get("user_id") if kind == "member.joined" and topic.startswith("group:") else None
        )
        for conn in list(conns):
            identity = conn.state.identity
            if skip is not None and identity is not None and identity.user_id == skip:
                continue
            conn.deliver(event, frame)
        self.delivered += len(conns)
        if self._on_delivered is not None:
            self._on_delivered(len(conns))
        if kind in REMOVAL_EVENTS:
            self._drop_user_from_group(data["group_id"], data["user_id"])
        elif kind == "group.deleted":
            for conn in list(conns):
                self._spawn(self._leave(conn, topic))
        elif kind in ("member.joined", "group.created") and topic.startswith("user:"):
            gid = data["group_id"] if kind == "member.joined" else data["id"]
            for conn in list(conns):
                self._spawn(self._join(conn, group_topic(gid)))

    def _revoke(self, conns: set[ClientConnection], data: dict[str, object]) -> None:
        revoked = data.get("session_ids")
        for conn in list(conns):
            identity = conn.state.identity
            if identity is None:
                continue
            if revoked is None or (isinstance(revoked, list) and identity.session_id in revoked):
                conn.close(CLOSE_REVOKED, "session revoked")

    def _drop_user_from_group(self, group_id: str, user_id: str) -> None:
        topic = group_topic(group_id)
        for conn in list(self._users.get(user_id, ())):
            if topic in conn.topics:
                self._spawn(self._leave(conn, topic))

    async def close(self) -> None:
        """Wait for pending subscription changes and backfills, then close presence."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._presence.close()
