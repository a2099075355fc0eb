"""The bus contract: every backend delivers published events to subscribed nodes, in order."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from nodechat.bus import Bus, Event, MemoryBroker

BusFactory = Callable[[], Bus]


@pytest.fixture(params=["memory"])
async def make_bus(request: pytest.FixtureRequest) -> AsyncIterator[BusFactory]:
    broker = MemoryBroker()
    opened: list[Bus] = []

    def factory() -> Bus:
        bus = broker.connect()
        opened.append(bus)
        return bus

    yield factory
    for bus in opened:
        await bus.close()


class Inbox:
    def __init__(self, bus: Bus) -> None:
        self.got: list[tuple[str, str, dict]] = []
        bus.set_handler(lambda topic, event: self.got.append((topic, event.kind, event.data)))


async def test_subscribed_nodes_receive_in_order(make_bus: BusFactory) -> None:
    a, b = make_bus(), make_bus()
    inbox_a, inbox_b = Inbox(a), Inbox(b)
    await a.subscribe("group:1")
    await b.subscribe("group:1")
    await b.subscribe("user:9")
    for i in range(50):
        await a.publish("group:1", Event("message.created", {"seq": i}))
    await a.publish("user:9", Event("typing", {}))
    assert [d["seq"] for _, k, d in inbox_a.got] == list(range(50))
    assert [d["seq"] for t, k, d in inbox_b.got if t == "group:1"] == list(range(50))
    assert inbox_b.got[-1] == ("user:9", "typing", {})
    assert all(t == "group:1" for t, _, _ in inbox_a.got)  # a did not subscribe user:9


async def test_unsubscribe_and_idempotence(make_bus: BusFactory) -> None:
    a = make_bus()
    inbox = Inbox(a)
    await a.subscribe("t")
    await a.subscribe("t")
    await a.publish("t", Event("x", {}))
    assert len(inbox.got) == 1  # subscribing twice does not deliver twice
    await a.unsubscribe("t")
    await a.unsubscribe("t")
    await a.publish("t", Event("x", {}))
    assert len(inbox.got) == 1
    assert a.healthy
    await a.close()
    assert not a.healthy


async def test_event_frame_is_encoded_once() -> None:
    event = Event("message.created", {"seq": 1})
    assert event.frame is event.frame
    assert event.frame == b'{"type":"event","event":"message.created","data":{"seq":1}}'
