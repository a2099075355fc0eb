"""In-process bus: the default for ``nodechat serve``. Delivery is synchronous and ordered."""

from __future__ import annotations

from nodechat.bus.base import Bus, EventHandler
from nodechat.bus.events import Event


class MemoryBroker:
    """Connects the :class:`MemoryBus` clients of one process."""

    def __init__(self) -> None:
        self.clients: list[MemoryBus] = []

    def connect(self) -> MemoryBus:
        """A new client of this broker."""
        return MemoryBus(self)


class MemoryBus(Bus):
    """A client of a :class:`MemoryBroker`."""

    def __init__(self, broker: MemoryBroker | None = None) -> None:
        self._broker = broker if broker is not None else MemoryBroker()
        if self not in self._broker.clients:
            self._broker.clients.append(self)
        self._topics: set[str] = set()
        self._handler: EventHandler | None = None
        self._closed = False

    def set_handler(self, handler: EventHandler) -> None:
        self._handler = handler

    async def publish(self, topic: str, event: Event) -> None:
        for client in self._broker.clients:
            handler = client._handler
            if handler is not None and topic in client._topics:
                handler(topic, event)

    async def subscribe(self, topic: str) -> None:
        self._topics.add(topic)

    async def unsubscribe(self, topic: str) -> None:
        self._topics.discard(topic)

    async def close(self) -> None:
        self._closed = True
        self._topics.clear()
        if self in self._broker.clients:
            self._broker.clients.remove(self)

    @property
    def healthy(self) -> bool:
        return not self._closed
