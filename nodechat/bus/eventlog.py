"""The Redis bus's event log: what a node missed while it was cut off, replayed.

Redis pub/sub keeps no backlog. Messages are recovered from the store (seq
gaps, catch-up on reconnect), but edits, deletions, membership, revocations,
presence and voice changes have no seq, so every such event also goes into
one Redis stream (``<prefix>events``): one Lua script numbers it (1, 2, 3, …
with no gaps, the entry id ``n-0``), appends it and publishes it with its
number in front (``{"i": n, "k": …, "d": …}``), so the stream's order and the
pub/sub order are the same.

Each subscriber keeps the newest number it has seen (:attr:`EventLog.last`).
On reconnect it reads the stream after that number and delivers what belongs
to its topics before anything that arrived live, which it then skips when its
number is not newer. To keep the read short, a node also asks Redis every few
seconds for a *mark*: the newest number, published on the node's own channel;
everything up to it has reached the node by the time the mark does.

The stream is capped (``MAXLEN ~``, :data:`LOG_LENGTH`) and expires after a
day without events. Numbers have no gaps, so a replay that does not start at
``last + 1`` was trimmed: :meth:`EventLog.replay` says so, and the node has
its clients reconnect (close 1012) to rebuild their state from a fresh
snapshot. A Redis that restarted empty starts a new *epoch* (a random token
kept beside the log): a node that finds a new epoch replays the whole new log.

Not logged: ``message.created`` (the store replays messages by seq, and the
log would carry every message twice) and ``typing`` (stale within seconds).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis

from nodechat.bus.events import Event

LOG_LENGTH = 100_000
"""Events kept in the log: enough for any outage of minutes on a busy cluster."""

LOG_IDLE_TTL_MS = 86_400_000
"""A log nobody appends to for this long is deleted (a prefix no longer used)."""

PAGE = 1000
"""Entries read per XRANGE when replaying."""

UNLOGGED = frozenset({"message.created", "typing"})

_APPEND = """
local n = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[3], ARGV[5], 'NX')
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], n .. '-0', 't', ARGV[1], 'e', ARGV[2])
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
redis.call('PUBLISH', KEYS[4], '{"i":' .. n .. ',' .. string.sub(ARGV[2], 2))
return n
"""

_MARK = """
redis.call('PUBLISH', KEYS[2], redis.call('GET', KEYS[1]) or '0')
"""

_EPOCH = """
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2]) or '0'}
"""

_ID_PREFIX = b'{"i":'


def logged(event: Event) -> bool:
    """Whether ``event`` goes through the log (and so is replayed after an outage)."""
    return event.kind not in UNLOGGED


def payload_number(payload: bytes) -> int | None:
    """The log number in front of a published event, or None for an unlogged one."""
    if not payload.startswith(_ID_PREFIX):
        return None
    end = payload.find(b",", len(_ID_PREFIX))
    try:
        return int(payload[len(_ID_PREFIX) : end])
    except ValueError:
        return None


class EventLog:
    """One node's view of the log: append through a pipeline, replay after an outage."""

    def __init__(self, client: Redis, prefix: bytes, *, length: int = LOG_LENGTH) -> None:
        self._keys = (prefix + b"events", prefix + b"events:n", prefix + b"events:epoch")
        self._length = length
        self._token = uuid.uuid4().hex  # this node's candidate epoch, if it starts the log
        self._append = client.register_script(_APPEND)
        self._mark = client.register_script(_MARK)
        self._epoch_script = client.register_script(_EPOCH)
        self._client = client
        self.epoch: bytes | None = None  # the log this node follows, None before it connected
        self.last = 0  # the newest number seen here (or marked past)

    def append(self, pipe: Any, channel: bytes, topic: str, payload: bytes) -> None:
        """Queue one logged PUBLISH on ``pipe`` (a redis-py pipeline)."""
        pipe.scripts.add(self._append)  # loaded before the pipeline runs, if Redis lacks it
        pipe.evalsha(
            self._append.sha,
            4,
            *self._keys,
            channel,
            topic,
            payload,
            self._length,
            LOG_IDLE_TTL_MS,
            self._token,
        )

    def seen(self, number: int) -> bool:
        """Record a live event's number; True if it was delivered already (by a replay)."""
        if number <= self.last:
            return True
        self.last = number
        return False

    def marked(self, payload: bytes) -> None:
        """A mark arrived on the node's channel: everything up to it has been received."""
        with contextlib.suppress(ValueError):
            self.last = max(self.last, int(payload))

    async def request_mark(self, channel: bytes) -> None:
        """Have Redis publish the newest number on ``channel``, behind what precedes it."""
        await self._mark(keys=[self._keys[1], channel])

    async def start(self) -> int | None:
        """Join the log on (re)connecting: where a replay starts, or None for no replay.

        On the first connection there is nothing to replay: the node follows the
        log from its newest number on. After that, a replay starts after the
        newest number seen, or at the beginning of a new epoch.
        """
        epoch, newest = await self._epoch_script(
            keys=[self._keys[2], self._keys[1]], args=[self._token]
        )
        if self.epoch is None:
            self.epoch, self.last = epoch, int(newest)
            return None
        if epoch != self.epoch:
            self.epoch, self.last = epoch, 0
        return self.last

    async def replay(self, start: int) -> AsyncIterator[list[tuple[str, bytes]]]:
        """Pages of ``(topic, payload)`` logged after ``start``, oldest first; advances
        :attr:`last`. Raises :class:`Trimmed` at the end if the log no longer had
        ``start + 1`` (what was trimmed is lost)."""
        cursor, expected, trimmed = f"({start}-0", start + 1, False
        while True:
            entries: Any = await self._client.xrange(self._keys[0], min=cursor, count=PAGE)
            page = []
            for raw_id, fields in entries:
                number = int(raw_id.split(b"-")[0])
                trimmed = trimmed or number != expected
                expected = number + 1
                self.last = max(self.last, number)
                page.append((fields.get(b"t", b"").decode(errors="replace"), fields.get(b"e", b"")))
            if page:
                yield page
            if len(entries) < PAGE:
                break
            cursor = f"({expected - 1}-0"
        if trimmed:
            raise Trimmed(start)


class Trimmed(Exception):
    """The log had dropped events newer than the replay's start."""
