"""Voice channel participants: ``voice.join``, ``voice.leave``, ``voice.state``, disconnects.

Joining a voice channel makes the user one of its participants, which every
member of the group sees (``voice.updated`` events and the ``voice`` /
``voice_states`` fields of the ready snapshot); a user is in one voice
channel at a time, and leaves it by ``voice.leave``, by joining another, when
the connection that joined closes, or when its node dies (:meth:`sweep`).
The transport remembers which channel each of its connections joined and
says so on disconnect; the media itself is relayed by
:mod:`nodechat.server.voice_relay`.
"""

from __future__ import annotations

import logging
from typing import Any

from nodechat.bus import Bus, Event, group_topic, publish_quietly
from nodechat.cluster import VoiceRoster, VoiceState
from nodechat.errors import ChatError, Conflict, InvalidRequest, NotFound
from nodechat.models import ChannelKind, Identity
from nodechat.services.api import GroupService, GroupView

log = logging.getLogger(__name__)


class VoiceService:
    """Joins and leaves voice channels; announces each change to the channel's group."""

    def __init__(self, groups: GroupService, roster: VoiceRoster, bus: Bus) -> None:
        self._groups = groups
        self.roster = roster
        self._bus = bus
        self._group_of: dict[str, str] = {}  # voice channel -> group, as learned at joins

    async def join(self, identity: Identity, channel_id: str) -> dict[str, Any]:
        """Enter a voice channel of one of the caller's groups (leaving any other)."""
        views = await self._groups.list_groups(identity)
        group_of = _voice_channels(views)
        if channel_id not in group_of:
            if any(c.id == channel_id for v in views for c in v.channels):
                raise InvalidRequest(
                    "that is a text channel", code="not_voice_channel", field="channel"
                )
            raise NotFound("no such channel", code="channel_not_found")
        self._group_of.update(group_of)
        left = await self.roster.join(channel_id, identity.user_id, group_of[channel_id])
        participants, states = await self._announce(group_of[channel_id], channel_id)
        if left is not None and left in group_of:
            await self._announce(group_of[left], left)
        return {"channel": channel_id, "participants": participants, "states": states}

    async def set_state(
        self, identity: Identity, channel_id: str | None, data: dict[str, Any]
    ) -> dict[str, Any]:
        """voice.state: mute or deafen the caller in the channel this session joined."""
        if channel_id is None:
            raise Conflict("join a voice channel first", code="not_in_voice")
        state = await self.roster.set_state(
            identity.user_id, channel_id, muted=data.get("muted"), deafened=data.get("deafened")
        )
        if state is None:
            raise Conflict("not in that voice channel any more", code="not_in_voice")
        await self._announce_channel(channel_id)
        return {"channel": channel_id, **state.to_dict()}

    async def speaking(self, user_id: str, channel_id: str, speaking: bool) -> None:
        """The relay saw media start or stop flowing from a participant."""
        try:
            if await self.roster.set_state(user_id, channel_id, speaking=speaking) is not None:
                await self._announce_channel(channel_id)
        except ChatError as exc:  # a missed speaking mark is cosmetic
            log.info("speaking state not recorded: %s", exc.code)

    async def states(self, channel_id: str) -> dict[str, VoiceState]:
        """Live participants of one channel with their state."""
        return await self.roster.states(channel_id)

    async def sweep(self) -> int:
        """Remove the participants of dead nodes, with an event per channel; how many."""
        changed = await self.roster.sweep()
        for channel_id, group_id in changed.items():
            if group_id:
                await self._announce(group_id, channel_id)
        return len(changed)

    async def leave(self, identity: Identity) -> dict[str, Any]:
        """Leave the voice channel the caller is in, if any."""
        left = await self.roster.leave(identity.user_id)
        if left is not None:
            group_of = _voice_channels(await self._groups.list_groups(identity))
            if left in group_of:
                await self._announce(group_of[left], left)
        return {"left": left}

    async def disconnected(self, identity: Identity, channel_id: str) -> None:
        """The connection that joined ``channel_id`` closed: its user leaves that channel."""
        try:
            if await self.roster.leave(identity.user_id, channel_id) is None:
                return  # already moved elsewhere (another connection joined another channel)
            group_of = _voice_channels(await self._groups.list_groups(identity))
            if channel_id in group_of:
                await self._announce(group_of[channel_id], channel_id)
        except ChatError as exc:  # best effort: the roster entry ages out with the node
            log.warning("voice leave on disconnect failed: %s", exc.code)

    async def snapshot(self, views: list[GroupView]) -> dict[str, list[str]]:
        """Participants of the voice channels of these groups that have any."""
        channels = _voice_channels(views)
        if not channels:
            return {}
        try:
            return await self.roster.participants(channels)
        except ChatError as exc:  # a snapshot without voice beats no session at all
            log.warning("voice roster unavailable for a snapshot: %s", exc.code)
            return {}

    async def publish(self, topic: str, event: Event) -> None:
        """Send an event to a topic (a signaling frame to one participant's sessions)."""
        await publish_quietly(self._bus, topic, event)

    async def snapshot_states(
        self, participants: dict[str, list[str]]
    ) -> dict[str, dict[str, Any]]:
        """voice channel -> user -> state, for the channels of a :meth:`snapshot` (those
        in use): the session start reads the roster's participants once, not twice."""
        out: dict[str, dict[str, Any]] = {}
        try:
            for channel_id in participants:
                states = await self.roster.states(channel_id)
                out[channel_id] = {u: st.to_dict() for u, st in states.items()}
        except ChatError as exc:
            log.warning("voice states unavailable for a snapshot: %s", exc.code)
        return out

    async def _announce_channel(self, channel_id: str) -> None:
        group_id = self._group_of.get(channel_id)
        if group_id is not None:
            await self._announce(group_id, channel_id)

    async def _announce(
        self, group_id: str, channel_id: str
    ) -> tuple[list[str], dict[str, dict[str, Any]]]:
        states = {u: st.to_dict() for u, st in (await self.roster.states(channel_id)).items()}
        participants = sorted(states)
        await publish_quietly(
            self._bus,
            group_topic(group_id),
            Event(
                "voice.updated",
                {
                    "channel": channel_id,
                    "group_id": group_id,
                    "participants": participants,
                    "states": states,
                },
            ),
        )
        return participants, states


def _voice_channels(views: list[GroupView]) -> dict[str, str]:
    """Voice channel id -> group id."""
    return {c.id: v.group.id for v in views for c in v.channels if c.kind is ChannelKind.VOICE}
