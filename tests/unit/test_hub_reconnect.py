"""The hub's side of a bus outage and of presence: every session catches up on reconnect;
status changes are announced."""

from __future__ import annotations

from typing import Any, cast

from nodechat.bus import Bus, Event, MemoryBroker, MemoryBus, ReconnectHandler
from nodechat.cluster import LocalPresence
from nodechat.models import Identity
from nodechat.protocol.session import TO_LATEST, Backfill, Session
from nodechat.server.connection import ClientConnection
from nodechat.server.hub import Hub
from nodechat.services.presence import PresenceService


class FlakyBus(MemoryBus):
    """A memory bus whose reconnect the test triggers."""

    def __init__(self, broker: MemoryBroker) -> None:
        super().__init__(broker)
        self.reconnect_handler: ReconnectHandler | None = None

    def set_reconnect_handler(self, handler: ReconnectHandler | None) -> None:
        self.reconnect_handler = handler

    def reconnected(self, events_lost: bool = False) -> None:
        assert self.reconnect_handler is not None
        self.reconnect_handler(events_lost)


class FakeConnection:
    """What the hub uses of a client connection: its session, topics and feeding."""

    def __init__(self, user_id: str, session_id: str) -> None:
        self.state = Session()
        self.state.begin(Identity(user_id, session_id))
        self.state.start(b"", {})
        self.topics: set[str] = set()
        self.open = True
        self.store_reads: list[Backfill] = []
        self.closed: tuple[int, str] | None = None

    def deliver(self, event: Event, frame: bytes | None = None) -> None:
        self.state.receive(event, frame)

    def catch_up(self) -> None:
        self.state.catch_up()
        self.store_reads += [a for a in self.state.actions if isinstance(a, Backfill)]
        self.state.actions.clear()

    async def settled(self) -> None:
        pass

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def _hub(bus: Bus, presence: LocalPresence | None = None, **options: Any) -> Hub:
    service = PresenceService(presence or LocalPresence(), bus)
    return Hub(bus, service, **options)


async def test_reconnect_has_every_live_session_catch_up() -> None:
    bus = FlakyBus(MemoryBroker())
    hub = _hub(bus)
    one, two, busy = (
        FakeConnection("u1", "s1"),
        FakeConnection("u2", "s2"),
        FakeConnection("u3", "s3"),
    )
    one.state.advance("c1", 4)
    one.state.advance("c2", 9)
    two.state.advance("c1", 4)
    busy.state.advance("c1", 4)
    for conn in (one, two, busy):
        await hub.attach(cast(ClientConnection, conn), ["g"])
    busy.state.begin(Identity("u3", "s3"))  # starting again: its snapshot goes first

    bus.reconnected()
    await hub.close()
    # one store read at a time per session, the next when the first is answered
    assert one.store_reads == [Backfill("c1", 4, TO_LATEST)] and one.state.held
    assert two.store_reads == [Backfill("c1", 4, TO_LATEST)] and two.state.held
    assert busy.store_reads == []
    one.state.backfilled("c1", [])
    assert one.state.actions == [Backfill("c2", 9, TO_LATEST)]


async def test_events_lost_for_good_close_every_session_to_resnapshot() -> None:
    bus = FlakyBus(MemoryBroker())
    hub = _hub(bus)
    one, two = FakeConnection("u1", "s1"), FakeConnection("u2", "s2")
    one.state.advance("c1", 4)
    for conn in (one, two):
        await hub.attach(cast(ClientConnection, conn), ["g"])
    bus.reconnected(events_lost=True)
    await hub.close()
    assert one.closed == two.closed == (1012, "events missed: reconnect and resume")
    assert one.store_reads == []


async def test_reconnect_without_backfill_is_harmless() -> None:
    bus = FlakyBus(MemoryBroker())
    hub = _hub(bus)
    await hub.attach(cast(ClientConnection, FakeConnection("u1", "s1")), [])
    bus.reconnected()
    await hub.close()


async def test_presence_announced_on_first_and_last_connection() -> None:
    broker = MemoryBroker()
    bus, watcher = broker.connect(), broker.connect()
    seen: list[tuple[str, str, str]] = []
    watcher.set_handler(
        lambda topic, event: seen.append((topic, event.data["user_id"], event.data["status"]))
    )
    await watcher.subscribe("presence:u1")
    await watcher.subscribe("group:g")
    service = PresenceService(LocalPresence(), bus)
    hub = Hub(bus, service)
    first, second = FakeConnection("u1", "s1"), FakeConnection("u1", "s2")
    await hub.attach(cast(ClientConnection, first), ["g"])
    await hub.attach(cast(ClientConnection, second), ["g"])
    assert await hub.online(["u2", "u1"]) == ["u1"]
    await service.flush()
    await hub.detach(cast(ClientConnection, first))
    await service.flush()
    assert seen == [("presence:u1", "u1", "online")]  # once, on its own topic only
    await hub.detach(cast(ClientConnection, second))
    await service.flush()
    assert seen == [("presence:u1", "u1", "online"), ("presence:u1", "u1", "offline")]
    assert await hub.online(["u1"]) == []
    await hub.close()


async def test_status_changes_are_coalesced_per_user() -> None:
    broker = MemoryBroker()
    bus, watcher = broker.connect(), broker.connect()
    seen: list[tuple[str, str]] = []
    watcher.set_handler(lambda topic, event: seen.append((topic, event.data["status"])))
    await watcher.subscribe("presence:u1")
    await watcher.subscribe("presence:u2")
    service = PresenceService(LocalPresence(), bus, coalesce=60.0)  # windows close on flush
    for _ in range(3):  # a flapping client: online, offline, online, ...
        await service.connected("u1")
        await service.disconnected("u1")
    await service.connected("u1")
    await service.connected("u2")
    await service.disconnected("u2")
    assert seen == []  # nothing yet: the windows are open
    await service.flush()
    assert sorted(seen) == [("presence:u1", "online"), ("presence:u2", "offline")]
    await service.close()
