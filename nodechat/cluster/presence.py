"""Who is online: connection counts per user, on one node or across all socket nodes.

A socket node reports each authenticated connection (``connect``) and each
close (``disconnect``); the answers say whether the user's status changed
cluster-wide, which is when the hub announces ``presence`` events.

Redis layout (``P`` = the key prefix)::

    P presence:alive:<node>   "1" with a TTL, refreshed by the node's heartbeat
    P presence:user:<user>    hash: node id -> that node's connection count
    P presence:node:<node>    set of the users with a count on that node
    P presence:nodes          set of node ids that may hold counts

A user is online when a node in their hash is alive. Every call touches one
user hash and one alive key per node listed in it, so it stays O(nodes of
that user), never a SCAN. A crashed node stops refreshing its alive key, so
its users read as offline within ``ttl`` seconds; the next heartbeat of any
node sweeps the dead node's counts away. Limitation: no ``offline`` event is
published for users who go offline that way (nobody observes the moment);
``online()`` is right regardless, and peers learn it on their next snapshot.
The scripts build key names from the prefix, so they assume one Redis
server (not Redis Cluster).
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable

from redis.asyncio import Redis

from nodechat.bus.redis import DEFAULT_PREFIX, redis_client, redis_errors
from nodechat.coalesce import Coalescer

log = logging.getLogger(__name__)

ONLINE_BATCH = 500  # users per ONLINE script call, so one call never blocks Redis for long


class PresenceRegistry(ABC):
    """Connection counts per user, answering who is online."""

    @abstractmethod
    async def connect(self, user_id: str) -> bool:
        """Count one more connection; True if the user just came online cluster-wide."""

    @abstractmethod
    async def disconnect(self, user_id: str) -> bool:
        """Count one connection less; True if the user just went offline cluster-wide."""

    @abstractmethod
    async def online(self, user_ids: Iterable[str]) -> set[str]:
        """Which of these users have a live connection anywhere."""

    @abstractmethod
    async def connections_by_node(self) -> dict[str, dict[str, int]]:
        """Per live node: ``{"connections": n, "users": m}`` (for operators' stats)."""

    @abstractmethod
    async def close(self) -> None:
        """Forget this node's connections and stop background work."""


class LocalPresence(PresenceRegistry):
    """One process is the whole cluster (``nodechat serve`` on the memory bus)."""

    def __init__(self, node_id: str = "local") -> None:
        self.node_id = node_id
        self._counts: dict[str, int] = {}

    async def connect(self, user_id: str) -> bool:
        count = self._counts.get(user_id, 0) + 1
        self._counts[user_id] = count
        return count == 1

    async def disconnect(self, user_id: str) -> bool:
        count = self._counts.get(user_id, 0)
        if count == 0:
            return False
        if count == 1:
            del self._counts[user_id]
            return True
        self._counts[user_id] = count - 1
        return False

    async def online(self, user_ids: Iterable[str]) -> set[str]:
        return {u for u in user_ids if u in self._counts}

    async def connections_by_node(self) -> dict[str, dict[str, int]]:
        return {
            self.node_id: {"connections": sum(self._counts.values()), "users": len(self._counts)}
        }

    async def close(self) -> None:
        self._counts.clear()


_HEADER = """
local p = ARGV[1]
local function alive(n) return redis.call('EXISTS', p .. 'presence:alive:' .. n) == 1 end
"""

# Count one more connection of each user in ARGV[4..] on node ARGV[2]; per user 1 if it
# just came online cluster-wide (a user named twice counts twice, online once).
_CONNECT = (
    _HEADER
    + """
local node = ARGV[2]
redis.call('SET', p .. 'presence:alive:' .. node, '1', 'PX', ARGV[3])
redis.call('SADD', p .. 'presence:nodes', node)
local out = {}
for i = 4, #ARGV do
  local uid = ARGV[i]
  local ukey = p .. 'presence:user:' .. uid
  local was = false
  for _, n in ipairs(redis.call('HKEYS', ukey)) do
    if n == node or alive(n) then was = true else redis.call('HDEL', ukey, n) end
  end
  redis.call('HINCRBY', ukey, node, 1)
  redis.call('SADD', p .. 'presence:node:' .. node, uid)
  if was then out[#out + 1] = 0 else out[#out + 1] = 1 end
end
return out
"""
)

_DISCONNECT = (
    _HEADER
    + """
local node, uid = ARGV[2], ARGV[3]
local ukey = p .. 'presence:user:' .. uid
if redis.call('HEXISTS', ukey, node) == 0 then return 0 end
if redis.call('HINCRBY', ukey, node, -1) > 0 then return 0 end
redis.call('HDEL', ukey, node)
redis.call('SREM', p .. 'presence:node:' .. node, uid)
local still = false
for _, n in ipairs(redis.call('HKEYS', ukey)) do
  if alive(n) then still = true else redis.call('HDEL', ukey, n) end
end
if still then return 0 end
return 1
"""
)

_ONLINE = (
    _HEADER
    + """
local out = {}
for i = 2, #ARGV do
  local on = 0
  for _, n in ipairs(redis.call('HKEYS', p .. 'presence:user:' .. ARGV[i])) do
    if alive(n) then on = 1 break end
  end
  out[#out + 1] = on
end
return out
"""
)

# Per live node: its id, its connection count and its user count, flattened. O(users
# online): an operator's occasional question, never on a hot path.
_BY_NODE = (
    _HEADER
    + """
local out = {}
for _, n in ipairs(redis.call('SMEMBERS', p .. 'presence:nodes')) do
  if alive(n) then
    local total, users = 0, 0
    for _, uid in ipairs(redis.call('SMEMBERS', p .. 'presence:node:' .. n)) do
      local c = tonumber(redis.call('HGET', p .. 'presence:user:' .. uid, n) or '0')
      if c > 0 then total = total + c; users = users + 1 end
    end
    out[#out + 1] = n
    out[#out + 1] = total
    out[#out + 1] = users
  end
end
return out
"""
)

# Refresh this node's alive key; 1 if it had expired (its counts may have been swept).
_HEARTBEAT = (
    _HEADER
    + """
local key = p .. 'presence:alive:' .. ARGV[2]
local existed = redis.call('EXISTS', key)
redis.call('SET', key, '1', 'PX', ARGV[3])
redis.call('SADD', p .. 'presence:nodes', ARGV[2])
return 1 - existed
"""
)

# Remove the counts of nodes that are gone: the dead ones, or ARGV[2] (a clean shutdown).
_SWEEP = (
    _HEADER
    + """
local removed = 0
for _, n in ipairs(redis.call('SMEMBERS', p .. 'presence:nodes')) do
  if n == ARGV[2] or not alive(n) then
    local nkey = p .. 'presence:node:' .. n
    for _, uid in ipairs(redis.call('SMEMBERS', nkey)) do
      redis.call('HDEL', p .. 'presence:user:' .. uid, n)
    end
    redis.call('DEL', nkey, p .. 'presence:alive:' .. n)
    redis.call('SREM', p .. 'presence:nodes', n)
    removed = removed + 1
  end
end
return removed
"""
)


CLOSE_TIMEOUT = 5.0  # seconds for each step of close(): best effort, never a hang


def stop_if_stopping(exc: Exception, closed: bool) -> None:
    """Raise ``CancelledError`` if a background loop is being stopped.

    redis-py can turn the cancellation of a call into a connection error, which
    ``redis_errors`` turns into ``Unavailable``: a loop that counted it as one more
    failed attempt would never stop (and would hang whatever awaits its end).
    """
    task = asyncio.current_task()
    if closed or (task is not None and task.cancelling()):
        raise asyncio.CancelledError from exc


class RedisPresence(PresenceRegistry):
    """Presence shared by every socket node through Redis; one instance per node."""

    def __init__(
        self,
        client: Redis,
        node_id: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        ttl: float = 15.0,
        interval: float | None = None,
        owns_client: bool = False,
    ) -> None:
        self.node_id = node_id
        self._client = client
        self._owns_client = owns_client
        self._prefix = prefix
        self._ttl_ms = max(int(ttl * 1000), 1)
        self._interval = ttl / 3 if interval is None else interval
        self._counts: dict[str, int] = {}  # this node's counts, to restore after an expiry
        self._connect = client.register_script(_CONNECT)
        self._disconnect = client.register_script(_DISCONNECT)
        self._online = client.register_script(_ONLINE)
        self._heartbeat_script = client.register_script(_HEARTBEAT)
        self._sweep = client.register_script(_SWEEP)
        self._by_node = client.register_script(_BY_NODE)
        self._heartbeat: asyncio.Task[None] | None = None
        self._closed = False
        # a storm of connects (a node restart) shares round trips: the connects and the
        # lookups of one loop turn are one script call each (nodechat/coalesce.py)
        self._connects: Coalescer[str, bool] = Coalescer(self._connect_many, max_items=ONLINE_BATCH)
        self._lookups: Coalescer[list[str], set[str]] = Coalescer(self._online_many)

    @classmethod
    def from_url(
        cls,
        url: str,
        node_id: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        ttl: float = 15.0,
        interval: float | None = None,
    ) -> RedisPresence:
        """Presence over its own connection pool to the Redis at ``url``."""
        client = redis_client(url, name=f"nodechat-presence-{node_id}", timeout=5.0)
        return cls(client, node_id, prefix=prefix, ttl=ttl, interval=interval, owns_client=True)

    async def connect(self, user_id: str) -> bool:
        self._start()
        became = await self._connects(user_id)
        self._counts[user_id] = self._counts.get(user_id, 0) + 1
        return became

    async def _connect_many(self, user_ids: list[str]) -> list[bool]:
        with redis_errors("presence", code="presence_unavailable"):
            flags = await self._connect(args=[self._prefix, self.node_id, self._ttl_ms, *user_ids])
        return [bool(flag) for flag in flags]

    async def disconnect(self, user_id: str) -> bool:
        count = self._counts.get(user_id, 0)
        if count <= 1:
            self._counts.pop(user_id, None)
        else:
            self._counts[user_id] = count - 1
        with redis_errors("presence", code="presence_unavailable"):
            went = await self._disconnect(args=[self._prefix, self.node_id, user_id])
        return bool(went)

    async def online(self, user_ids: Iterable[str]) -> set[str]:
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return set()
        if len(ids) > ONLINE_BATCH:  # a big question goes alone, in chunks
            return (await self._online_many([ids]))[0]
        return await self._lookups(ids)

    async def _online_many(self, questions: list[list[str]]) -> list[set[str]]:
        """Several callers' lookups in as few script calls as their distinct users need."""
        ids = list(dict.fromkeys(u for question in questions for u in question))
        found: set[str] = set()
        for start in range(0, len(ids), ONLINE_BATCH):
            chunk = ids[start : start + ONLINE_BATCH]
            with redis_errors("presence", code="presence_unavailable"):
                flags = await self._online(args=[self._prefix, *chunk])
            found.update(u for u, flag in zip(chunk, flags, strict=True) if flag)
        return [found.intersection(question) for question in questions]

    async def connections_by_node(self) -> dict[str, dict[str, int]]:
        with redis_errors("presence", code="presence_unavailable"):
            flat = await self._by_node(args=[self._prefix])
        out: dict[str, dict[str, int]] = {}
        for i in range(0, len(flat), 3):
            node = flat[i].decode() if isinstance(flat[i], bytes) else str(flat[i])
            out[node] = {"connections": int(flat[i + 1]), "users": int(flat[i + 2])}
        return out

    async def close(self) -> None:
        """Stop the heartbeat and remove this node's counts (best effort)."""
        if self._closed:
            return
        self._closed = True
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            # a heartbeat stuck in a Redis call must not hold up shutdown
            await asyncio.wait({self._heartbeat}, timeout=CLOSE_TIMEOUT)
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                with redis_errors("presence"):
                    await self._sweep(args=[self._prefix, self.node_id])
        except Exception:  # the TTL removes them anyway (TimeoutError included)
            log.warning("could not remove node %s from presence", self.node_id)
        self._counts.clear()
        if self._owns_client:
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await self._client.aclose()
            except TimeoutError:
                log.warning("closing the presence connection of %s timed out", self.node_id)

    def _start(self) -> None:
        if self._heartbeat is None and not self._closed:
            self._heartbeat = asyncio.get_running_loop().create_task(
                self._beat_forever(), name=f"presence-heartbeat-{self.node_id}"
            )

    async def _beat_forever(self) -> None:
        failures = 0
        while not self._closed:
            await asyncio.sleep(self._interval)
            try:
                await self.beat()
                failures = 0
            except Exception as exc:
                stop_if_stopping(exc, self._closed)
                failures += 1
                log.log(
                    logging.WARNING if failures == 1 else logging.DEBUG,
                    "presence heartbeat failed: %s",
                    exc,
                )

    async def beat(self) -> None:
        """Refresh this node's liveness, restore its counts if they expired, sweep dead nodes."""
        with redis_errors("presence heartbeat", code="presence_unavailable"):
            expired = await self._heartbeat_script(args=[self._prefix, self.node_id, self._ttl_ms])
            if expired and self._counts:
                log.warning(
                    "presence of node %s had expired; restoring %d users",
                    self.node_id,
                    len(self._counts),
                )
                async with self._client.pipeline(transaction=True) as pipe:
                    for user_id, count in self._counts.items():
                        pipe.hset(
                            f"{self._prefix}presence:user:{user_id}", self.node_id, str(count)
                        )
                    pipe.sadd(f"{self._prefix}presence:node:{self.node_id}", *self._counts)
                    await pipe.execute()
            await self._sweep(args=[self._prefix, ""])
