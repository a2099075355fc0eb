"""A bus for the gRPC data roles: events are collected per call and handed to the caller.

In a split deployment the auth, group and message roles do not talk to Redis.
A servicer runs each call inside :func:`collecting`; whatever the local
service publishes is gathered and returned to the calling node (socket or
gateway) in the call's trailing metadata, and that node publishes it on its
bus. So an event is published exactly when its change was made, by a process
that has a bus, and the data roles stay free of broker connections.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from nodechat.bus.base import Bus, Event, EventHandler
from nodechat.errors import InternalError

log = logging.getLogger(__name__)

_collected: ContextVar[list[tuple[str, Event]] | None] = ContextVar("collected", default=None)


@contextmanager
def collecting() -> Iterator[list[tuple[str, Event]]]:
    """Collect the events published by the code run inside the block."""
    events: list[tuple[str, Event]] = []
    token = _collected.set(events)
    try:
        yield events
    finally:
        _collected.reset(token)


class CollectingBus(Bus):
    """Publishes into the current :func:`collecting` block; never subscribes."""

    def set_handler(self, handler: EventHandler) -> None:
        pass

    async def publish(self, topic: str, event: Event) -> None:
        events = _collected.get()
        if events is None:
            log.warning("event %s published outside a call; dropped", event.kind)
            return
        events.append((topic, event))

    async def subscribe(self, topic: str) -> None:
        raise InternalError("a data role never subscribes to topics (it has no clients)")

    async def unsubscribe(self, topic: str) -> None:
        pass

    async def close(self) -> None:
        pass

    @property
    def healthy(self) -> bool:
        return True
