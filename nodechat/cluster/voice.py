"""Who is in which voice channel, on one node or across all socket nodes.

A voice channel's *participants* are the users who joined it
(``voice.join``) and have not left or disconnected. A user is in at most one
voice channel at a time across all their sessions; joining another moves
them. Each participant has a *handle* (a small integer naming them in media
frames, unique within the channel) and a state: muted, deafened, speaking.
Socket nodes record changes here and publish ``voice.updated`` to the group.

Redis layout (``P`` = the key prefix)::

    P voice:<channel>         hash: user id -> "<node>|<handle>|<flags>"
    P voice:user:<user>       the channel the user is in (string)
    P voice:group:<channel>   the channel's group (for events about a dead node)
    P voice:handles           hash: channel -> last handle given out
    P voice:nodes             hash: "<node>|<user>" -> channel (what a dead node held)

A participant counts while their node's presence heartbeat key
(``P presence:alive:<node>``, see :mod:`nodechat.cluster.presence`) exists.
:meth:`VoiceRoster.sweep` (run by every socket node every few seconds)
removes the participants of nodes whose key expired, so a crashed node's
users leave with a ``voice.updated`` event within the presence TTL.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis

from nodechat.bus.redis import DEFAULT_PREFIX, redis_client, redis_errors

MUTED, DEAFENED, SPEAKING = 1, 2, 4


@dataclass(frozen=True, slots=True)
class VoiceState:
    """One participant: their handle in media frames and their flags."""

    handle: int
    muted: bool = False
    deafened: bool = False
    speaking: bool = False

    def to_dict(self) -> dict[str, int | bool]:
        """The wire form (``states`` in ``voice.join`` replies and ``voice.updated``)."""
        return {
            "handle": self.handle,
            "muted": self.muted,
            "deafened": self.deafened,
            "speaking": self.speaking,
        }

    @property
    def flags(self) -> int:
        """The flags as a bit mask (MUTED | DEAFENED | SPEAKING)."""
        return (
            (MUTED if self.muted else 0)
            | (DEAFENED if self.deafened else 0)
            | (SPEAKING if self.speaking else 0)
        )

    @classmethod
    def parse(cls, handle: int, flags: int) -> VoiceState:
        """From a handle and a flag mask."""
        return cls(handle, bool(flags & MUTED), bool(flags & DEAFENED), bool(flags & SPEAKING))


class VoiceRoster(ABC):
    """Voice channel participants."""

    @abstractmethod
    async def join(self, channel_id: str, user_id: str, group_id: str = "") -> str | None:
        """Put the user in the channel; the other channel they left, or None."""

    @abstractmethod
    async def leave(self, user_id: str, channel_id: str | None = None) -> str | None:
        """Take the user out of their channel (only if it is ``channel_id``, when given);
        the channel they left, or None."""

    @abstractmethod
    async def participants(self, channel_ids: Iterable[str]) -> dict[str, list[str]]:
        """Sorted participants of each channel that has any."""

    @abstractmethod
    async def states(self, channel_id: str) -> dict[str, VoiceState]:
        """Each live participant of one channel and their state."""

    @abstractmethod
    async def set_state(
        self,
        user_id: str,
        channel_id: str,
        *,
        muted: bool | None = None,
        deafened: bool | None = None,
        speaking: bool | None = None,
    ) -> VoiceState | None:
        """Change the flags given (None: unchanged) if the user is in that channel;
        the new state, or None when they are not there."""

    async def sweep(self) -> dict[str, str]:
        """Remove the participants of dead nodes; changed channel -> its group id."""
        return {}

    async def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Release connections."""


class LocalVoiceRoster(VoiceRoster):
    """In-process roster for one node (``memory://`` bus)."""

    def __init__(self) -> None:
        self._where: dict[str, str] = {}
        self._state: dict[str, VoiceState] = {}
        self._handles: dict[str, int] = {}

    async def join(self, channel_id: str, user_id: str, group_id: str = "") -> str | None:
        before = self._where.get(user_id)
        if before != channel_id:
            handle = self._handles.get(channel_id, 0) % 0xFFFF + 1
            self._handles[channel_id] = handle
            self._state[user_id] = VoiceState(handle)
        self._where[user_id] = channel_id
        return before if before != channel_id else None

    async def leave(self, user_id: str, channel_id: str | None = None) -> str | None:
        current = self._where.get(user_id)
        if current is None or (channel_id is not None and current != channel_id):
            return None
        del self._where[user_id]
        self._state.pop(user_id, None)
        return current

    async def states(self, channel_id: str) -> dict[str, VoiceState]:
        return {u: self._state[u] for u, c in sorted(self._where.items()) if c == channel_id}

    async def set_state(
        self,
        user_id: str,
        channel_id: str,
        *,
        muted: bool | None = None,
        deafened: bool | None = None,
        speaking: bool | None = None,
    ) -> VoiceState | None:
        if self._where.get(user_id) != channel_id:
            return None
        old = self._state[user_id]
        new = VoiceState(
            old.handle,
            old.muted if muted is None else muted,
            old.deafened if deafened is None else deafened,
            old.speaking if speaking is None else speaking,
        )
        self._state[user_id] = new
        return new

    async def participants(self, channel_ids: Iterable[str]) -> dict[str, list[str]]:
        wanted = set(channel_ids)
        found: dict[str, list[str]] = {}
        for user_id, channel_id in self._where.items():
            if channel_id in wanted:
                found.setdefault(channel_id, []).append(user_id)
        return {c: sorted(users) for c, users in found.items()}


# KEYS: voice:user:<user>, voice:<new channel>; ARGV: prefix, user, node, channel, group.
# Returns the channel the user left ("" if none). Joining the same channel again keeps
# the handle and flags (and moves the entry to this node).
_JOIN = """
local p, user, node, chan = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local before = redis.call('GET', KEYS[1])
local function forget_node(value)
  redis.call('HDEL', p .. 'voice:nodes', string.match(value, '^([^|]*)') .. '|' .. user)
end
local same = before == chan and redis.call('HGET', KEYS[2], user)
if same then
  forget_node(same)
  local rest = string.match(same, '^[^|]*(|.*)$') or '|1|0'
  redis.call('HSET', KEYS[2], user, node .. rest)
  redis.call('HSET', p .. 'voice:nodes', node .. '|' .. user, chan)
  return ''
end
if before then
  local old = redis.call('HGET', p .. 'voice:' .. before, user)
  if old then forget_node(old) end
  redis.call('HDEL', p .. 'voice:' .. before, user)
end
local h = redis.call('HINCRBY', p .. 'voice:handles', chan, 1)
if h > 65535 then h = 1 redis.call('HSET', p .. 'voice:handles', chan, 1) end
redis.call('SET', KEYS[1], chan)
redis.call('HSET', KEYS[2], user, node .. '|' .. h .. '|0')
redis.call('HSET', p .. 'voice:nodes', node .. '|' .. user, chan)
if ARGV[5] ~= '' then redis.call('SET', p .. 'voice:group:' .. chan, ARGV[5]) end
if before and before ~= chan then return before end
return ''
"""

# KEYS: voice:user:<user>; ARGV: prefix, user, only this channel ("" = any).
_LEAVE = """
local current = redis.call('GET', KEYS[1])
if not current or (ARGV[3] ~= '' and current ~= ARGV[3]) then return '' end
redis.call('DEL', KEYS[1])
local key = ARGV[1] .. 'voice:' .. current
local v = redis.call('HGET', key, ARGV[2])
if v then
  redis.call('HDEL', ARGV[1] .. 'voice:nodes', string.match(v, '^([^|]*)') .. '|' .. ARGV[2])
end
redis.call('HDEL', key, ARGV[2])
return current
"""

# KEYS: voice:user:<user>, voice:<channel>; ARGV: user, channel, flags to set, to clear.
# Returns "<handle>|<flags>", or false when the user is not in that channel.
_SET_STATE = """
if redis.call('GET', KEYS[1]) ~= ARGV[2] then return false end
local v = redis.call('HGET', KEYS[2], ARGV[1])
if not v then return false end
local node, h, f = string.match(v, '^([^|]*)|(%d+)|(%d+)$')
if not node then return false end
f = bit.bor(bit.band(tonumber(f), bit.bnot(tonumber(ARGV[4]))), tonumber(ARGV[3]))
redis.call('HSET', KEYS[2], ARGV[1], node .. '|' .. h .. '|' .. f)
return h .. '|' .. f
"""

# ARGV: prefix. Removes the participants of nodes whose presence key expired;
# returns channel, group, channel, group, ... (one pair per participant removed).
_SWEEP = """
local p = ARGV[1]
local entries = redis.call('HGETALL', p .. 'voice:nodes')
local dead, out = {}, {}
for i = 1, #entries, 2 do
  local key, chan = entries[i], entries[i + 1]
  local node, user = string.match(key, '^([^|]*)|(.*)$')
  if node then
    if dead[node] == nil then
      dead[node] = redis.call('EXISTS', p .. 'presence:alive:' .. node) == 0
    end
    if dead[node] then
      redis.call('HDEL', p .. 'voice:nodes', key)
      local v = redis.call('HGET', p .. 'voice:' .. chan, user)
      if v and string.match(v, '^([^|]*)') == node then
        redis.call('HDEL', p .. 'voice:' .. chan, user)
        if redis.call('GET', p .. 'voice:user:' .. user) == chan then
          redis.call('DEL', p .. 'voice:user:' .. user)
        end
        out[#out + 1] = chan
        out[#out + 1] = redis.call('GET', p .. 'voice:group:' .. chan) or ''
      end
    end
  end
end
return out
"""


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entry(value: bytes) -> tuple[str, VoiceState]:
    """A roster hash value: its node and the participant's state."""
    parts = value.decode().split("|")
    handle = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    flags = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 0
    return parts[0], VoiceState.parse(handle, flags)


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

    async def join(self, channel_id: str, user_id: str, group_id: str = "") -> str | None:
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
                group_id,
            )
        return _text(before) or None

    async def leave(self, user_id: str, channel_id: str | None = None) -> str | None:
        p = self._prefix
        with redis_errors("voice leave", code="voice_unavailable"):
            left = await self._redis.eval(
                _LEAVE, 1, f"{p}voice:user:{user_id}", p, user_id, channel_id or ""
            )
        return _text(left) or None

    async def states(self, channel_id: str) -> dict[str, VoiceState]:
        p = self._prefix
        with redis_errors("voice participants"):
            roster = cast(dict[bytes, bytes], await self._redis.hgetall(f"{p}voice:{channel_id}"))
            entries = {u.decode(): _entry(v) for u, v in roster.items()}
            nodes = sorted({node for node, _ in entries.values()})
            alive: set[str] = set()
            if nodes:
                flags = await self._redis.mget([f"{p}presence:alive:{n}" for n in nodes])
                alive = {n for n, flag in zip(nodes, flags, strict=True) if flag is not None}
        return {u: st for u, (node, st) in sorted(entries.items()) if node in alive}

    async def set_state(
        self,
        user_id: str,
        channel_id: str,
        *,
        muted: bool | None = None,
        deafened: bool | None = None,
        speaking: bool | None = None,
    ) -> VoiceState | None:
        on = off = 0
        for flag, value in ((MUTED, muted), (DEAFENED, deafened), (SPEAKING, speaking)):
            if value is True:
                on |= flag
            elif value is False:
                off |= flag
        p = self._prefix
        with redis_errors("voice state", code="voice_unavailable"):
            found = await self._redis.eval(
                _SET_STATE,
                2,
                f"{p}voice:user:{user_id}",
                f"{p}voice:{channel_id}",
                user_id,
                channel_id,
                on,
                off,
            )
        if not found:
            return None
        handle, flags = _text(found).split("|")
        return VoiceState.parse(int(handle), int(flags))

    async def sweep(self) -> dict[str, str]:
        with redis_errors("voice sweep", code="voice_unavailable"):
            out = await self._redis.eval(_SWEEP, 0, self._prefix)
        items = [_text(x) for x in out]
        return dict(zip(items[0::2], items[1::2], strict=True))

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
            nodes = sorted({_entry(n)[0] for r in rosters for n in r.values()})
            alive: set[str] = set()
            if nodes:
                flags = await self._redis.mget([f"{p}presence:alive:{n}" for n in nodes])
                alive = {n for n, flag in zip(nodes, flags, strict=True) if flag is not None}
        found: dict[str, list[str]] = {}
        for channel_id, roster in zip(ids, rosters, strict=True):
            users = sorted(u.decode() for u, n in roster.items() if _entry(n)[0] in alive)
            if users:
                found[channel_id] = users
        return found

    async def close(self) -> None:
        await self._redis.aclose()
