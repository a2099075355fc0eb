"""Presence rules: who is online, and who hears when that changes.

A user is online while any of their sessions is connected, on any node; the
:class:`~nodechat.cluster.PresenceRegistry` counts sessions (this node only, or
every node through Redis) and says when a user's cluster-wide status
changed. A change is published once, to the user's own presence topic
(:func:`~nodechat.bus.presence_topic`); only the sessions that subscribed to
that user hear it (their direct-message peers automatically, anyone else
through ``presence.subscribe``), so a connect costs the same whatever the size
of the user's groups.

Changes are coalesced per user: the first change of a user opens a short
window (``coalesce`` seconds) and what the status is when it closes is
published, once. A client that reconnects at once is never seen going
offline: its window ends in ``online``, which the sessions that already show
it online drop as a repeat. (The status is published even when it is back
where it started, because a session may have looked it up in between.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from nodechat.bus import Bus, Event, presence_topic, publish_quietly
from nodechat.cluster import PresenceRegistry
from nodechat.errors import ChatError

log = logging.getLogger(__name__)

COALESCE = 0.25  # seconds a user's status changes are gathered before one is published


class PresenceService:
    """Counts a node's sessions into the registry and announces status changes."""

    def __init__(self, registry: PresenceRegistry, bus: Bus, *, coalesce: float = COALESCE) -> None:
        self._registry = registry  # owned: closed with the service
        self._bus = bus
        self._coalesce = coalesce
        self._pending: dict[str, str] = {}  # user id -> status now, while a window is open
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def connected(self, user_id: str) -> None:
        """One more session of ``user_id``; announce ``online`` if it is the first."""
        if await self._count(self._registry.connect, user_id):
            self._changed(user_id, "online")

    async def disconnected(self, user_id: str) -> None:
        """One session of ``user_id`` less; announce ``offline`` if it was the last."""
        if await self._count(self._registry.disconnect, user_id):
            self._changed(user_id, "offline")

    async def online(
        self, user_ids: Iterable[str], *, fallback: Callable[[str], bool] | None = None
    ) -> list[str]:
        """Which of these users are online (on any node), in the order given.

        If the registry cannot answer, ``fallback`` (this node's own knowledge)
        does: a snapshot with partial presence beats no session at all.
        """
        ids = list(user_ids)
        if not ids:
            return []
        try:
            found = await self._registry.online(ids)
        except ChatError as exc:
            log.warning("presence lookup failed (%s); answering for this node only", exc.code)
            found = {u for u in ids if fallback is not None and fallback(u)}
        return [u for u in ids if u in found]

    async def flush(self) -> None:
        """Close every open window now and wait until its change is published."""
        for user_id in list(self._timers):
            self._timers.pop(user_id).cancel()
            self._flush(user_id)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """Publish what is pending, then release the registry (this node's sessions are
        dropped from it)."""
        await self.flush()
        await self._registry.close()

    @staticmethod
    async def _count(change: Callable[[str], Awaitable[bool]], user_id: str) -> bool:
        """Apply a count change; whether the status changed (False if it could not tell)."""
        try:
            return await change(user_id)
        except ChatError as exc:  # presence is best effort; never fail a connect over it
            log.warning("presence update failed for %s: %s", user_id, exc.code)
            return False

    def _changed(self, user_id: str, status: str) -> None:
        if self._coalesce <= 0:
            self._publish(user_id, status)
            return
        opened = user_id not in self._pending
        self._pending[user_id] = status
        if not opened:
            return
        loop = asyncio.get_running_loop()
        self._timers[user_id] = loop.call_later(self._coalesce, self._window_closed, user_id)

    def _window_closed(self, user_id: str) -> None:
        self._timers.pop(user_id, None)
        self._flush(user_id)

    def _flush(self, user_id: str) -> None:
        self._publish(user_id, self._pending.pop(user_id))

    def _publish(self, user_id: str, status: str) -> None:
        event = Event("presence", {"user_id": user_id, "status": status})
        task = asyncio.ensure_future(publish_quietly(self._bus, presence_topic(user_id), event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
