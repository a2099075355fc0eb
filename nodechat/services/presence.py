"""Presence rules: who is online, and who hears when that changes.

A user is online while any of their sessions is connected, on any node; the
:class:`~nodechat.cluster.PresenceRegistry` counts sessions (this node only, or
every node through Redis) and says when a user's cluster-wide status
changed. Then a ``presence`` event goes to the topics of everyone who shows
that user: the groups they share and their direct-message peers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable

from nodechat.bus import Bus, Event, group_topic, publish_quietly, user_topic
from nodechat.cluster import PresenceRegistry
from nodechat.errors import ChatError
from nodechat.services.api import GroupService, MessageService

log = logging.getLogger(__name__)


class PresenceService:
    """Counts a node's sessions into the registry and announces status changes."""

    def __init__(
        self, registry: PresenceRegistry, bus: Bus, groups: GroupService, messages: MessageService
    ) -> None:
        self._registry = registry  # owned: closed with the service
        self._bus = bus
        self._groups = groups
        self._messages = messages

    async def connected(self, user_id: str) -> None:
        """One more session of ``user_id``; announce ``online`` if it is the first."""
        if await self._count(self._registry.connect, user_id):
            await self._announce(user_id, "online")

    async def disconnected(self, user_id: str) -> None:
        """One session of ``user_id`` less; announce ``offline`` if it was the last."""
        if await self._count(self._registry.disconnect, user_id):
            await self._announce(user_id, "offline")

    async def online(
        self, user_ids: Iterable[str], *, fallback: Callable[[str], bool] | None = None
    ) -> list[str]:
        """Which of these users are online (on any node), in the order given.

        If the registry cannot answer, ``fallback`` (this node's own knowledge)
        does: a snapshot with partial presence beats no session at all.
        """
        ids = list(user_ids)
        try:
            found = await self._registry.online(ids)
        except ChatError as exc:
            log.warning("presence lookup failed (%s); answering for this node only", exc.code)
            found = {u for u in ids if fallback is not None and fallback(u)}
        return [u for u in ids if u in found]

    async def topics(self, user_id: str) -> list[str]:
        """The topics that hear of ``user_id``'s status: shared groups and DM peers."""
        groups_of = await self._groups.member_group_ids(user_id)
        peers = await self._messages.direct_peer_ids(user_id)
        return [group_topic(g) for g in groups_of] + [user_topic(p) for p in peers]

    async def close(self) -> None:
        """Release the registry (this node's sessions are dropped from it)."""
        await self._registry.close()

    @staticmethod
    async def _count(change: Callable[[str], Awaitable[bool]], user_id: str) -> bool:
        """Apply a count change; whether the status changed (False if it could not tell)."""
        try:
            return await change(user_id)
        except ChatError as exc:  # presence is best effort; never fail a connect over it
            log.warning("presence update failed for %s: %s", user_id, exc.code)
            return False

    async def _announce(self, user_id: str, status: str) -> None:
        try:
            topics = await self.topics(user_id)
        except Exception:  # presence is best effort; never fail a connect over it
            log.warning("presence lookup failed for %s", user_id, exc_info=True)
            return
        event = Event("presence", {"user_id": user_id, "status": status})
        for topic in topics:
            await publish_quietly(self._bus, topic, event)
