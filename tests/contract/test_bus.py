"""The bus contract: every backend delivers published events to subscribed nodes, in order.

Delivery may be asynchronous (Redis), so tests wait for what they expect, and
prove that something did *not* arrive by waiting for a later sentinel event:
a backend delivers one publisher's events in publish order, across topics.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from nodechat.bus import Bus, Event, MemoryBroker, RedisBus, open_bus
from nodechat.errors import InvalidRequest, Unavailable

BusFactory = Callable[[], Bus]

WAIT = 5.0  # seconds before a wait counts as a failure (never reached when things work)


@pytest.fixture(params=["memory", "redis"])
async def make_bus(request: pytest.FixtureRequest) -> AsyncIterator[BusFactory]:
    opened: list[Bus] = []
    if request.param == "memory":
        broker = MemoryBroker()

        def factory() -> Bus:
            bus = broker.connect()
            opened.append(bus)
            return bus
    else:
        url = request.getfixturevalue("redis_url")
        prefix = request.getfixturevalue("redis_prefix")

        def factory() -> Bus:
            bus = open_bus(url, prefix=prefix)
            opened.append(bus)
            return bus

    yield factory
    for bus in opened:
        await bus.close()


class Inbox:
    def __init__(self, bus: Bus) -> None:
        self.got: list[tuple[str, str, dict[str, Any]]] = []
        self.events: list[Event] = []
        self._arrived = asyncio.Event()
        bus.set_handler(self._on_event)

    def _on_event(self, topic: str, event: Event) -> None:
        self.got.append((topic, event.kind, event.data))
        self.events.append(event)
        self._arrived.set()

    async def until(self, count: int) -> None:
        """Wait until ``count`` events have arrived."""
        async with asyncio.timeout(WAIT):
            while len(self.got) < count:
                self._arrived.clear()
                await self._arrived.wait()

    async def until_kind(self, kind: str) -> None:
        """Wait until an event of ``kind`` has arrived."""
        async with asyncio.timeout(WAIT):
            while not any(k == kind for _, k, _ in self.got):
                self._arrived.clear()
                await self._arrived.wait()


async def wait_until(condition: Callable[[], bool]) -> None:
    """Poll a condition that no event signals (health flags, TTL expiry)."""
    async with asyncio.timeout(WAIT):
        while not condition():
            await asyncio.sleep(0.01)


# -- the contract, every backend ------------------------------------------------


async def test_subscribed_nodes_receive_in_order(make_bus: BusFactory) -> None:
    a, b = make_bus(), make_bus()
    inbox_a, inbox_b = Inbox(a), Inbox(b)
    await a.subscribe("group:1")
    await b.subscribe("group:1")
    await b.subscribe("user:9")
    for i in range(50):
        await a.publish("group:1", Event("message.created", {"seq": i}))
    await a.publish("user:9", Event("typing", {}))
    await a.publish("group:1", Event("end", {}))
    await inbox_a.until_kind("end")
    await inbox_b.until_kind("end")
    assert [d["seq"] for _, k, d in inbox_a.got if k != "end"] == list(range(50))
    assert [d["seq"] for t, k, d in inbox_b.got if t == "group:1" and k != "end"] == list(range(50))
    assert inbox_b.got[-2] == ("user:9", "typing", {})
    assert all(t == "group:1" for t, _, _ in inbox_a.got)  # a did not subscribe user:9


async def test_unsubscribe_and_idempotence(make_bus: BusFactory) -> None:
    a = make_bus()
    inbox = Inbox(a)
    await a.subscribe("sentinel")
    await a.subscribe("t")
    await a.subscribe("t")
    await a.publish("t", Event("x", {}))
    await a.publish("sentinel", Event("s", {}))
    await inbox.until(2)
    assert [k for _, k, _ in inbox.got] == ["x", "s"]  # subscribing twice delivers once
    await a.unsubscribe("t")
    await a.unsubscribe("t")
    await a.publish("t", Event("x", {}))
    await a.publish("sentinel", Event("s", {}))
    await inbox.until(3)
    assert [k for _, k, _ in inbox.got] == ["x", "s", "s"]
    assert a.healthy
    await a.close()
    assert not a.healthy


async def test_concurrent_publishes_keep_call_order(make_bus: BusFactory) -> None:
    a, b = make_bus(), make_bus()
    inbox = Inbox(b)
    await b.subscribe("group:1")
    await asyncio.gather(
        *(a.publish("group:1", Event("message.created", {"seq": i})) for i in range(200))
    )
    await inbox.until(200)
    assert [d["seq"] for _, _, d in inbox.got] == list(range(200))


async def test_publish_many_keeps_order_across_topics(make_bus: BusFactory) -> None:
    a, b = make_bus(), make_bus()
    inbox = Inbox(b)
    await b.subscribe("user:1")
    await b.subscribe("user:2")
    batch = [(f"user:{1 + i % 2}", Event("typing", {"seq": i})) for i in range(100)]
    batch.insert(50, ("user:1", Event("message.created", {"seq": -1})))
    await a.publish_many(batch)
    await a.publish_many([])
    await inbox.until(101)
    assert [(t, d["seq"]) for t, _, d in inbox.got] == [(t, e.data["seq"]) for t, e in batch]


async def test_publish_many_of_new_messages_keeps_each_topics_order(make_bus: BusFactory) -> None:
    """A batch of only message.created may travel bundled per topic (one PUBLISH each):
    every topic keeps its order; the interleaving between topics is not kept."""
    a, b = make_bus(), make_bus()
    inbox = Inbox(b)
    await b.subscribe("user:1")
    await b.subscribe("user:2")
    batch = [(f"user:{1 + i % 2}", Event("message.created", {"seq": i})) for i in range(100)]
    await a.publish_many(batch)
    await inbox.until(100)
    for topic in ("user:1", "user:2"):
        assert [d["seq"] for t, _, d in inbox.got if t == topic] == [
            e.data["seq"] for t, e in batch if t == topic
        ]
    assert len(inbox.got) == 100


async def test_event_fields_survive(make_bus: BusFactory) -> None:
    a, b = make_bus(), make_bus()
    inbox = Inbox(b)
    await b.subscribe("user:1")
    data = {"text": "héllo ✓", "n": 1, "nested": {"list": [1, None, True]}}
    await a.publish("user:1", Event("message.created", data))
    await inbox.until(1)
    event = inbox.events[0]
    assert (event.kind, event.data) == ("message.created", data)


async def test_event_frame_is_encoded_once() -> None:
    event = Event("message.created", {"seq": 1})
    assert event.frame is event.frame
    assert event.frame == b'{"type":"event","event":"message.created","data":{"seq":1}}'


def test_open_bus_urls() -> None:
    assert open_bus("memory://").healthy
    with pytest.raises(InvalidRequest) as caught:
        open_bus("amqp://localhost")
    assert caught.value.code == "bad_config"


# -- Redis only -------------------------------------------------------------------


@pytest.fixture
async def redis_bus(
    redis_url: str, redis_prefix: str
) -> AsyncIterator[Callable[..., Awaitable[RedisBus]]]:
    opened: list[RedisBus] = []

    async def make(**options: Any) -> RedisBus:
        bus = RedisBus(redis_url, prefix=redis_prefix, **options)
        opened.append(bus)
        assert await bus.ready()
        return bus

    yield make
    for bus in opened:
        await bus.close()


async def test_redis_subscribes_per_topic(
    redis_bus: Callable[..., Awaitable[RedisBus]], redis_admin: Redis, redis_prefix: str
) -> None:
    a = await redis_bus()
    await a.subscribe("group:1")
    await a.subscribe("user:2")

    async def topics() -> list[bytes]:  # besides the node's own mark channel
        channels = await redis_admin.pubsub_channels(f"{redis_prefix}*")
        return sorted(c for c in channels if not c.startswith(f"{redis_prefix}mark:".encode()))

    assert await topics() == [f"{redis_prefix}group:1".encode(), f"{redis_prefix}user:2".encode()]
    await a.unsubscribe("group:1")
    async with asyncio.timeout(WAIT):  # UNSUBSCRIBE is not awaited; the server gets it soon
        while await topics() != [f"{redis_prefix}user:2".encode()]:
            await asyncio.sleep(0.01)


async def test_redis_skips_malformed_messages(
    redis_bus: Callable[..., Awaitable[RedisBus]],
    redis_admin: Redis,
    redis_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    a = await redis_bus()
    inbox = Inbox(a)
    await a.subscribe("group:1")
    with caplog.at_level(logging.WARNING, logger="nodechat.bus.redis"):
        for junk in (b"not json", b'{"k": 1, "d": {}}', b"[1,2]", b"\xff\xfe"):
            await redis_admin.publish(f"{redis_prefix}group:1", junk)
        await a.publish("group:1", Event("message.created", {"seq": 1}))
        await inbox.until(1)
    assert inbox.got == [("group:1", "message.created", {"seq": 1})]
    skipped = [r for r in caplog.records if "malformed" in r.getMessage()]
    assert len(skipped) == 4 and all("\n" not in r.getMessage() for r in skipped)
    assert a.healthy


async def test_redis_handler_errors_do_not_stop_the_reader(
    redis_bus: Callable[..., Awaitable[RedisBus]],
) -> None:
    a = await redis_bus()
    got: list[int] = []

    def handler(topic: str, event: Event) -> None:
        if event.data["seq"] == 1:
            raise RuntimeError("bug in a handler")
        got.append(event.data["seq"])

    a.set_handler(handler)
    await a.subscribe("t")
    for seq in (1, 2):
        await a.publish("t", Event("message.created", {"seq": seq}))
    await wait_until(lambda: got == [2])


async def _kill_subscriber(admin: Redis, name: str) -> None:
    """Close the bus's pub/sub connection from the server side, as a failover would."""
    clients = await admin.client_list(_type="pubsub")
    ids = [c["id"] for c in clients if c.get("name") == f"{name}-sub"]
    assert ids, "the bus has no pub/sub connection"
    for client_id in ids:
        await admin.execute_command("CLIENT", "KILL", "ID", client_id)


async def test_redis_reconnects_and_resubscribes(
    redis_bus: Callable[..., Awaitable[RedisBus]], redis_admin: Redis
) -> None:
    name = f"nodechat-test-{uuid.uuid4().hex[:8]}"
    a = await redis_bus(name=name, backoff_min=0.5)
    b = await redis_bus()
    inbox = Inbox(a)
    reconnected: list[bool] = []
    a.set_reconnect_handler(reconnected.append)
    await a.subscribe("group:1")
    await a.subscribe("user:1")
    await b.publish("group:1", Event("before", {}))
    await inbox.until(1)

    await _kill_subscriber(redis_admin, name)
    await wait_until(lambda: not a.healthy)
    assert not reconnected
    await a.publish("group:1", Event("during", {}))  # parked, sent once the bus is back

    await wait_until(lambda: bool(reconnected))
    assert a.healthy and reconnected == [False]  # healthy before the handler runs
    await b.publish("group:1", Event("after", {}))
    await b.publish("user:1", Event("after", {}))
    await inbox.until(4)
    parked = ("group:1", "during", {})  # sent by a, so in no order with b's "after"
    assert parked in inbox.got
    assert [e for e in inbox.got if e != parked] == [
        ("group:1", "before", {}),
        ("group:1", "after", {}),
        ("user:1", "after", {}),
    ]


async def test_redis_reconnects_after_every_outage(
    redis_bus: Callable[..., Awaitable[RedisBus]], redis_admin: Redis
) -> None:
    # CLIENT KILL ID rather than TYPE pubsub: other users of the test Redis keep theirs
    name = f"nodechat-test-{uuid.uuid4().hex[:8]}"
    a = await redis_bus(name=name)
    inbox = Inbox(a)
    reconnects: list[bool] = []
    a.set_reconnect_handler(lambda lost: reconnects.append(a.healthy and not lost))
    await a.subscribe("group:1")
    for outage in (1, 2):
        await _kill_subscriber(redis_admin, name)
        await wait_until(lambda: len(reconnects) >= outage)  # noqa: B023
        await a.publish("group:1", Event("after", {"outage": outage}))
        await inbox.until(outage)
    assert reconnects == [True, True]
    assert [d["outage"] for _, _, d in inbox.got] == [1, 2]


async def test_redis_unreachable_is_unhealthy_and_publish_parks() -> None:
    bus = RedisBus("redis://127.0.0.1:1/0", timeout=0.5)
    try:
        assert not await bus.ready()
        assert not bus.healthy
        await bus.subscribe("group:1")  # remembered; subscribed once Redis is back
        await bus.publish("group:1", Event("x", {}))  # parked, not an error
    finally:
        await bus.close()
    assert not bus.healthy
    with pytest.raises(Unavailable) as caught:  # a closed bus refuses
        await bus.publish("group:1", Event("x", {}))
    assert caught.value.code == "bus_unavailable"


async def test_redis_close_leaves_no_tasks(redis_bus: Callable[..., Awaitable[RedisBus]]) -> None:
    a = await redis_bus()
    await a.subscribe("t")
    await a.close()
    leftovers = [
        t for t in asyncio.all_tasks() if t.get_name().startswith("redis-bus") and not t.done()
    ]
    assert leftovers == []
    with pytest.raises(Unavailable):
        await a.publish("t", Event("x", {}))


# -- the event log: what a node misses while cut off --------------------------------


async def test_events_published_while_a_node_is_cut_off_are_replayed_once_in_order(
    redis_bus: Callable[..., Awaitable[RedisBus]], redis_admin: Redis
) -> None:
    name = f"nodechat-test-{uuid.uuid4().hex[:8]}"
    a = await redis_bus(name=name, backoff_min=1.0)  # a wide window to publish into
    b = await redis_bus()
    inbox = Inbox(a)
    reconnected: list[bool] = []
    a.set_reconnect_handler(reconnected.append)
    await a.subscribe("group:1")
    await b.publish("group:1", Event("member.joined", {"n": 0}))
    await inbox.until(1)

    await _kill_subscriber(redis_admin, name)
    await wait_until(lambda: not a.healthy)
    await b.publish_many(
        [
            ("group:1", Event("message.edited", {"n": 1})),
            ("group:2", Event("member.left", {"n": 2})),  # a topic a does not want
            ("group:1", Event("message.created", {"n": 3})),  # the store replays these
            ("group:1", Event("typing", {"n": 4})),
            ("group:1", Event("member.kicked", {"n": 5})),
        ]
    )
    await wait_until(lambda: bool(reconnected))
    assert reconnected == [False]
    await b.publish("group:1", Event("member.joined", {"n": 6}))  # live again
    await inbox.until(4)
    assert [(k, d["n"]) for _, k, d in inbox.got] == [
        ("member.joined", 0),
        ("message.edited", 1),
        ("member.kicked", 5),
        ("member.joined", 6),
    ]
    assert a.replayed == 2


async def test_a_mark_moves_the_replay_point_past_other_topics(
    redis_bus: Callable[..., Awaitable[RedisBus]], redis_admin: Redis
) -> None:
    a = await redis_bus(ping_interval=0.1)
    b = await redis_bus()
    for n in range(5):  # nothing a subscribes to
        await b.publish("group:9", Event("member.joined", {"n": n}))
    await wait_until(lambda: a._log.last == 5)  # without receiving any of them


async def test_a_trimmed_log_reports_events_lost(
    redis_bus: Callable[..., Awaitable[RedisBus]], redis_admin: Redis
) -> None:
    name = f"nodechat-test-{uuid.uuid4().hex[:8]}"
    a = await redis_bus(name=name, backoff_min=1.0, log_length=10)
    b = await redis_bus(log_length=10)
    reconnected: list[bool] = []
    a.set_reconnect_handler(reconnected.append)
    await a.subscribe("group:1")
    await _kill_subscriber(redis_admin, name)
    await wait_until(lambda: not a.healthy)
    # approximate trimming drops whole stream nodes (100 entries each by default)
    await b.publish_many([("group:1", Event("member.joined", {"n": n})) for n in range(300)])
    await wait_until(lambda: bool(reconnected))
    assert reconnected == [True]


async def test_events_published_while_redis_is_down_are_sent_when_it_is_back(
    private_redis: Any,
) -> None:
    url = private_redis.url
    publisher = RedisBus(url, timeout=0.5, backoff_max=0.2)
    receiver = RedisBus(url, timeout=0.5, backoff_max=0.2)
    try:
        assert await publisher.ready() and await receiver.ready()
        inbox = Inbox(receiver)
        reconnected: list[bool] = []
        receiver.set_reconnect_handler(reconnected.append)
        await receiver.subscribe("group:1")
        private_redis.kill()
        await wait_until(lambda: not publisher.healthy and not receiver.healthy)
        for n in range(3):
            await publisher.publish("group:1", Event("member.joined", {"n": n}))
        await publisher.publish("group:1", Event("typing", {"n": 9}))  # dropped: stale by then
        private_redis.start()
        await inbox.until(3)
        await publisher.publish("group:1", Event("member.left", {"n": 3}))
        await inbox.until(4)
        assert [(k, d["n"]) for _, k, d in inbox.got] == [
            ("member.joined", 0),
            ("member.joined", 1),
            ("member.joined", 2),
            ("member.left", 3),
        ]
        await wait_until(lambda: bool(reconnected))
        assert reconnected == [False]
    finally:
        await publisher.close()
        await receiver.close()
