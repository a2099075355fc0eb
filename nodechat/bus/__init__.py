"""Event bus backends behind one interface."""

from nodechat.bus.base import Bus, Event, EventHandler, group_topic, user_topic
from nodechat.bus.memory import MemoryBroker, MemoryBus
from nodechat.errors import InvalidRequest


def open_bus(url: str) -> Bus:
    """Connect to the bus named by ``url`` (``memory://``)."""
    if url in ("memory://", "memory"):
        return MemoryBus()
    raise InvalidRequest(f"unsupported bus URL {url!r} (expected memory://)", code="bad_config")


__all__ = ["Bus", "Event", "EventHandler", "MemoryBroker", "MemoryBus", "group_topic",
           "open_bus", "user_topic"]
