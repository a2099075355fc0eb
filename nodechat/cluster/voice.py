"""Who is in which voice channel, on one node or across all socket nodes.

nodechat carries no audio; a voice channel's *participants* are the users
who said they joined it (``voice.join``) and have not left or disconnected.
A user is in at most one voice channel at a time; joining another moves
them. Socket nodes record joins and leaves here and publish ``voice.updated``
to the channel's group.

Redis layout (``P`` = the key prefix)::

    P voice:<channel>         hash: user id -> node id
    P voice:user:<user>       the channel the user is in (string)

A participant counts while their node's presence heartbeat key
(``P presence:alive:<node>``, see :mod:`nodechat.cluster.presence`) exists, so the
users of a crashed node drop out within the presence TTL (without an event;
clients see it at their next snapshot or the next change in that channel).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable

from redis.asyncio import Redis

from nodechat.bus.redis import DEFAULT_PREFIX, redis_client, redis_errors


class VoiceRoster(ABC):
    """Voice channel participants."""

    @abstractmethod
    async def join(self, channel_id: str, user_id: str) -> str | None:
        """Put the user in the channel; the other channel they left, or None."""

    @abstractmethod
    async def leave(self, user_id: str, channel_id: str | None = None) -> str | None:
        """Take the user out of their channel (only if it is ``channel_id``, when given);
        the channel they left, or None."""

    @abstractmethod
    async def participants(self, channel_ids: Iterable[str]) -> dict[str, list[str]]:
        """Sorted participants of each channel that has any."""

    async def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Release connections."""


class LocalVoiceRoster(VoiceRoster):
    """In-process roster for one node (``memory://`` bus)."""

    def __init__(self) -> None:
        self._where: dict[str, str] = {}

    async def join(self, channel_id: str, user_id: str) -> str | None:
        before = self._where.get(user_id)
        self._where[user_id] = channel_id
        return before if before != channel_id else None

    async def leave(self, user_id: str, channel_id: str | None = None) -> str | None:
        current = self._where.get(user_id)
        if current is None or (channel_id is not None and current != channel_id):
            return None
        del self._where[user_id]
        return current

    async def participants(self, channel_ids: Iterable[str]) -> dict[str, list[str]]:
        wanted = set(channel_ids)
        found: dict[str, list[str]] = {}
        for user_id, channel_id in self._where.items():
            if channel_id in wanted:
                found.setdefault(channel_id, []).append(user_id)
        return {c: sorted(users) for c, users in found.items()}


# KEYS: voice:user:<user>, voice:<new channel>; ARGV: prefix, user, node, new channel.
# Returns the channel the user left ("" if none).
_JOIN = """
local before = redis.call('GET', KEYS[1])
if before and before ~= ARGV[4] then
  redis.call('HDEL', ARGV[1] .. 'voice:' .. before, ARGV[2])
end
redis.call('SET', KEYS[1], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
if before and before ~= ARGV[4] then return before end
return ''
"""

# KEYS: voice:user:<user>; ARGV: prefix, user, only this channel ("" = any).
_LEAVE = """
local current = redis.call('GET', KEYS[1])
if not current or (ARGV[3] ~= '' and current ~= ARGV[3]) then return '' end
redis.call('DEL', KEYS[1])
redis.call('HDEL', ARGV[1] .. 'voice:' .. current, ARGV[2])
return current
"""


class RedisVoiceRoster(VoiceRoster):
    """Roster shared by every node on one Redis server."""

    def __init__(self, client: Redis, node_id: str, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._redis = client
        self.node_id = node_id
        self._prefix = prefix

    @classmethod
    def from_url(cls, url: str, node_id: str, *, prefix: str = DEFAULT_PREFIX) -> RedisVoiceRoster:
        """A roster with its own connection pool to ``url``."""
        return cls(
            redis_client(url, name=f"nodechat-voice-{node_id}", timeout=5.0), node_id, prefix=prefix
        )

    async def join(self, channel_id: str, user_id: str) -> str | None:
        p = self._prefix
        with redis_errors("voice join", code="voice_unavailable"):
            before = await self._redis.eval(
                _JOIN,
                2,
                f"{p}voice:user:{user_id}",
                f"{p}voice:{channel_id}",
                p,
                user_id,
                self.node_id,
                channel_id,
            )
        left = before.decode() if isinstance(before, bytes) else str(before)
        return left or None

    async def leave(self, user_id: str, channel_id: str | None = None) -> str | None:
        p = self._prefix
        with redis_errors("voice leave", code="voice_unavailable"):
            left = await self._redis.eval(
                _LEAVE, 1, f"{p}voice:user:{user_id}", p, user_id, channel_id or ""
            )
        text = left.decode() if isinstance(left, bytes) else str(left)
        return text or None

    async def participants(self, channel_ids: Iterable[str]) -> dict[str, list[str]]:
        ids = list(channel_ids)
        if not ids:
            return {}
        p = self._prefix
        with redis_errors("voice participants"):
            async with self._redis.pipeline(transaction=False) as pipe:
                for channel_id in ids:
                    pipe.hgetall(f"{p}voice:{channel_id}")
                rosters = await pipe.execute()
            nodes = sorted({n.decode() for r in rosters for n in r.values()})
            alive: set[str] = set()
            if nodes:
                flags = await self._redis.mget([f"{p}presence:alive:{n}" for n in nodes])
                alive = {n for n, flag in zip(nodes, flags, strict=True) if flag is not None}
        found: dict[str, list[str]] = {}
        for channel_id, roster in zip(ids, rosters, strict=True):
            users = sorted(u.decode() for u, n in roster.items() if n.decode() in alive)
            if users:
                found[channel_id] = users
        return found

    async def close(self) -> None:
        await self._redis.aclose()
