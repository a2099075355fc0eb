"""Redis pub/sub bus: one channel per topic, one subscriber connection per node.

Publishing goes through a single writer task that pipelines whatever is
queued, so events leave in the order ``publish`` was called. Receiving runs
in a reader task on a dedicated pub/sub connection that is SUBSCRIBEd to
exactly the topics the node's sessions need; each message is decoded once and
handed to the handler on the event loop.

The reader owns the connection's life. When it is lost (server closed it, or
no reply to a PING within two ping intervals) the bus turns unhealthy,
reconnects with bounded exponential backoff, resubscribes every wanted topic,
waits for the server to confirm them, turns healthy, replays from the event
log what it missed (:mod:`nodechat.bus.eventlog`) and only then calls the
reconnect handler, so a backfill from the store cannot miss what comes next.
redis-py's own silent reconnect is switched off on that connection, because a
reconnect nobody notices is a gap nobody fills.

A publish while Redis is unreachable is *parked* (at most :data:`PARK_LIMIT`
events, the oldest dropped first) and sent, in order, once the bus is back;
only ``typing`` is dropped instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from functools import partial
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from nodechat.bus.base import Bus, EventHandler, ReconnectHandler
from nodechat.bus.eventlog import LOG_LENGTH, EventLog, Trimmed, logged, payload_number
from nodechat.bus.events import Event, decode_events, encode_bundle, encode_event
from nodechat.errors import InternalError, InvalidRequest, Unavailable

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "nodechat:"

_CONNECTION_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)

PARK_LIMIT = 10_000
"""Events kept for sending while Redis is unreachable (per node)."""

RETRY_AFTER = 1.0
"""Seconds before parked events are tried again after a failed PUBLISH."""

# A queued PUBLISH: channel, payload, the topic when it goes through the event log,
# and the future of the publish call that waits for it (None once parked).
_Item = tuple[bytes, bytes, str | None, "asyncio.Future[None] | None"]


@contextlib.contextmanager
def redis_errors(what: str, code: str = "bus_unavailable") -> Iterator[None]:
    """Map redis-py failures inside the block to nodechat errors (``Unavailable`` or internal)."""
    try:
        yield
    except _CONNECTION_ERRORS as exc:
        raise Unavailable(f"{what}: Redis is unreachable", code=code) from exc
    except RedisError as exc:
        raise InternalError(f"{what}: Redis error") from exc


def redis_client(url: str, *, name: str, timeout: float, quiet: bool = False) -> Redis:
    """A client for ``url``; ``quiet`` turns off redis-py's transparent retry and reconnect."""
    retry = Retry(NoBackoff(), 0, ()) if quiet else Retry(ExponentialBackoff(0.5, 0.05), 2)
    client: Redis = Redis.from_url(
        url, client_name=name, socket_connect_timeout=timeout, socket_timeout=timeout, retry=retry
    )
    return client


class _Stale(RedisConnectionError):
    """The pub/sub connection stopped answering PINGs."""


class RedisBus(Bus):
    """A node's connection to Redis pub/sub (``redis://`` or ``rediss://``)."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        name: str = "nodechat",
        ping_interval: float = 5.0,
        timeout: float = 5.0,
        backoff_min: float = 0.1,
        backoff_max: float = 2.0,
        log_length: int = LOG_LENGTH,
    ) -> None:
        self.prefix = prefix
        self._raw_prefix = prefix.encode()
        self._ping_interval = ping_interval
        self._timeout = timeout
        self._backoff = (backoff_min, backoff_max)
        self._publisher = redis_client(url, name=f"{name}-pub", timeout=timeout)
        self._subscriber = redis_client(url, name=f"{name}-sub", timeout=timeout, quiet=True)
        self._handler: EventHandler | None = None
        self._on_reconnect: ReconnectHandler | None = None
        self._wanted: set[str] = set()
        self._pubsub: PubSub | None = None  # the live connection, None while disconnected
        self._lock = asyncio.Lock()  # orders (UN)SUBSCRIBE against connection changes
        self._confirms: dict[bytes, deque[asyncio.Future[None]]] = {}  # per SUBSCRIBE sent
        self._generation = 0  # bumped per connection, so stale confirmations are ignored
        self._resync_left = 0
        self._healthy = False
        self._lost = False  # something may have been missed: reconnect handler is due
        self._first = asyncio.Event()  # the first connection attempt has ended
        self._log = EventLog(self._publisher, self._raw_prefix, length=log_length)
        self._mark_channel = self._raw_prefix + b"mark:" + uuid.uuid4().hex.encode()
        self._replay_due = False
        self._replay_from: int | None = None
        self._buffer: list[tuple[bytes, bytes]] | None = None  # live data held behind a replay
        self._marks: set[asyncio.Future[None]] = set()
        self._outbox: list[_Item] = []
        self._sending: list[_Item] = []
        self._parked: deque[_Item] = deque(maxlen=PARK_LIMIT)
        self.parked_dropped = 0  # parked events pushed out by newer ones
        self.replayed = 0  # events delivered from the event log after outages
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        with contextlib.suppress(RuntimeError):  # no running loop: start on first use
            asyncio.get_running_loop()
            self._start()

    # -- Bus interface ---------------------------------------------------------

    def set_handler(self, handler: EventHandler) -> None:
        self._handler = handler

    def set_reconnect_handler(self, handler: ReconnectHandler | None) -> None:
        self._on_reconnect = handler

    @property
    def healthy(self) -> bool:
        return self._healthy and not self._closed

    async def ready(self, timeout: float | None = None) -> bool:
        """Wait for the first connection attempt to end; whether the bus is healthy."""
        self._start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                self._first.wait(), self._timeout if timeout is None else timeout
            )
        return self.healthy

    async def publish(self, topic: str, event: Event) -> None:
        """Queue one PUBLISH and wait until it is sent, or parked while Redis is unreachable.

        Raises ``Unavailable(code='bus_unavailable')`` only once the bus is closed.
        """
        await self.publish_many(((topic, event),))

    async def publish_many(self, events: Sequence[tuple[str, Event]]) -> None:
        """Queue every PUBLISH at once (in order) and wait for them together."""
        if self._closed:
            raise Unavailable("the event bus is closed", code="bus_unavailable")
        if not events:
            return
        if not self.healthy and not await self.ready():
            for topic, event in events:
                if event.kind != "typing":  # stale long before Redis is back
                    channel, payload, log_topic = self._payload(topic, event)
                    self._park((channel, payload, log_topic, None))
            return
        loop = asyncio.get_running_loop()
        futures = []
        for channel, payload, log_topic in self._payloads(events):
            future = loop.create_future()
            self._outbox.append((channel, payload, log_topic, future))
            futures.append(future)
        self._wake.set()
        await asyncio.gather(*futures)

    def _payload(self, topic: str, event: Event) -> tuple[bytes, bytes, str | None]:
        return self._channel(topic), encode_event(event), topic if logged(event) else None

    def _payloads(
        self, events: Sequence[tuple[str, Event]]
    ) -> list[tuple[bytes, bytes, str | None]]:
        """One PUBLISH per event; new messages of one topic travel as one bundle.

        Bundling keeps each topic's order but not the interleaving between
        topics, which only matters across conversations, so it is done only
        when every event is a ``message.created`` (a SendMany reply's events,
        which the event log does not carry).
        """
        if len(events) < 2 or any(e.kind != "message.created" for _, e in events):
            return [self._payload(t, e) for t, e in events]
        by_topic: dict[str, list[Event]] = {}
        for topic, event in events:
            by_topic.setdefault(topic, []).append(event)
        return [
            (self._channel(t), encode_event(evs[0]) if len(evs) == 1 else encode_bundle(evs), None)
            for t, evs in by_topic.items()
        ]

    def _park(self, item: _Item) -> None:
        if len(self._parked) == self._parked.maxlen:
            self.parked_dropped += 1
            if self.parked_dropped == 1:
                log.warning(
                    "event bus unreachable: over %d events waiting, the oldest are dropped",
                    PARK_LIMIT,
                )
        self._parked.append(item)

    async def subscribe(self, topic: str) -> None:
        """SUBSCRIBE and wait for the server's confirmation (while connected)."""
        if self._closed:
            raise Unavailable("the event bus is closed", code="bus_unavailable")
        if topic in self._wanted:
            return
        if not self._first.is_set():
            await self.ready()
        async with self._lock:
            if topic in self._wanted:
                return
            self._wanted.add(topic)
            pubsub = self._pubsub
            if pubsub is None:  # resubscribed on reconnect; the reconnect handler backfills
                self._lost = True
                return
            channel = self._channel(topic)
            confirmed = self._expect(channel)
            try:
                await pubsub.subscribe(channel)
            except _CONNECTION_ERRORS:
                self._lost = True  # the reader sees the same failure and reconnects
                return
        try:
            await asyncio.wait_for(confirmed, self._timeout)
        except TimeoutError:
            self._lost = True
            log.warning("no confirmation of SUBSCRIBE %s", topic)

    async def unsubscribe(self, topic: str) -> None:
        """UNSUBSCRIBE; nothing of ``topic`` is delivered after this returns."""
        async with self._lock:
            if topic not in self._wanted:
                return
            self._wanted.discard(topic)
            pubsub = self._pubsub
            if pubsub is not None:
                with contextlib.suppress(*_CONNECTION_ERRORS):  # a new connection will not have it
                    await pubsub.unsubscribe(self._channel(topic))

    async def close(self) -> None:
        """Stop the reader and writer, fail queued publishes, close both connections."""
        if self._closed:
            return
        self._closed = True
        self._healthy = False
        self._first.set()
        for task in (*self._tasks, *self._marks):
            task.cancel()
        await asyncio.gather(*self._tasks, *self._marks, return_exceptions=True)
        async with self._lock:
            pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            await _close_pubsub(pubsub)
        self._fail_outbox(self._sending + self._outbox, "the event bus is closed")
        if self._parked:
            log.warning("event bus closed with %d events never sent", len(self._parked))
        self._sending, self._outbox = [], []
        self._parked.clear()
        self._settle_confirms()
        await self._publisher.aclose()
        await self._subscriber.aclose()

    # -- internals -------------------------------------------------------------

    def _channel(self, topic: str) -> bytes:
        return self._raw_prefix + topic.encode()

    def _start(self) -> None:
        if self._tasks or self._closed:
            return
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._read_forever(), name="redis-bus-reader"),
            loop.create_task(self._write_forever(), name="redis-bus-writer"),
        ]

    def _expect(self, channel: bytes) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._confirms.setdefault(channel, deque()).append(future)
        return future

    def _settle_confirms(self) -> None:
        """Release every SUBSCRIBE waiter (the connection they waited on is gone)."""
        for waiters in self._confirms.values():
            for future in waiters:
                if not future.done():
                    future.set_result(None)
        self._confirms.clear()

    async def _write_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._parked and not self.healthy:
                continue  # the reader wakes this task once Redis is back
            batch = [*self._parked, *self._outbox]
            self._parked.clear()
            self._outbox = []
            if not batch:
                continue
            self._sending = batch
            try:
                async with self._publisher.pipeline(transaction=False) as pipe:
                    for channel, payload, log_topic, _ in batch:
                        if log_topic is None:
                            pipe.publish(channel, payload)
                        else:
                            self._log.append(pipe, channel, log_topic, payload)
                    await pipe.execute()
            except Exception as exc:  # the writer must outlive any failure, or publish hangs
                log.warning("PUBLISH of %d events failed, kept to retry: %s", len(batch), exc)
                kept = [item[:3] + (None,) for item in batch if not _is_typing(item[1])]
                self._parked = deque([*kept, *self._parked][-PARK_LIMIT:], maxlen=PARK_LIMIT)
                loop.call_later(RETRY_AFTER, self._wake.set)
            self._sending = []
            for *_, future in batch:
                if future is not None and not future.done():
                    future.set_result(None)

    @staticmethod
    def _fail_outbox(batch: list[_Item], message: str) -> None:
        for *_, future in batch:
            if future is not None and not future.done():
                future.set_exception(Unavailable(message, code="bus_unavailable"))

    async def _read_forever(self) -> None:
        delay, failures = self._backoff[0], 0
        while True:
            try:
                pubsub = await self._connect()
                delay, failures = self._backoff[0], 0
                await self._read(pubsub)
            except (RedisError, OSError) as exc:
                failures += 1
                level = logging.WARNING if failures == 1 else logging.DEBUG
                log.log(level, "event bus disconnected (%s); reconnecting", exc or type(exc))
            except Exception:  # never let a bug end the reader; log it and reconnect
                log.exception("event bus reader failed; reconnecting")
            await self._disconnect()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff[1])

    async def _connect(self) -> PubSub:
        pubsub = self._subscriber.pubsub()
        try:
            await pubsub.connect()  # type: ignore[no-untyped-call]  # redis-py: untyped
            self._replay_from = await self._log.start()
            # what arrives while resubscribing waits behind the replay
            self._buffer = None if self._replay_from is None else []
            async with self._lock:
                self._generation += 1
                channels = [self._mark_channel, *(self._channel(t) for t in self._wanted)]
                self._resync_left = len(channels)
                for channel in channels:
                    self._expect(channel).add_done_callback(
                        partial(self._resubscribed, self._generation)
                    )
                await pubsub.subscribe(*channels)
                self._pubsub = pubsub
        except BaseException:
            await _close_pubsub(pubsub)
            raise
        return pubsub

    def _resubscribed(self, generation: int, future: asyncio.Future[None]) -> None:
        if generation != self._generation or self._pubsub is None:
            return
        self._resync_left -= 1
        if self._resync_left == 0:
            self._mark_healthy()

    def _mark_healthy(self) -> None:
        self._healthy = True
        self._first.set()
        self._wake.set()  # parked events go out now
        if self._buffer is not None:
            self._replay_due = True  # the reader replays before it reads on

    async def _replay(self) -> None:
        """Deliver what the event log has after the newest event seen here, then what
        arrived while resubscribing, then tell the reconnect handler (which reads
        missed messages from the store)."""
        self._replay_due = False
        start = self._replay_from
        replayed, lost = 0, False
        if start is not None:
            try:
                async for page in self._log.replay(start):
                    for topic, payload in page:
                        if topic in self._wanted:
                            replayed += 1
                            self._dispatch(topic, payload)
            except Trimmed:
                lost = True
        buffered, self._buffer = self._buffer or [], None
        for channel, data in buffered:
            self._on_data(channel, data)
        self.replayed += replayed
        if replayed or lost:
            log.info(
                "event bus back: %d events replayed%s",
                replayed,
                ", some were trimmed" if lost else "",
            )
        if not self._lost:
            return
        self._lost = False
        handler = self._on_reconnect
        if handler is not None:
            try:
                handler(lost)
            except Exception:
                log.exception("bus reconnect handler failed")

    async def _disconnect(self) -> None:
        self._first.set()
        if self._healthy or self._wanted:
            self._lost = True
        self._healthy = False
        self._buffer, self._replay_due = None, False  # the next connection replays again
        async with self._lock:
            pubsub, self._pubsub = self._pubsub, None
            self._settle_confirms()
        if pubsub is not None:
            await _close_pubsub(pubsub)

    async def _read(self, pubsub: PubSub) -> None:
        loop = asyncio.get_running_loop()
        last, pinged = loop.time(), False
        next_mark = last + self._ping_interval
        while True:
            if self._replay_due:
                await self._replay()
            message: dict[str, Any] | None = await pubsub.get_message(timeout=self._ping_interval)
            now = loop.time()
            if now >= next_mark and self._healthy:
                next_mark = now + self._ping_interval
                self._spawn_mark()
            if message is None:
                idle = now - last
                if idle >= 2 * self._ping_interval:
                    raise _Stale("no reply to PING")
                if idle >= self._ping_interval and not pinged:
                    await pubsub.ping()
                    pinged = True
                continue
            last, pinged = now, False
            self._on_message(message)
            if message["type"] == "subscribe":
                await asyncio.sleep(0)  # confirmations' callbacks run: a replay may be due

    def _spawn_mark(self) -> None:
        """Ask for a mark (the log's newest id on this node's channel), in the background."""

        async def mark() -> None:
            with contextlib.suppress(RedisError, OSError):
                await self._log.request_mark(self._mark_channel)

        task = asyncio.ensure_future(mark())
        self._marks.add(task)
        task.add_done_callback(self._marks.discard)

    def _on_message(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        channel: bytes = message["channel"]
        if kind == "message":
            if self._buffer is not None:
                self._buffer.append((channel, message["data"]))
            else:
                self._on_data(channel, message["data"])
        elif kind == "subscribe":
            waiters = self._confirms.get(channel)
            if waiters:
                future = waiters.popleft()
                if not waiters:
                    del self._confirms[channel]
                if not future.done():
                    future.set_result(None)

    def _on_data(self, channel: bytes, data: bytes) -> None:
        if channel == self._mark_channel:
            self._log.marked(data)
            return
        number = payload_number(data)
        if number is not None and self._log.seen(number):
            return  # delivered by the replay already
        topic = channel[len(self._raw_prefix) :].decode(errors="replace")
        if topic in self._wanted:  # else in flight when it was unsubscribed
            self._dispatch(topic, data)

    def _dispatch(self, topic: str, data: bytes) -> None:
        try:
            events = decode_events(data)
        except InvalidRequest:
            log.warning("skipped a malformed event on %s", topic)
            return
        handler = self._handler
        if handler is not None:
            for event in events:
                try:
                    handler(topic, event)
                except Exception:
                    log.exception("bus event handler failed on %s %s", topic, event.kind)


def _is_typing(payload: bytes) -> bool:
    return payload.startswith(b'{"k":"typing"')


async def _close_pubsub(pubsub: PubSub) -> None:
    with contextlib.suppress(RedisError, OSError):
        await pubsub.aclose()  # type: ignore[no-untyped-call,unused-ignore]  # untyped in older redis-py
