"""The voice roster contract: who is in which voice channel, on one or many nodes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from nodechat.cluster import LocalVoiceRoster, RedisPresence, RedisVoiceRoster, VoiceRoster

RosterFactory = Callable[[str], Awaitable[VoiceRoster]]  # node id -> that node's roster


@pytest.fixture(params=["local", "redis"])
async def make_roster(request: pytest.FixtureRequest) -> AsyncIterator[RosterFactory]:
    opened: list[VoiceRoster | RedisPresence] = []
    shared = LocalVoiceRoster()  # the local roster is one node's; every "node" shares it

    async def factory(node_id: str) -> VoiceRoster:
        if request.param == "local":
            return shared
        url = request.getfixturevalue("redis_url")
        prefix = request.getfixturevalue("redis_prefix")
        presence = RedisPresence.from_url(url, node_id, prefix=prefix, ttl=5.0)
        await presence.beat()  # the node is alive
        roster = RedisVoiceRoster.from_url(url, node_id, prefix=prefix)
        opened.extend([presence, roster])
        return roster

    yield factory
    for part in opened:
        await part.close()


async def test_join_move_and_leave(make_roster: RosterFactory) -> None:
    roster = await make_roster("n1")
    assert await roster.participants(["v1", "v2"]) == {}
    assert await roster.join("v1", "ann") is None
    assert await roster.join("v1", "bob") is None
    assert await roster.join("v1", "ann") is None  # joining again changes nothing
    assert await roster.participants(["v1", "v2"]) == {"v1": ["ann", "bob"]}
    assert await roster.join("v2", "ann") == "v1"  # one channel at a time: a move
    assert await roster.participants(["v1", "v2"]) == {"v1": ["bob"], "v2": ["ann"]}
    assert await roster.leave("ann", "v1") is None  # not there any more: nothing happens
    assert await roster.leave("ann") == "v2"
    assert await roster.leave("ann") is None
    assert await roster.participants(["v1", "v2"]) == {"v1": ["bob"]}
    assert await roster.participants([]) == {}


async def test_nodes_share_the_roster(make_roster: RosterFactory) -> None:
    a, b = await make_roster("n1"), await make_roster("n2")
    await a.join("v1", "ann")
    await b.join("v1", "bob")
    assert await a.participants(["v1"]) == await b.participants(["v1"]) == {"v1": ["ann", "bob"]}
    assert await b.join("v2", "ann") == "v1"  # moved from another node's connection
    assert await a.participants(["v1", "v2"]) == {"v1": ["bob"], "v2": ["ann"]}


async def test_participants_of_a_dead_node_drop_out(redis_url: str, redis_prefix: str) -> None:
    presence = RedisPresence.from_url(redis_url, "gone", prefix=redis_prefix, ttl=5.0)
    roster = RedisVoiceRoster.from_url(redis_url, "gone", prefix=redis_prefix)
    watcher = RedisVoiceRoster.from_url(redis_url, "other", prefix=redis_prefix)
    try:
        await presence.beat()
        await roster.join("v1", "ann")
        assert await watcher.participants(["v1"]) == {"v1": ["ann"]}
        # the node stops beating: its alive key expires (deleted here instead of waiting)
        await watcher._redis.delete(f"{redis_prefix}presence:alive:gone")
        assert await watcher.participants(["v1"]) == {}
    finally:
        for part in (presence, roster, watcher):
            await part.close()
