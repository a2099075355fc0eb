"""Cluster state shared by the socket nodes that is not the bus: presence, the node
registry and the voice roster.

Each comes in two flavours picked by the bus URL, as the bus does: in-process
for ``memory://`` (one process is the whole cluster) and Redis for
``redis://`` / ``rediss://`` (the same server as the bus, same key prefix).
"""

from nodechat.bus import DEFAULT_PREFIX, is_memory_url
from nodechat.cluster.presence import LocalPresence, PresenceRegistry, RedisPresence
from nodechat.cluster.registry import LocalNodeRegistry, NodeRegistry, RedisNodeRegistry
from nodechat.cluster.voice import LocalVoiceRoster, RedisVoiceRoster, VoiceRoster, VoiceState


def open_presence(
    url: str, node_id: str, *, prefix: str = DEFAULT_PREFIX, ttl: float = 15.0
) -> PresenceRegistry:
    """The presence registry that goes with the bus at ``url``."""
    if is_memory_url(url):
        return LocalPresence(node_id)
    return RedisPresence.from_url(url, node_id, prefix=prefix, ttl=ttl)


def open_voice(url: str, node_id: str, *, prefix: str = DEFAULT_PREFIX) -> VoiceRoster:
    """The voice channel roster that goes with the bus at ``url``."""
    if is_memory_url(url):
        return LocalVoiceRoster()
    return RedisVoiceRoster.from_url(url, node_id, prefix=prefix)


def open_registry(url: str, *, prefix: str = DEFAULT_PREFIX, ttl: float = 10.0) -> NodeRegistry:
    """The socket node registry that goes with the bus at ``url`` (``ttl``: registry_ttl)."""
    if is_memory_url(url):
        return LocalNodeRegistry()
    return RedisNodeRegistry.from_url(url, prefix=prefix, ttl=ttl)


__all__ = [
    "LocalNodeRegistry",
    "LocalPresence",
    "LocalVoiceRoster",
    "NodeRegistry",
    "PresenceRegistry",
    "RedisNodeRegistry",
    "RedisPresence",
    "RedisVoiceRoster",
    "VoiceRoster",
    "VoiceState",
    "open_presence",
    "open_registry",
    "open_voice",
]
