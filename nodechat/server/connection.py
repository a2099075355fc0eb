"""One client's WebSocket connection: the I/O around its session protocol.

The rules of what a client receives live in
:class:`nodechat.protocol.session.Session`; this adapter only feeds it and
carries out what it decides: it writes the session's outgoing frames (all of
one event-loop turn in one ``transport.write``), runs its timer, reads the
store when it asks for a backfill, and closes when it says so. Writes happen
only while the connection is open. A client whose unsent bytes exceed the
send-buffer bound is disconnected with close code 4009: a slow reader never
slows anyone else down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from websockets.asyncio.server import ServerConnection
from websockets.protocol import State

from nodechat.bus import Event
from nodechat.errors import ChatError
from nodechat.models import Identity
from nodechat.protocol.framing import text_frame
from nodechat.protocol.session import (
    CLOSE_SLOW_CONSUMER,
    ArmTimer,
    Backfill,
    CancelTimer,
    Close,
    Session,
)
from nodechat.services.api import ReplayResult

log = logging.getLogger(__name__)

# (identity, conversation, after seq) -> the store's messages after it (or too_old)
Replay = Callable[[Identity, str, int], Awaitable[ReplayResult]]


class Flusher:
    """Writes the frames of every connection that has some, once per event-loop turn.

    One scheduled callback per turn for the whole node instead of one per
    connection: an event fanned out to 1,000 connections used to schedule 1,000
    callbacks (a quarter of the CPU per delivery at light load)."""

    __slots__ = ("_loop", "_due")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._due: list[ClientConnection] = []

    def schedule(self, conn: ClientConnection) -> None:
        """Flush ``conn`` at the end of this turn (it marks itself, so once)."""
        if not self._due:
            self._loop.call_soon(self._run)
        self._due.append(conn)

    def _run(self) -> None:
        due, self._due = self._due, []
        for conn in due:
            conn.flush()


class ClientConnection:
    """A connected client: the socket and its session protocol."""

    __slots__ = (  # one per connection: no instance dict (docs/performance.md, memory)
        "ws",
        "state",
        "send_buffer",
        "_replay",
        "_timer",
        "_flushing",
        "_tasks",
        "busy",
        "_pending_close",
        "topics",
        "typing_at",
        "voice",
        "_loop",
        "_flusher",
        "address",
    )

    def __init__(
        self,
        ws: ServerConnection,
        *,
        send_buffer: int,
        replay: Replay,
        address: str = "",
        flusher: Flusher | None = None,
    ) -> None:
        self.ws = ws
        self.state = Session()
        self.send_buffer = send_buffer
        self._replay = replay
        self._timer: asyncio.TimerHandle | None = None
        self._flushing = False  # a flush is scheduled for the end of this loop turn
        self._tasks: set[asyncio.Task[None]] | None = None  # backfills running; made at the first
        self.busy = False  # a request is being handled
        self._pending_close: tuple[int, str] | None = None
        self.topics: set[str] = set()
        self.typing_at: dict[str, float] = {}
        self.voice: str | None = None  # the voice channel this connection joined
        self._loop = asyncio.get_running_loop()
        self._flusher = flusher or Flusher(self._loop)
        self.address = address  # the client's (behind a trusted proxy, the one it names)

    @property
    def open(self) -> bool:
        """Whether frames may still be written."""
        return self.ws.protocol.state is State.OPEN

    def send_payload(self, payload: bytes) -> None:
        """Frame and send one JSON payload (a reply, an error, the hello)."""
        self.state.outgoing.append(text_frame(payload))
        self.pump()

    def deliver(self, event: Event, frame: bytes | None = None) -> None:
        """Feed one live bus event to the session (``frame``: its shared frame bytes)."""
        self.state.receive(event, frame)
        self.pump()

    def deliver_message(self, event: Event, frame: bytes, conversation: str, seq: int) -> None:
        """Feed one live ``message.created`` (``conversation``/``seq`` read from it once
        for the whole fan-out): the next message of a followed conversation is queued
        without the session's general path."""
        if self.state.take_next(conversation, seq, frame):
            if not self._flushing:
                self._flushing = True
                self._flusher.schedule(self)
        else:
            self.deliver(event, frame)

    def catch_up(self) -> None:
        """The bus reconnected: let the session read what it may have missed."""
        self.state.catch_up()
        self.pump()

    def catch_up_on(self, conversations: Iterable[str]) -> None:
        """Let the session read these conversations to the latest from the store."""
        self.state.catch_up_on(conversations)
        self.pump()

    def pump(self) -> None:
        """Carry out what the session decided: its actions now, its frames this turn."""
        state = self.state
        if state.actions:
            actions, state.actions = state.actions, []
            for action in actions:
                self._act(action)
        if state.outgoing and not self._flushing:
            self._flushing = True
            self._flusher.schedule(self)

    def flush(self) -> None:
        """Write the queued frames now (dropped if the connection is no longer open).

        Whether it is open, and whether its unsent bytes exceed the bound, are checked
        here once per turn, not per frame queued (the state property was 9 % of the
        CPU of a fan-out when read per delivery)."""
        self._flushing = False
        out = self.state.outgoing
        if not out:
            return
        ws = self.ws
        if ws.protocol.state is not State.OPEN:
            out.clear()
            return
        transport = ws.transport
        if transport.get_write_buffer_size() > self.send_buffer:
            log.info("dropping slow client %s", self.address)
            out.clear()
            self.drop(CLOSE_SLOW_CONSUMER, "slow consumer: send buffer full")
            return
        transport.write(out[0] if len(out) == 1 else b"".join(out))
        out.clear()

    def _act(self, action: object) -> None:
        if isinstance(action, Backfill):
            task = self._loop.create_task(self._backfill(action))
            if self._tasks is None:
                self._tasks = set()
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif isinstance(action, ArmTimer):
            self._cancel_timer()
            self._timer = self._loop.call_later(action.delay, self._timer_expired)
        elif isinstance(action, CancelTimer):
            self._cancel_timer()
        elif isinstance(action, Close):
            self.close(action.code, action.reason)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timer_expired(self) -> None:
        self._timer = None
        self.state.timer_expired()
        self.pump()

    async def _backfill(self, backfill: Backfill) -> None:
        identity, conversation = self.state.identity, backfill.conversation
        try:
            if identity is None or not self.open:
                self.state.backfill_failed(conversation)
                return
            result = await self._replay(identity, conversation, backfill.after)
        except ChatError as exc:
            log.info("backfill of %s failed: %s", conversation, exc.code)
            self.state.backfill_failed(conversation)
        except Exception:
            log.exception("backfill of %s failed", conversation)
            self.state.backfill_failed(conversation)
        else:
            too_old = result.last_seq if result.too_old else None
            self.state.backfilled(conversation, result.messages, too_old=too_old)
        finally:
            self.pump()

    async def settled(self) -> None:
        """Wait for the store reads in flight (for shutdown and tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def close(self, code: int, reason: str) -> None:
        """Close without waiting (safe from synchronous callbacks).

        While a request is being handled, the close waits for its reply, so a
        client that logs out still gets the answer to its logout.
        """
        self.state.close()
        self._cancel_timer()
        if self.busy:
            self._pending_close = (code, reason)
            return
        self.flush()  # what was queued goes before the close frame
        if self.ws.protocol.state is State.OPEN:
            self._loop.create_task(self.ws.close(code, reason))

    def drop(self, code: int, reason: str) -> None:
        """Close a client that does not read: send the close frame if it fits, then
        abort the transport at once. A graceful close would wait for the peer to
        read its backlog first, which a client that stopped reading never does, and
        keep its connection, its buffered bytes and its presence meanwhile."""
        self.state.close()
        self._cancel_timer()
        self._pending_close = None
        if self.ws.protocol.state is State.OPEN:
            self._loop.create_task(self.ws.close(code, reason))
        self._loop.call_soon(self.ws.transport.abort)

    def request_done(self) -> None:
        """The current request was answered: carry out a close that waited for it."""
        self.busy = False
        if self._pending_close is not None:
            code, reason = self._pending_close
            self._pending_close = None
            self.close(code, reason)
