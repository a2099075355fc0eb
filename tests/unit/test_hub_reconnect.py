"""The hub's side of a bus outage and of presence: backfill on reconnect, announce on changes."""

from __future__ import annotations

from typing import Any, cast

from nodechat.bus import Bus, Event, MemoryBroker, MemoryBus, ReconnectHandler
from nodechat.cluster import LocalPresence
from nodechat.models import Identity
from nodechat.protocol.session import SessionState
from nodechat.server.connection import ClientConnection
from nodechat.server.hub import TO_LATEST, Hub


class FlakyBus(MemoryBus):
    """A memory bus whose reconnect the test triggers."""

    def __init__(self, broker: MemoryBroker) -> None:
        super().__init__(broker)
        self.reconnect_handler: ReconnectHandler | None = None

    def set_reconnect_handler(self, handler: ReconnectHandler | None) -> None:
        self.reconnect_handler = handler

    def reconnected(self) -> None:
        assert self.reconnect_handler is not None
        self.reconnect_handler()


class FakeConnection:
    """What the hub uses of a client connection."""

    def __init__(self, user_id: str, session_id: str) -> None:
        self.state = SessionState()
        self.state.authenticated(Identity(user_id, session_id))
        self.topics: set[str] = set()
        self.open = True
        self._held: list[Event] | None = None
        self.delivered: list[Event] = []

    @property
    def held(self) -> bool:
        return self._held is not None

    def hold(self) -> None:
        if self._held is None:
            self._held = []

    def release(self) -> None:
        held, self._held = self._held, None
        self.delivered += held or []

    def deliver(self, event: Event, frame: bytes | None = None) -> None:
        if self._held is not None:
            self._held.append(event)
        else:
            self.delivered.append(event)


def _hub(bus: Bus, **options: Any) -> Hub:
    async def presence_topics(user_id: str) -> list[str]:
        return ["group:g"]

    return Hub(bus, presence_topics, **options)


async def test_reconnect_backfills_every_seen_conversation_while_holding() -> None:
    bus = FlakyBus(MemoryBroker())
    hub = _hub(bus)
    calls: list[tuple[str, str, int, int, bool]] = []

    async def backfill(conn: ClientConnection, conversation: str, after: int, through: int) -> None:
        identity = conn.state.identity
        assert identity is not None
        held = cast(FakeConnection, conn)._held is not None
        calls.append((identity.session_id, conversation, after, through, held))
        conn.release()

    hub.set_backfill(backfill)
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
    busy.hold()  # authenticating: its snapshot goes first, the reconnect leaves it alone

    bus.reconnected()
    await hub.close()
    assert sorted(calls) == [
        ("s1", "c1", 4, TO_LATEST, True),
        ("s1", "c2", 9, TO_LATEST, True),
        ("s2", "c1", 4, TO_LATEST, True),
    ]


async def test_reconnect_without_backfill_is_harmless() -> None:
    bus = FlakyBus(MemoryBroker())
    hub = _hub(bus)
    await hub.attach(cast(ClientConnection, FakeConnection("u1", "s1")), [])
    bus.reconnected()
    await hub.close()


async def test_presence_announced_on_first_and_last_connection() -> None:
    broker = MemoryBroker()
    bus, watcher = broker.connect(), broker.connect()
    seen: list[tuple[str, str]] = []
    watcher.set_handler(
        lambda topic, event: seen.append((event.data["user_id"], event.data["status"]))
    )
    await watcher.subscribe("group:g")
    presence = LocalPresence()
    hub = _hub(bus, presence=presence)
    first, second = FakeConnection("u1", "s1"), FakeConnection("u1", "s2")
    await hub.attach(cast(ClientConnection, first), [])
    await hub.attach(cast(ClientConnection, second), [])
    assert await hub.online(["u2", "u1"]) == ["u1"]
    await hub.detach(cast(ClientConnection, first))
    assert seen == [("u1", "online")]
    await hub.detach(cast(ClientConnection, second))
    assert seen == [("u1", "online"), ("u1", "offline")]
    assert await hub.online(["u1"]) == []
    await hub.close()
