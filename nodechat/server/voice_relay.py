"""The voice relay of one socket node: binary frames from a participant to the others.

A frame from a connection that joined a voice channel (``voice.join``) is
checked (:func:`nodechat.protocol.voice.decode_media`), throttled by the
sender's token buckets, stamped with the sender's participant handle and
written at once, without a queue of its own, to every other local
participant's transport, and published on the media bus
(:mod:`nodechat.bus.media`) for the other nodes, which do the same for
theirs. Never back to the sender's user, never to deafened participants,
never from muted ones.

Real time: a receiver whose transport already holds more than
``voice_queue`` bytes (frames it has not read yet) gets no more voice until
it catches up; those frames are dropped and counted, never buffered. The
bound is far below ``send_buffer``, so voice can never push a connection
into the slow-consumer close that protects text, and text frames are never
held behind voice ones. A frame from another node older than
``voice_late_ms`` is dropped as late.

The relay also marks speaking: a participant whose frames flow is speaking
until ``voice_speaking_hold`` seconds pass without one; each change is
recorded in the roster and announced (``voice.updated``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from websockets.protocol import State

from nodechat.bus.media import MediaBus, wrap
from nodechat.config import SocketSettings
from nodechat.errors import ChatError, Conflict
from nodechat.protocol.frames import encode_error
from nodechat.protocol.voice import VoiceFrameError, decode_media, next_handle, restamp
from nodechat.server.connection import ClientConnection
from nodechat.server.metrics import Metrics
from nodechat.services.ratelimit import TokenBucket
from nodechat.services.voice import VoiceService

log = logging.getLogger(__name__)

CLOSE_VOICE_ABUSE = 4010
ABUSE_WINDOW = 10.0  # seconds
ABUSE_LIMIT = 500  # refused or throttled frames per window before the connection is closed
MAINTENANCE_INTERVAL = 0.1  # seconds between speaking checks
# An event computed before a join may arrive after it: absence from its roster only
# counts after this many seconds in the channel.
JOIN_GRACE = 2.0


def binary_frame(payload: bytes) -> bytes:
    """A complete, unmasked, final binary WebSocket frame (server side)."""
    n = len(payload)
    if n < 126:
        return bytes((0x82, n)) + payload
    if n < 65536:
        return bytes((0x82, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x82, 127)) + n.to_bytes(8, "big") + payload


@dataclass(eq=False, slots=True)
class Member:
    """A local connection in a voice channel."""

    conn: ClientConnection
    user_id: str
    channel_id: str
    channel_handle: int  # names the channel in this connection's frames
    handle: int  # the participant handle (sender field) in the channel
    muted: bool = False
    deafened: bool = False
    frames: TokenBucket | None = None
    octets: TokenBucket | None = None
    speaking: bool = False
    last_frame: float = 0.0
    joined_at: float = field(default_factory=time.monotonic)


@dataclass(slots=True)
class Abuse:
    """Refused frames of one connection within the current window."""

    since: float = field(default_factory=time.monotonic)
    count: int = 0


class VoiceRelay:
    """Relays voice frames between the participants of this node and the others."""

    def __init__(
        self,
        voice: VoiceService,
        settings: SocketSettings,
        metrics: Metrics,
        *,
        media: MediaBus | None = None,
        node_id: str = "",
    ) -> None:
        self.voice = voice
        self.settings = settings
        self.metrics = metrics
        self.media = media
        self.node_id = node_id
        self.members: dict[ClientConnection, Member] = {}
        self.channels: dict[str, dict[ClientConnection, Member]] = {}
        self._handles: dict[ClientConnection, int] = {}
        self._abuse: dict[ClientConnection, Abuse] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._maintenance: asyncio.Task[None] | None = None
        self._last_sweep = 0.0
        if media is not None:
            media.set_handler(self.from_bus)

    # -- membership ------------------------------------------------------------

    async def joined(self, conn: ClientConnection, channel_id: str, state: dict[str, Any]) -> int:
        """A connection entered a channel; the channel handle announced to it."""
        await self.left(conn)
        assert conn.state.identity is not None
        user_id = conn.state.identity.user_id
        for other in [m for m in self.members.values() if m.user_id == user_id]:
            await self.left(other.conn)  # one voice channel per user: the newest session wins
        handle = next_handle(self._handles.get(conn, 0))
        self._handles[conn] = handle
        s = self.settings
        member = Member(
            conn,
            user_id,
            channel_id,
            handle,
            int(state.get("handle", 0)),
            bool(state.get("muted")),
            bool(state.get("deafened")),
            TokenBucket(s.voice_frames_per_second, max(1.0, s.voice_frames_per_second / 2)),
            TokenBucket(s.voice_bytes_per_second, max(8192.0, s.voice_bytes_per_second / 2)),
        )
        self.members[conn] = member
        local = self.channels.get(channel_id)
        if local is None:
            local = self.channels[channel_id] = {}
            if self.media is not None:
                await self._quietly(self.media.subscribe(channel_id))
        local[conn] = member
        self._start()
        return handle

    async def left(self, conn: ClientConnection) -> None:
        """A connection left its channel (or closed)."""
        member = self.members.pop(conn, None)
        if member is None:
            return
        local = self.channels.get(member.channel_id)
        if local is not None:
            local.pop(conn, None)
            if not local:
                del self.channels[member.channel_id]
                if self.media is not None:
                    await self._quietly(self.media.unsubscribe(member.channel_id))

    def closed(self, conn: ClientConnection) -> None:
        """Forget a closed connection's bookkeeping (after :meth:`left`)."""
        self._handles.pop(conn, None)
        self._abuse.pop(conn, None)

    def on_updated(self, data: dict[str, Any]) -> None:
        """A ``voice.updated`` event reached this node: follow mutes, deafens and moves."""
        local = self.channels.get(str(data.get("channel")))
        states = data.get("states")
        if not local or not isinstance(states, dict):
            return
        for member in list(local.values()):
            state = states.get(member.user_id)
            if not isinstance(state, dict):
                if time.monotonic() - member.joined_at > JOIN_GRACE:
                    self._spawn(self.left(member.conn))  # left or moved from another session
                continue
            if state.get("handle") != member.handle:
                self._spawn(self.left(member.conn))  # joined again from another session
                continue
            member.muted = bool(state.get("muted"))
            member.deafened = bool(state.get("deafened"))

    def apply(self, conn: ClientConnection, state: dict[str, Any]) -> None:
        """voice.state answered on this connection: apply it before the event comes back."""
        member = self.members.get(conn)
        if member is not None:
            member.muted = bool(state.get("muted"))
            member.deafened = bool(state.get("deafened"))

    # -- media -----------------------------------------------------------------

    def on_frame(self, conn: ClientConnection, data: bytes) -> None:
        """A binary frame from a client: relay it, or refuse it with an error frame."""
        self.metrics.voice_frames.labels(direction="in").inc()
        try:
            frame = decode_media(data)
        except VoiceFrameError as exc:
            self._refuse(conn, exc)
            return
        member = self.members.get(conn)
        if member is None:
            self._refuse(conn, Conflict("join a voice channel to send voice", code="not_in_voice"))
            return
        if frame.channel != member.channel_handle:
            self._refuse(
                conn,
                Conflict(
                    "that channel handle is not the one you joined", code="voice_wrong_channel"
                ),
            )
            return
        if member.muted:
            self._dropped("muted")
            return
        assert member.frames is not None and member.octets is not None
        if not member.frames.take() or not member.octets.take(len(data)):
            self._dropped("throttled")
            self._abused(conn)
            return
        member.last_frame = time.monotonic()
        if not member.speaking:
            member.speaking = True
            self._spawn(self.voice.speaking(member.user_id, member.channel_id, True))
        stamped = restamp(data, 0, member.handle)
        self._deliver(member.channel_id, member.user_id, member.handle, stamped)
        if self.media is not None:
            self.media.publish(member.channel_id, wrap(self.node_id, stamped))

    def from_bus(self, channel_id: str, origin: str, stamp_ms: float, frame: bytes) -> None:
        """A frame another node relayed (this node's own come back too: skipped)."""
        if origin == self.node_id or len(frame) < 6:
            return
        if time.time() * 1000 - stamp_ms > self.settings.voice_late_ms:
            self._dropped("late")
            return
        sender = int.from_bytes(frame[4:6], "big")
        self._deliver(channel_id, None, sender, frame)

    def _deliver(self, channel_id: str, user_id: str | None, sender: int, frame: bytes) -> None:
        local = self.channels.get(channel_id)
        if not local:
            return
        limit = self.settings.voice_queue
        sent = 0
        for member in local.values():
            if member.deafened or member.user_id == user_id or member.handle == sender:
                continue
            conn = member.conn
            if conn.ws.protocol.state is not State.OPEN:
                continue
            transport = conn.ws.transport
            if transport.get_write_buffer_size() > limit:
                self._dropped("queue")  # the receiver is behind: drop, never queue
                continue
            transport.write(binary_frame(restamp(frame, member.channel_handle, sender)))
            sent += 1
        if sent:
            self.metrics.voice_frames.labels(direction="out").inc(sent)

    # -- refusals, abuse and bookkeeping ---------------------------------------

    def _dropped(self, reason: str) -> None:
        self.metrics.voice_dropped.labels(reason=reason).inc()

    def _refuse(self, conn: ClientConnection, exc: ChatError) -> None:
        # every refused frame is answered, as every bad text frame is; the abuse limit
        # bounds the echo (a client that keeps sending garbage is closed with 4010)
        self.metrics.voice_dropped.labels(reason="refused").inc()
        if self._abused(conn) is not None:
            conn.send_payload(encode_error(None, exc))

    def _abused(self, conn: ClientConnection) -> Abuse | None:
        now = time.monotonic()
        abuse = self._abuse.get(conn)
        if abuse is None or now - abuse.since > ABUSE_WINDOW:
            abuse = self._abuse[conn] = Abuse(now)
        abuse.count += 1
        if abuse.count > ABUSE_LIMIT:
            conn.close(CLOSE_VOICE_ABUSE, "voice frames refused too often")
            return None
        return abuse

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _quietly(call: Awaitable[None]) -> None:
        try:
            await call
        except Exception as exc:  # media to other nodes is best effort; local relay goes on
            log.warning("media bus: %s", exc)

    def _start(self) -> None:
        if self._maintenance is None:
            self._maintenance = asyncio.get_running_loop().create_task(
                self._maintain_forever(), name="voice-maintenance"
            )

    async def _maintain_forever(self) -> None:
        while True:
            await asyncio.sleep(MAINTENANCE_INTERVAL)
            now = time.monotonic()
            hold = self.settings.voice_speaking_hold
            for member in list(self.members.values()):
                if member.speaking and now - member.last_frame > hold:
                    member.speaking = False
                    self._spawn(self.voice.speaking(member.user_id, member.channel_id, False))
            if now - self._last_sweep >= self.settings.voice_sweep_interval:
                self._last_sweep = now
                try:
                    await self.voice.sweep()
                except ChatError as exc:
                    log.info("voice sweep failed: %s", exc.code)

    def start(self) -> None:
        """Start the speaking and dead-node sweeps now (they start at the first join too)."""
        self._start()

    async def close(self) -> None:
        """Stop the background work."""
        if self._maintenance is not None:
            self._maintenance.cancel()
            await asyncio.gather(self._maintenance, return_exceptions=True)
            self._maintenance = None
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
