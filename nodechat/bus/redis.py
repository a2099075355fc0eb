"""Redis pub/sub bus: one channel per topic, one subscriber connection per node.

Publishing goes through a single writer task that pipelines whatever is
queued, so events leave in the order ``publish`` was called. Receiving runs
in a reader task on a dedicated pub/sub connection that is SUBSCRIBEd to
exactly the topics the node's sessions need; each message is decoded once and
handed to the handler on the event loop.

The reader owns the connection's life. When it is lost (server closed it, or
no reply to a PING within two ping intervals) the bus turns unhealthy,
reconnects with bounded exponential backoff, resubscribes every wanted topic,
waits for the server to confirm them, turns healthy and only then calls the
reconnect handler, so a backfill from the store cannot miss what comes next.
redis-py's own silent reconnect is switched off on that connection, because a
reconnect nobody notices is a gap nobody fills.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
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
from nodechat.bus.events import Event, decode_events, encode_bundle, encode_event
from nodechat.errors import InternalError, InvalidRequest, Unavailable

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "nodechat:"

_CONNECTION_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)


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
        self._outbox: list[tuple[bytes, bytes, asyncio.Future[None]]] = []
        self._sending: list[tuple[bytes, bytes, asyncio.Future[None]]] = []
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
        """Queue one PUBLISH; raises ``Unavailable(code='bus_unavailable')`` while disconnected."""
        if not self.healthy and not await self.ready():
            raise Unavailable("the event bus is disconnected", code="bus_unavailable")
        future = asyncio.get_running_loop().create_future()
        self._outbox.append((self._channel(topic), encode_event(event), future))
        self._wake.set()
        await future

    async def publish_many(self, events: Sequence[tuple[str, Event]]) -> None:
        """Queue every PUBLISH at once (in order) and wait for them together."""
        if not events:
            return
        if not self.healthy and not await self.ready():
            raise Unavailable("the event bus is disconnected", code="bus_unavailable")
        loop = asyncio.get_running_loop()
        futures = []
        for channel, payload in self._payloads(events):
            future = loop.create_future()
            self._outbox.append((channel, payload, future))
            futures.append(future)
        self._wake.set()
        await asyncio.gather(*futures)

    def _payloads(self, events: Sequence[tuple[str, Event]]) -> list[tuple[bytes, bytes]]:
        """One PUBLISH per event; new messages of one topic travel as one bundle.

        Bundling keeps each topic's order but not the interleaving between
        topics, which only matters across conversations, so it is done only
        when every event is a ``message.created`` (a SendMany reply's events).
        """
        if len(events) < 2 or any(e.kind != "message.created" for _, e in events):
            return [(self._channel(t), encode_event(e)) for t, e in events]
        by_topic: dict[str, list[Event]] = {}
        for topic, event in events:
            by_topic.setdefault(topic, []).append(event)
        return [
            (self._channel(t), encode_event(evs[0]) if len(evs) == 1 else encode_bundle(evs))
            for t, evs in by_topic.items()
        ]

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
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        async with self._lock:
            pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            await _close_pubsub(pubsub)
        self._fail_outbox(self._sending + self._outbox, "the event bus is closed")
        self._sending, self._outbox = [], []
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
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._outbox = self._outbox, []
            if not batch:
                continue
            self._sending = batch
            try:
                async with self._publisher.pipeline(transaction=False) as pipe:
                    for channel, payload, _ in batch:
                        pipe.publish(channel, payload)
                    await pipe.execute()
            except Exception as exc:  # the writer must outlive any failure, or publish hangs
                log.warning("PUBLISH of %d events failed: %s", len(batch), exc)
                self._fail_outbox(batch, "the event bus is unreachable")
            else:
                for _, _, future in batch:
                    if not future.done():
                        future.set_result(None)

    @staticmethod
    def _fail_outbox(batch: list[tuple[bytes, bytes, asyncio.Future[None]]], message: str) -> None:
        for _, _, future in batch:
            if not future.done():
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
            async with self._lock:
                self._generation += 1
                channels = [self._channel(t) for t in self._wanted]
                self._resync_left = len(channels)
                for channel in channels:
                    self._expect(channel).add_done_callback(
                        partial(self._resubscribed, self._generation)
                    )
                if channels:
                    await pubsub.subscribe(*channels)
                self._pubsub = pubsub
        except BaseException:
            await _close_pubsub(pubsub)
            raise
        if not channels:
            self._mark_healthy()
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
        if self._lost:
            self._lost = False
            handler = self._on_reconnect
            if handler is not None:
                try:
                    handler()
                except Exception:
                    log.exception("bus reconnect handler failed")

    async def _disconnect(self) -> None:
        self._first.set()
        if self._healthy or self._wanted:
            self._lost = True
        self._healthy = False
        async with self._lock:
            pubsub, self._pubsub = self._pubsub, None
            self._settle_confirms()
        if pubsub is not None:
            await _close_pubsub(pubsub)

    async def _read(self, pubsub: PubSub) -> None:
        loop = asyncio.get_running_loop()
        last, pinged = loop.time(), False
        while True:
            message: dict[str, Any] | None = await pubsub.get_message(timeout=self._ping_interval)
            now = loop.time()
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

    def _on_message(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        channel: bytes = message["channel"]
        if kind == "message":
            topic = channel[len(self._raw_prefix) :].decode(errors="replace")
            if topic not in self._wanted:  # in flight when it was unsubscribed
                return
            try:
                events = decode_events(message["data"])
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
        elif kind == "subscribe":
            waiters = self._confirms.get(channel)
            if waiters:
                future = waiters.popleft()
                if not waiters:
                    del self._confirms[channel]
                if not future.done():
                    future.set_result(None)


async def _close_pubsub(pubsub: PubSub) -> None:
    with contextlib.suppress(RedisError, OSError):
        await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py: untyped
