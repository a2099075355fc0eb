"""Event bus backends behind one interface, plus presence and the socket node registry.

Each comes in two flavours picked by the bus URL: in-process for ``memory://``
(one process is the whole cluster) and Redis for ``redis://`` / ``rediss://``.
"""

from nodechat.bus.base import (
    Bus,
    EventHandler,
    ReconnectHandler,
    group_topic,
    publish_many_quietly,
    publish_quietly,
    user_topic,
)
from nodechat.bus.events import Event
from nodechat.bus.memory import MemoryBroker, MemoryBus
from nodechat.bus.presence import LocalPresence, PresenceRegistry, RedisPresence
from nodechat.bus.redis import DEFAULT_PREFIX, RedisBus
from nodechat.bus.registry import LocalNodeRegistry, NodeRegistry, RedisNodeRegistry
from nodechat.bus.voice import LocalVoiceRoster, RedisVoiceRoster, VoiceRoster
from nodechat.errors import InvalidRequest

_REDIS_SCHEMES = ("redis://", "rediss://")


def _is_memory(url: str) -> bool:
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
    if _is_memory(url):
        return MemoryBus()
    return RedisBus(url, prefix=prefix, name=name)


def open_presence(
    url: str, node_id: str, *, prefix: str = DEFAULT_PREFIX, ttl: float = 15.0
) -> PresenceRegistry:
    """The presence registry that goes with the bus at ``url``."""
    if _is_memory(url):
        return LocalPresence(node_id)
    return RedisPresence.from_url(url, node_id, prefix=prefix, ttl=ttl)


def open_voice(url: str, node_id: str, *, prefix: str = DEFAULT_PREFIX) -> VoiceRoster:
    """The voice channel roster that goes with the bus at ``url``."""
    if _is_memory(url):
        return LocalVoiceRoster()
    return RedisVoiceRoster.from_url(url, node_id, prefix=prefix)


def open_registry(url: str, *, prefix: str = DEFAULT_PREFIX, ttl: float = 10.0) -> NodeRegistry:
    """The socket node registry that goes with the bus at ``url`` (``ttl``: registry_ttl)."""
    if _is_memory(url):
        return LocalNodeRegistry()
    return RedisNodeRegistry.from_url(url, prefix=prefix, ttl=ttl)


__all__ = [
    "DEFAULT_PREFIX",
    "Bus",
    "Event",
    "EventHandler",
    "LocalNodeRegistry",
    "LocalPresence",
    "LocalVoiceRoster",
    "MemoryBroker",
    "MemoryBus",
    "publish_many_quietly",
    "publish_quietly",
    "NodeRegistry",
    "PresenceRegistry",
    "ReconnectHandler",
    "RedisBus",
    "RedisNodeRegistry",
    "RedisPresence",
    "RedisVoiceRoster",
    "VoiceRoster",
    "group_topic",
    "open_bus",
    "open_presence",
    "open_registry",
    "open_voice",
    "user_topic",
]
