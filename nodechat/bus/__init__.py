"""Event bus backends behind one interface.

Two flavours picked by the bus URL: in-process for ``memory://`` (one process
is the whole cluster) and Redis for ``redis://`` / ``rediss://``. The other
shared cluster state (presence, node registry, voice roster) is in
:mod:`nodechat.cluster`.
"""

from nodechat.bus.base import (
    Bus,
    EventHandler,
    ReconnectHandler,
    group_topic,
    presence_topic,
    publish_many_quietly,
    publish_quietly,
    user_topic,
)
from nodechat.bus.events import Event
from nodechat.bus.memory import MemoryBroker, MemoryBus
from nodechat.bus.redis import DEFAULT_PREFIX, RedisBus
from nodechat.errors import InvalidRequest

_REDIS_SCHEMES = ("redis://", "rediss://")


def is_memory_url(url: str) -> bool:
    """Whether ``url`` names the in-process bus (``InvalidRequest`` for an unknown scheme)."""
    if url in ("memory://", "memory"):
        return True
    if url.startswith(_REDIS_SCHEMES):
        return False
    raise InvalidRequest(
        f"unsupported bus URL {url!r} (expected memory://, redis:// or rediss://)",
        code="bad_config",
    )


def open_bus(url: str, *, prefix: str = DEFAULT_PREFIX, name: str = "nodechat") -> Bus:
    """Connect to the bus named by ``url``; ``prefix`` namespaces Redis channels."""
    if is_memory_url(url):
        return MemoryBus()
    return RedisBus(url, prefix=prefix, name=name)


__all__ = [
    "DEFAULT_PREFIX",
    "Bus",
    "Event",
    "EventHandler",
    "MemoryBroker",
    "MemoryBus",
    "publish_many_quietly",
    "publish_quietly",
    "ReconnectHandler",
    "RedisBus",
    "group_topic",
    "is_memory_url",
    "open_bus",
    "presence_topic",
    "user_topic",
]
