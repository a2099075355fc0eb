"""The media bus: voice frames between socket nodes, apart from the event bus.

Voice frames are many (50 a second per speaker), small, and worthless once
late, so they do not go through :class:`~nodechat.bus.redis.RedisBus` (whose
events are logged, parked while Redis is away and replayed): they use their
own Redis pub/sub connection, one channel per voice channel
(``P media:<channel>``), which a node subscribes to only while one of its
connections is a participant. Publishing never waits: frames queue in a
bounded buffer drained by one writer task, and when it is full (Redis slow
or away) the newest frame is dropped and counted. Nothing is retried.

Each bus message is an envelope: the origin node id (length-prefixed), the
origin's wall clock in milliseconds (so a receiving node can drop frames
that arrive too late to be played), then the voice frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable

from redis.asyncio.client import PubSub

from nodechat.bus.redis import DEFAULT_PREFIX, redis_client

log = logging.getLogger(__name__)

# (voice channel id, origin node id, origin wall-clock ms, voice frame)
MediaHandler = Callable[[str, str, float, bytes], None]
QUEUE_LIMIT = 2000  # frames waiting to be published (40 speaker-seconds)
_STAMP = struct.Struct("!d")


def wrap(node_id: str, frame: bytes, now_ms: float | None = None) -> bytes:
    """The bus envelope of one frame."""
    raw = node_id.encode()
    stamp = time.time() * 1000 if now_ms is None else now_ms
    return bytes((len(raw),)) + raw + _STAMP.pack(stamp) + frame


def unwrap(data: bytes) -> tuple[str, float, bytes]:
    """Origin node, origin ms and frame of an envelope (ValueError if malformed)."""
    if not data:
        raise ValueError("empty media envelope")
    n = data[0]
    if len(data) < 1 + n + _STAMP.size:
        raise ValueError("truncated media envelope")
    (stamp,) = _STAMP.unpack_from(data, 1 + n)
    return data[1 : 1 + n].decode(), stamp, data[1 + n + _STAMP.size :]


class MediaBus(ABC):
    """A node's connection for relaying voice frames to the other nodes."""

    dropped = 0  # frames not published because the queue was full

    @abstractmethod
    def set_handler(self, handler: MediaHandler) -> None:
        """Install the callback for frames arriving on subscribed channels."""

    @abstractmethod
    def publish(self, channel_id: str, envelope: bytes) -> None:
        """Queue one envelope for the nodes subscribed to ``channel_id`` (never waits)."""

    @abstractmethod
    async def subscribe(self, channel_id: str) -> None:
        """Receive a voice channel's frames (idempotent)."""

    @abstractmethod
    async def unsubscribe(self, channel_id: str) -> None:
        """Stop receiving a voice channel's frames (idempotent)."""

    @abstractmethod
    async def close(self) -> None:
        """Stop the tasks and disconnect."""


class RedisMediaBus(MediaBus):
    """Voice frames over Redis pub/sub (a connection of its own, binary payloads)."""

    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX, name: str = "nodechat") -> None:
        self._raw_prefix = (prefix + "media:").encode()
        self._publisher = redis_client(url, name=f"{name}-media-pub", timeout=5.0)
        self._subscriber = redis_client(url, name=f"{name}-media-sub", timeout=5.0)
        self._pubsub: PubSub = self._subscriber.pubsub(ignore_subscribe_messages=True)
        self._handler: MediaHandler | None = None
        self._queue: deque[tuple[bytes, bytes]] = deque()
        self._wake = asyncio.Event()
        self._subscribed: set[str] = set()
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self.dropped = 0

    def _start(self) -> None:
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks = [
                loop.create_task(self._write_forever(), name="media-bus-writer"),
                loop.create_task(self._read_forever(), name="media-bus-reader"),
            ]

    def set_handler(self, handler: MediaHandler) -> None:
        self._handler = handler

    def publish(self, channel_id: str, envelope: bytes) -> None:
        if len(self._queue) >= QUEUE_LIMIT:
            self.dropped += 1
            return
        self._start()
        self._queue.append((self._raw_prefix + channel_id.encode(), envelope))
        self._wake.set()

    async def subscribe(self, channel_id: str) -> None:
        self._start()
        async with self._lock:
            if channel_id not in self._subscribed:
                await self._pubsub.subscribe(self._raw_prefix + channel_id.encode())
                self._subscribed.add(channel_id)

    async def unsubscribe(self, channel_id: str) -> None:
        async with self._lock:
            if channel_id in self._subscribed:
                self._subscribed.discard(channel_id)
                with contextlib.suppress(Exception):  # the reconnect forgets it anyway
                    await self._pubsub.unsubscribe(self._raw_prefix + channel_id.encode())

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()  # type: ignore[no-untyped-call,unused-ignore]  # untyped in older redis-py
        await self._subscriber.aclose()
        await self._publisher.aclose()

    async def _write_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = [self._queue.popleft() for _ in range(min(len(self._queue), 256))]
                try:
                    async with self._publisher.pipeline(transaction=False) as pipe:
                        for channel, envelope in batch:
                            pipe.publish(channel, envelope)
                        await pipe.execute()
                except Exception as exc:  # real time: a frame that cannot go now is lost
                    self.dropped += len(batch)
                    log.debug("media publish failed: %s", exc)
                    await asyncio.sleep(0.5)

    async def _read_forever(self) -> None:
        while True:
            if not self._subscribed:
                await asyncio.sleep(0.05)
                continue
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # redis-py reconnects and resubscribes on the next read
                log.info("media bus read failed: %s", exc)
                await asyncio.sleep(0.5)
                continue
            if message is None or message.get("type") != "message":
                continue
            self._dispatch(message["channel"], message["data"])

    def _dispatch(self, channel: bytes, data: bytes) -> None:
        if self._handler is None or not channel.startswith(self._raw_prefix):
            return
        try:
            origin, stamp, frame = unwrap(data)
        except (ValueError, UnicodeDecodeError):
            log.info("malformed media envelope on %r", channel)
            return
        self._handler(channel[len(self._raw_prefix) :].decode(), origin, stamp, frame)


def open_media_bus(
    url: str, *, prefix: str = DEFAULT_PREFIX, name: str = "nodechat"
) -> MediaBus | None:
    """The media bus for the event bus at ``url``; None for ``memory://`` (one node)."""
    from nodechat.bus import is_memory_url

    if is_memory_url(url):
        return None
    return RedisMediaBus(url, prefix=prefix, name=name)
