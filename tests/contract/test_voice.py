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


async def test_handles_and_state(make_roster: RosterFactory) -> None:
    roster = await make_roster("n1")
    await roster.join("v1", "ann", "g1")
    await roster.join("v1", "bob", "g1")
    states = await roster.states("v1")
    assert list(states) == ["ann", "bob"]
    assert states["ann"].handle != states["bob"].handle
    assert not (states["ann"].muted or states["ann"].deafened or states["ann"].speaking)
    muted = await roster.set_state("ann", "v1", muted=True)
    assert muted is not None and muted.muted and not muted.deafened
    both = await roster.set_state("ann", "v1", deafened=True, speaking=True)
    assert both is not None and (both.muted, both.deafened, both.speaking) == (True, True, True)
    unmuted = await roster.set_state("ann", "v1", muted=False)
    assert unmuted is not None and (unmuted.muted, unmuted.deafened) == (False, True)
    assert (await roster.states("v1"))["ann"] == unmuted
    assert await roster.set_state("ann", "v2", muted=True) is None  # not in that channel
    assert await roster.set_state("carl", "v1", muted=True) is None
    handle = unmuted.handle
    await roster.join("v1", "ann", "g1")  # joining the same channel again keeps it all
    assert (await roster.states("v1"))["ann"] == unmuted
    await roster.join("v2", "ann", "g1")  # a move starts afresh
    assert (await roster.states("v2"))["ann"].muted is False
    assert "ann" not in await roster.states("v1")
    await roster.join("v1", "ann", "g1")
    assert (await roster.states("v1"))["ann"].handle != handle  # a new handle
    assert await roster.states("v3") == {}


async def test_sweep_removes_a_dead_node_s_participants(redis_url: str, redis_prefix: str) -> None:
    presence = RedisPresence.from_url(redis_url, "gone", prefix=redis_prefix, ttl=5.0)
    alive = RedisPresence.from_url(redis_url, "other", prefix=redis_prefix, ttl=5.0)
    roster = RedisVoiceRoster.from_url(redis_url, "gone", prefix=redis_prefix)
    watcher = RedisVoiceRoster.from_url(redis_url, "other", prefix=redis_prefix)
    try:
        await presence.beat()
        await alive.beat()
        await roster.join("v1", "ann", "g1")
        await roster.join("v2", "carl", "g2")
        await watcher.join("v1", "bob", "g1")
        assert await watcher.sweep() == {}  # everyone alive: nothing to do
        await watcher._redis.delete(f"{redis_prefix}presence:alive:gone")
        assert await watcher.sweep() == {"v1": "g1", "v2": "g2"}
        assert await watcher.sweep() == {}  # once
        assert list(await watcher.states("v1")) == ["bob"]
        assert await watcher.states("v2") == {}
        assert await roster.leave("ann") is None  # the entry is gone for good
        await presence.beat()  # the node comes back: its old participants stay out
        assert list(await watcher.states("v1")) == ["bob"]
    finally:
        for part in (presence, alive, roster, watcher):
            await part.close()
