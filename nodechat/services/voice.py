"""Voice channel participants: ``voice.join``, ``voice.leave``, disconnects.

nodechat relays no audio. Joining a voice channel makes the user one of its
participants, which every member of the group sees (``voice.updated`` events
and the ``voice`` field of the ready snapshot); a user is in one voice
channel at a time, and leaves it by ``voice.leave``, by joining another, or
when the connection that joined closes. The transport remembers which
channel each of its connections joined and says so on disconnect.
"""

from __future__ import annotations

import logging
from typing import Any

from nodechat.bus import Bus, Event, group_topic, publish_quietly
from nodechat.cluster import VoiceRoster
from nodechat.errors import ChatError, InvalidRequest, NotFound
from nodechat.models import ChannelKind, Identity
from nodechat.services.api import GroupService, GroupView

log = logging.getLogger(__name__)


class VoiceService:
    """Joins and leaves voice channels; announces each change to the channel's group."""

    def __init__(self, groups: GroupService, roster: VoiceRoster, bus: Bus) -> None:
        self._groups = groups
        self.roster = roster
        self._bus = bus

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
        left = await self.roster.join(channel_id, identity.user_id)
        participants = await self._announce(group_of[channel_id], channel_id)
        if left is not None and left in group_of:
            await self._announce(group_of[left], left)
        return {"channel": channel_id, "participants": participants}

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

    async def _announce(self, group_id: str, channel_id: str) -> list[str]:
        participants = (await self.roster.participants([channel_id])).get(channel_id, [])
        await publish_quietly(
            self._bus,
            group_topic(group_id),
            Event(
                "voice.updated",
                {"channel": channel_id, "group_id": group_id, "participants": participants},
            ),
        )
        return participants


def _voice_channels(views: list[GroupView]) -> dict[str, str]:
    """Voice channel id -> group id."""
    return {c.id: v.group.id for v in views for c in v.channels if c.kind is ChannelKind.VOICE}
