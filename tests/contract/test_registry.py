"""The socket node registry: nodes register their URL, and drop out when they stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from nodechat.cluster import LocalNodeRegistry, NodeRegistry, RedisNodeRegistry, open_registry

WAIT = 5.0


@pytest.fixture(params=["local", "redis"])
async def registry(request: pytest.FixtureRequest) -> AsyncIterator[NodeRegistry]:
    if request.param == "local":
        opened: NodeRegistry = LocalNodeRegistry()
    else:
        opened = RedisNodeRegistry.from_url(
            request.getfixturevalue("redis_url"), prefix=request.getfixturevalue("redis_prefix")
        )
    yield opened
    await opened.close()


async def test_register_and_unregister(registry: NodeRegistry) -> None:
    assert await registry.live_nodes() == []
    await registry.register("n1", "ws://10.0.0.1:7801/")
    assert await registry.live_nodes() == ["ws://10.0.0.1:7801/"]
    await registry.register("n1", "ws://10.0.0.1:7801/")  # idempotent
    assert await registry.live_nodes() == ["ws://10.0.0.1:7801/"]
    await registry.unregister("n1")
    assert await registry.live_nodes() == []


def test_open_registry_picks_the_backend() -> None:
    assert isinstance(open_registry("memory://"), LocalNodeRegistry)


@pytest.fixture
async def registries(
    redis_url: str, redis_prefix: str
) -> AsyncIterator[Callable[..., RedisNodeRegistry]]:
    opened: list[RedisNodeRegistry] = []

    def make(**options: float) -> RedisNodeRegistry:
        registry = RedisNodeRegistry.from_url(redis_url, prefix=redis_prefix, **options)
        opened.append(registry)
        return registry

    yield make
    for registry in opened:
        await registry.close()


async def test_nodes_see_each_other(registries: Callable[..., RedisNodeRegistry]) -> None:
    a, b, gateway = registries(), registries(), registries()
    await a.register("a", "ws://a:7801/")
    await b.register("b", "ws://b:7801/")
    assert await gateway.live_nodes() == ["ws://a:7801/", "ws://b:7801/"]
    await a.close()  # a clean stop unregisters
    assert await gateway.live_nodes() == ["ws://b:7801/"]


async def test_heartbeat_keeps_a_node_listed_and_a_crash_drops_it(
    registries: Callable[..., RedisNodeRegistry],
) -> None:
    a = registries(ttl=0.4, interval=0.1)
    gateway = registries()
    await a.register("a", "ws://a:7801/")
    await asyncio.sleep(0.6)  # longer than the TTL: the heartbeat keeps it listed
    assert await gateway.live_nodes() == ["ws://a:7801/"]

    assert a._heartbeat is not None  # crash: the heartbeat stops, nothing is unregistered
    a._heartbeat.cancel()
    a._mine.clear()
    async with asyncio.timeout(WAIT):
        while await gateway.live_nodes():
            await asyncio.sleep(0.02)
