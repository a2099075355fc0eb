"""The event bus interface: nodes publish events to topics and receive the topics they subscribed.

Topics are per group (``group:<id>``), per user (``user:<id>``) and per
user's presence (``presence:<id>``). The store is the source of truth: a lost
message is recovered by reading the store (seq gaps are detected by the
receiver); the Redis bus also logs every other event, so a node that was cut
off replays what it missed (:mod:`nodechat.bus.eventlog`).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from nodechat.bus.events import Event


def group_topic(group_id: str) -> str:
    """Topic of everything that happens in a group."""
    return f"group:{group_id}"


def user_topic(user_id: str) -> str:
    """Topic of everything addressed to one user (DMs, notes, own sessions)."""
    return f"user:{user_id}"


def presence_topic(user_id: str) -> str:
    """Topic of one user's status changes (heard by the sessions that subscribed to it)."""
    return f"presence:{user_id}"


EventHandler = Callable[[str, Event], None]
ReconnectHandler = Callable[[bool], None]
"""Called with ``events_lost``: True when events were missed that no replay can give back."""


class Bus(ABC):
    """A node's connection to the event bus."""

    @abstractmethod
    def set_handler(self, handler: EventHandler) -> None:
        """Install the one callback that receives ``(topic, event)`` for subscribed topics."""

    def set_reconnect_handler(self, handler: ReconnectHandler | None) -> None:
        """Install a callback run after the bus reconnected, resubscribed and replayed.

        Messages published while a node was cut off are not replayed by the
        bus, so the callback's job is to backfill them from the store; its
        argument says whether other events were lost for good (the log was
        trimmed past what the node had seen). The default does nothing: a
        backend that never disconnects never calls it.
        """
        return None

    async def ready(self, timeout: float | None = None) -> bool:
        """Wait for the first connection attempt to end; whether the bus is healthy."""
        return self.healthy

    @abstractmethod
    async def publish(self, topic: str, event: Event) -> None:
        """Send an event to every node subscribed to ``topic`` (this one included)."""

    async def publish_many(self, events: Sequence[tuple[str, Event]]) -> None:
        """Publish ``(topic, event)`` pairs in order; a broker backend waits once for all."""
        for topic, event in events:
            await self.publish(topic, event)

    @abstractmethod
    async def subscribe(self, topic: str) -> None:
        """Start receiving a topic (idempotent)."""

    @abstractmethod
    async def unsubscribe(self, topic: str) -> None:
        """Stop receiving a topic (idempotent)."""

    @abstractmethod
    async def close(self) -> None:
        """Disconnect."""

    @property
    @abstractmethod
    def healthy(self) -> bool:
        """Whether events are flowing (False while disconnected from the broker)."""


async def publish_many_quietly(bus: Bus, events: Sequence[tuple[str, Event]]) -> None:
    """:func:`publish_quietly` for a batch, in order, with one wait."""
    from nodechat.errors import ChatError

    try:
        await bus.publish_many(events)
    except ChatError as exc:
        logging.getLogger(__name__).warning("%d events not published: %s", len(events), exc.code)


async def publish_quietly(bus: Bus, topic: str, event: Event) -> None:
    """Publish after a change is stored: a bus failure is logged, never reported as failure.

    While Redis is unreachable the Redis bus parks the event and sends it
    later; receivers recover lost message events from the store as well.
    """
    from nodechat.errors import ChatError

    try:
        await bus.publish(topic, event)
    except ChatError as exc:
        logging.getLogger(__name__).warning(
            "event %s to %s not published: %s", event.kind, topic, exc.code
        )
