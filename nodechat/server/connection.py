"""One client's WebSocket connection: writes frames, applies the session state to events.

All writes go straight to the transport as pre-framed bytes (see
:mod:`nodechat.server.framing`), and only while the connection is open. A
client whose unsent bytes exceed the send-buffer bound is disconnected with
close code 4009: a slow reader never slows anyone else down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.protocol import State

from nodechat.bus import Event
from nodechat.protocol.session import SessionState, Verdict
from nodechat.server.framing import text_frame

log = logging.getLogger(__name__)

CLOSE_REVOKED = 4001
CLOSE_AUTH_TIMEOUT = 4002
CLOSE_RATE_LIMIT = 4008
CLOSE_SLOW_CONSUMER = 4009

GAP_GRACE = 0.05  # seconds a seq gap may wait for its events before the store is read

Backfill = Callable[["ClientConnection", str, int, int], Awaitable[None]]


class ClientConnection:
    """A connected client: the socket, its session state, and its pending events."""

    def __init__(self, ws: ServerConnection, *, send_buffer: int, backfill: Backfill) -> None:
        self.ws = ws
        self.state = SessionState()
        self.send_buffer = send_buffer
        self._backfill = backfill
        self._held: list[Event] | None = None  # events held while replaying
        # a seq gap waiting for its events: (conversation, last missing seq, timer)
        self._gap: tuple[str, int, asyncio.TimerHandle] | None = None
        self._presence: dict[str, str] = {}  # user id -> last status sent
        self.busy = False  # a request is being handled
        self._pending_close: tuple[int, str] | None = None
        self.topics: set[str] = set()
        self.typing_at: dict[str, float] = {}
        self.voice: str | None = None  # the voice channel this connection joined
        self._out: list[bytes] = []  # frames queued for the end of this loop turn
        self._loop = asyncio.get_running_loop()
        self.address = ws.remote_address[0] if ws.remote_address else ""

    @property
    def open(self) -> bool:
        """Whether frames may still be written."""
        return self.ws.protocol.state is State.OPEN

    def send_payload(self, payload: bytes) -> None:
        """Frame and write one JSON payload."""
        self.send_frame(text_frame(payload))

    def send_frame(self, frame: bytes) -> None:
        """Queue one pre-framed message, or drop this client if it cannot keep up.

        Frames queued in one event-loop turn (a group's acks, a batch of bus
        events) go out in one write at the end of the turn: one system call
        instead of one per frame.
        """
        if self.ws.protocol.state is not State.OPEN:
            return
        if self.ws.transport.get_write_buffer_size() > self.send_buffer:
            log.info("dropping slow client %s", self.address)
            self.close(CLOSE_SLOW_CONSUMER, "slow consumer: send buffer full")
            return
        if not self._out:
            self._loop.call_soon(self.flush)
        self._out.append(frame)

    def flush(self) -> None:
        """Write the queued frames now (dropped if the connection is no longer open)."""
        out, self._out = self._out, []
        if out and self.ws.protocol.state is State.OPEN:
            self.ws.transport.write(b"".join(out))

    def close(self, code: int, reason: str) -> None:
        """Close without waiting (safe from synchronous callbacks).

        While a request is being handled, the close waits for its reply, so a
        client that logs out still gets the answer to its logout.
        """
        self.state.closed()
        if self.busy:
            self._pending_close = (code, reason)
            return
        self.flush()  # what was queued goes before the close frame
        if self.ws.protocol.state is State.OPEN:
            self._loop.create_task(self.ws.close(code, reason))

    def request_done(self) -> None:
        """The current request was answered: carry out a close that waited for it."""
        self.busy = False
        if self._pending_close is not None:
            code, reason = self._pending_close
            self._pending_close = None
            self.close(code, reason)

    # -- event delivery ------------------------------------------------------

    @property
    def held(self) -> bool:
        """Whether live events are being held (authenticating or filling a gap)."""
        return self._held is not None

    def hold(self) -> None:
        """Hold live events until :meth:`release` (used while replaying from the store)."""
        if self._held is None:
            self._held = []

    def seed_presence(self, online: list[str], people: set[str]) -> None:
        """Remember the presence the snapshot reported, so repeats are not sent again."""
        self._presence = {user_id: "offline" for user_id in people}
        self._presence.update((user_id, "online") for user_id in online)

    def _start_backfill(self, conversation: str, after: int, through: int) -> None:
        self._gap = None
        if conversation in self.state.fresh:
            # first seen live and its start never arrived: it starts with what came first
            self.state.fresh.discard(conversation)
            if self.fill_from_held(conversation) < through:
                self.state.advance(conversation, through)
            self.release()
            return
        asyncio.ensure_future(self._backfill(self, conversation, after, through))

    def fill_from_held(self, conversation: str) -> int:
        """Deliver the held messages of ``conversation`` that continue it without a gap, in
        seq order; return the last seq delivered. (Release then drops them as duplicates.)"""
        if self._held:
            waiting = sorted(
                (
                    e
                    for e in self._held
                    if e.kind == "message.created" and e.data["conversation"] == conversation
                ),
                key=lambda e: int(e.data["seq"]),
            )
            for event in waiting:
                seq = event.data["seq"]
                last = self.state.seen.get(conversation, 0)
                if seq <= last:
                    continue
                if seq != last + 1:
                    break
                self.send_frame(text_frame(event.frame))
                self.state.advance(conversation, seq)
        return self.state.seen.get(conversation, 0)

    def discard_held(self) -> None:
        """Drop held events (the session they were held for did not start)."""
        self._held = None

    def release(self) -> None:
        """Deliver what was held, in arrival order, through the normal checks."""
        held, self._held = self._held, None
        for event in held or ():
            self.deliver(event)
            if self._held is not None:  # a gap started another backfill
                self._held.extend(held[held.index(event) + 1 :])
                return

    def deliver(self, event: Event, frame: bytes | None = None) -> None:
        """Send an event to this client unless it is a duplicate; fetch gaps first."""
        if self._held is not None:
            self._held.append(event)
            gap = self._gap
            if (
                gap is not None
                and event.kind == "message.created"
                and event.data["conversation"] == gap[0]
                and self.fill_from_held(gap[0]) >= gap[1]
            ):
                gap[2].cancel()  # the missing events came after all: no store read
                self._gap = None
                self.state.fresh.discard(gap[0])
                self.release()
            return
        if event.kind == "message.created":
            data: dict[str, Any] = event.data
            conversation, seq = data["conversation"], data["seq"]
            verdict = self.state.admit(conversation, seq)
            if verdict is Verdict.DUPLICATE:
                return
            if verdict is Verdict.GAP:
                after = self.state.seen[conversation]
                self.hold()
                assert self._held is not None
                self._held.append(event)
                # Events of one conversation published by different nodes can arrive out
                # of order: give the missing ones a moment before reading the store.
                handle = asyncio.get_running_loop().call_later(
                    GAP_GRACE, self._start_backfill, conversation, after, seq - 1
                )
                self._gap = (conversation, seq - 1, handle)
                return
        elif event.kind == "presence":
            # one status change reaches a user through every shared group: send it once
            user_id, status = event.data["user_id"], event.data["status"]
            if self._presence.get(user_id) == status:
                return
            self._presence[user_id] = status
        self.send_frame(frame if frame is not None else text_frame(event.frame))
