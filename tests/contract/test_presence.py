"""The presence contract: connection counts per user, and who is online, on one or many nodes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from nodechat.cluster import LocalPresence, PresenceRegistry, RedisPresence, open_presence
from nodechat.errors import Unavailable

PresenceFactory = Callable[[str], PresenceRegistry]  # node id -> that node's registry

WAIT = 5.0


@pytest.fixture(params=["local", "redis"])
async def make_presence(request: pytest.FixtureRequest) -> AsyncIterator[PresenceFactory]:
    opened: list[PresenceRegistry] = []
    if request.param == "local":

        def factory(node_id: str) -> PresenceRegistry:
            registry = LocalPresence(node_id)
            opened.append(registry)
            return registry
    else:
        url = request.getfixturevalue("redis_url")
        prefix = request.getfixturevalue("redis_prefix")

        def factory(node_id: str) -> PresenceRegistry:
            registry = RedisPresence.from_url(url, node_id, prefix=prefix, ttl=5.0)
            opened.append(registry)
            return registry

    yield factory
    for registry in opened:
        await registry.close()


async def test_connections_are_counted(make_presence: PresenceFactory) -> None:
    node = make_presence("n1")
    assert await node.online(["u1", "u2"]) == set()
    assert await node.connect("u1") is True  # first connection: came online
    assert await node.connect("u1") is False  # a second tab changes nothing
    assert await node.connect("u2") is True
    assert await node.online(["u1", "u2", "u3"]) == {"u1", "u2"}
    assert await node.disconnect("u1") is False
    assert await node.online(["u1"]) == {"u1"}
    assert await node.disconnect("u1") is True  # last connection: went offline
    assert await node.disconnect("u1") is False  # not connected: no change
    assert await node.online(["u1", "u2"]) == {"u2"}


async def test_online_of_many_users(make_presence: PresenceFactory) -> None:
    node = make_presence("n1")
    for i in range(0, 1200, 3):
        await node.connect(f"u{i}")
    found = await node.online(f"u{i}" for i in range(1200))
    assert found == {f"u{i}" for i in range(0, 1200, 3)}


def test_open_presence_picks_the_backend() -> None:
    assert isinstance(open_presence("memory://", "n1"), LocalPresence)


# -- several nodes (Redis) --------------------------------------------------------


@pytest.fixture
async def nodes(redis_url: str, redis_prefix: str) -> AsyncIterator[Callable[..., RedisPresence]]:
    opened: list[RedisPresence] = []

    def make(node_id: str, **options: float) -> RedisPresence:
        registry = RedisPresence.from_url(redis_url, node_id, prefix=redis_prefix, **options)
        opened.append(registry)
        return registry

    yield make
    for registry in opened:
        await registry.close()


async def until_online(node: PresenceRegistry, user_ids: list[str], expected: set[str]) -> None:
    """Poll ``online`` until it answers ``expected`` (TTL expiry signals nothing)."""
    async with asyncio.timeout(WAIT):
        while await node.online(user_ids) != expected:
            await asyncio.sleep(0.02)


async def test_status_is_cluster_wide(nodes: Callable[..., RedisPresence]) -> None:
    a, b = nodes("a"), nodes("b")
    assert await a.connect("u1") is True
    assert await b.connect("u1") is False  # already online through node a
    assert await b.online(["u1"]) == {"u1"}
    assert await a.disconnect("u1") is False  # still connected to node b
    assert await a.online(["u1"]) == {"u1"}
    assert await b.disconnect("u1") is True
    assert await a.online(["u1"]) == set()


async def test_concurrent_connects_and_lookups_answer_each_caller(
    make_presence: PresenceFactory,
) -> None:
    # a connect storm: on Redis the connects of one turn are one script call, and each
    # caller still learns whether its own connect took its user online
    node = make_presence("n1")
    users = [f"u{i}" for i in range(50)]
    became = await asyncio.gather(*(node.connect(u) for u in [*users, "u0", "u1"]))
    assert became == [True] * 50 + [False, False]  # u0 and u1: a second session each
    questions = [["u0", "nobody"], users[10:20], ["nobody"], ["u49", "u49", "u3"]]
    answers = await asyncio.gather(*(node.online(q) for q in questions))
    assert answers == [{"u0"}, set(users[10:20]), set(), {"u49", "u3"}]
    assert await node.disconnect("u0") is False  # the second session of u0 is still there
    assert await node.disconnect("u0") is True
    assert await node.online(["u0", "u1"]) == {"u1"}
    if isinstance(node, RedisPresence):
        assert node._connects.groups <= 2  # noqa: SLF001  (52 connects: the first one alone at most)


async def test_clean_close_takes_a_nodes_users_offline(nodes: Callable[..., RedisPresence]) -> None:
    a, b = nodes("a"), nodes("b")
    await a.connect("u1")
    await a.connect("u2")
    await b.connect("u2")
    await a.close()
    assert await b.online(["u1", "u2"]) == {"u2"}


async def test_crashed_nodes_users_go_offline_by_ttl(
    nodes: Callable[..., RedisPresence], redis_admin: Redis, redis_prefix: str
) -> None:
    a = nodes("a", ttl=0.4, interval=0.1)
    b = nodes("b", ttl=0.4, interval=0.1)
    await a.connect("u1")
    await a.connect("u2")
    await b.connect("u2")
    await asyncio.sleep(0.5)  # longer than the TTL: the heartbeats keep both alive
    assert await b.online(["u1", "u2"]) == {"u1", "u2"}

    # crash node a: its heartbeat stops and nothing is cleaned up
    assert a._heartbeat is not None
    a._heartbeat.cancel()
    a._closed = True  # (so the fixture's close() does not clean up either)
    await a._client.aclose()

    await until_online(b, ["u1", "u2"], {"u2"})
    assert await b.connect("u1") is True  # back online through b: an announce is due
    # b's heartbeat sweeps what a left behind
    async with asyncio.timeout(WAIT):
        while await redis_admin.exists(f"{redis_prefix}presence:node:a"):
            await asyncio.sleep(0.02)
    assert await redis_admin.hkeys(f"{redis_prefix}presence:user:u2") == [b"b"]


async def test_a_node_whose_keys_expired_restores_them(
    nodes: Callable[..., RedisPresence], redis_admin: Redis, redis_prefix: str
) -> None:
    a = nodes("a", ttl=5.0, interval=60.0)
    b = nodes("b", ttl=5.0, interval=60.0)
    await a.connect("u1")
    # a stalled past its TTL and b swept it, though a's connections are still open
    await redis_admin.delete(f"{redis_prefix}presence:alive:a")
    await b.beat()
    assert await b.online(["u1"]) == set()
    await a.beat()  # a notices that its alive key had expired and writes its counts back
    assert await b.online(["u1"]) == {"u1"}
    assert await a.disconnect("u1") is True


async def test_connections_by_node(make_presence: PresenceFactory) -> None:
    n1 = make_presence("n1")
    for user in ("u1", "u1", "u2"):
        await n1.connect(user)
    await n1.disconnect("u2")
    await n1.connect("u3")
    assert await n1.connections_by_node() == {"n1": {"connections": 3, "users": 2}}


async def test_a_heartbeat_stops_when_cancelled_even_if_redis_turns_that_into_an_error(
    redis_url: str, redis_prefix: str
) -> None:
    """redis-py may turn a cancelled call into a connection error: the heartbeat loop
    must still end (a loop that counted it as a failure never did, and hung shutdown)."""
    registry = RedisPresence.from_url(redis_url, "n", prefix=redis_prefix, ttl=5.0, interval=0.01)
    entered = asyncio.Event()

    async def beat() -> None:
        entered.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            raise Unavailable("connection reset", code="presence_unavailable") from None

    registry.beat = beat  # type: ignore[method-assign]
    registry._start()
    assert registry._heartbeat is not None
    await asyncio.wait_for(entered.wait(), WAIT)
    registry._heartbeat.cancel()
    done, _ = await asyncio.wait({registry._heartbeat}, timeout=WAIT)
    assert done, "the heartbeat ignored its cancellation"
    await registry.close()
