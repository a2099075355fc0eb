"""Which socket nodes are up: each registers its public URL, the gateway lists the live ones.

Redis layout (``P`` = the key prefix)::

    P registry:node:<id>   the node's URL, with a TTL refreshed by its heartbeat
    P registry:nodes       set of node ids that may be registered

A node that stops heartbeating (crash, partition) drops out of ``live_nodes``
when its key expires, ``registry_ttl`` seconds at most; listing also removes
such ids from the set, so no SCAN is ever needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod

from redis.asyncio import Redis

from nodechat.bus.redis import DEFAULT_PREFIX, redis_client, redis_errors
from nodechat.cluster.presence import stop_if_stopping

log = logging.getLogger(__name__)


class NodeRegistry(ABC):
    """Socket nodes announce themselves; anyone can list the live ones."""

    @abstractmethod
    async def register(self, node_id: str, url: str) -> None:
        """List ``url`` as node ``node_id`` until :meth:`unregister` (kept alive meanwhile)."""

    @abstractmethod
    async def unregister(self, node_id: str) -> None:
        """Remove a node registered by this process."""

    @abstractmethod
    async def live_nodes(self) -> list[str]:
        """URLs of the live nodes, sorted."""

    @abstractmethod
    async def close(self) -> None:
        """Unregister this process's nodes and stop background work."""


class LocalNodeRegistry(NodeRegistry):
    """``nodechat serve``: the only node is this process."""

    def __init__(self) -> None:
        self._nodes: dict[str, str] = {}

    async def register(self, node_id: str, url: str) -> None:
        self._nodes[node_id] = url

    async def unregister(self, node_id: str) -> None:
        self._nodes.pop(node_id, None)

    async def live_nodes(self) -> list[str]:
        return sorted(self._nodes.values())

    async def close(self) -> None:
        self._nodes.clear()


_LIVE = """
local p = ARGV[1]
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', p .. 'registry:nodes')) do
  local url = redis.call('GET', p .. 'registry:node:' .. id)
  if url then out[#out + 1] = url else redis.call('SREM', p .. 'registry:nodes', id) end
end
return out
"""


class RedisNodeRegistry(NodeRegistry):
    """The registry in Redis, shared by every socket node and gateway."""

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        ttl: float = 10.0,
        interval: float | None = None,
        owns_client: bool = False,
    ) -> None:
        self._client = client
        self._owns_client = owns_client
        self._prefix = prefix
        self._ttl_ms = max(int(ttl * 1000), 1)
        self._interval = ttl / 3 if interval is None else interval
        self._live = client.register_script(_LIVE)
        self._mine: dict[str, str] = {}
        self._heartbeat: asyncio.Task[None] | None = None

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        ttl: float = 10.0,
        interval: float | None = None,
    ) -> RedisNodeRegistry:
        """A registry over its own connection pool to the Redis at ``url``."""
        client = redis_client(url, name="nodechat-registry", timeout=5.0)
        return cls(client, prefix=prefix, ttl=ttl, interval=interval, owns_client=True)

    async def register(self, node_id: str, url: str) -> None:
        self._mine[node_id] = url
        await self._refresh({node_id: url})
        if self._heartbeat is None:
            self._heartbeat = asyncio.get_running_loop().create_task(
                self._beat_forever(), name="node-registry-heartbeat"
            )

    async def unregister(self, node_id: str) -> None:
        self._mine.pop(node_id, None)
        with redis_errors("node registry", code="registry_unavailable"):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.delete(f"{self._prefix}registry:node:{node_id}")
                pipe.srem(f"{self._prefix}registry:nodes", node_id)
                await pipe.execute()

    async def live_nodes(self) -> list[str]:
        with redis_errors("node registry", code="registry_unavailable"):
            urls = await self._live(args=[self._prefix])
        return sorted(u.decode() if isinstance(u, bytes) else str(u) for u in urls)

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
        for node_id in list(self._mine):
            try:
                await self.unregister(node_id)
            except Exception:  # its key expires anyway
                log.warning("could not unregister node %s", node_id)
        if self._owns_client:
            await self._client.aclose()

    async def _refresh(self, nodes: dict[str, str]) -> None:
        with redis_errors("node registry", code="registry_unavailable"):
            async with self._client.pipeline(transaction=True) as pipe:
                for node_id, url in nodes.items():
                    pipe.set(f"{self._prefix}registry:node:{node_id}", url, px=self._ttl_ms)
                    pipe.sadd(f"{self._prefix}registry:nodes", node_id)
                await pipe.execute()

    async def _beat_forever(self) -> None:
        failures = 0
        while True:
            await asyncio.sleep(self._interval)
            if not self._mine:
                continue
            try:
                await self._refresh(dict(self._mine))
                failures = 0
            except Exception as exc:
                stop_if_stopping(exc, closed=False)
                failures += 1
                log.log(
                    logging.WARNING if failures == 1 else logging.DEBUG,
                    "node registry heartbeat failed: %s",
                    exc,
                )
