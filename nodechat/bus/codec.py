"""The wire form of bus events between processes (Redis messages, gRPC trailers).

One JSON object per event: ``{"k": kind, "d": data, "o": origin}``; the topic
travels beside it (the Redis channel) or inside a batch as ``"t"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from nodechat.bus.base import Event
from nodechat.errors import InvalidRequest


def encode_event(event: Event) -> bytes:
    """Bytes for one event."""
    return orjson.dumps({"k": event.kind, "d": event.data, "o": event.origin})


def decode_event(raw: bytes | str) -> Event:
    """The event in ``raw``; ``InvalidRequest(code='bad_event')`` if it is not one."""
    try:
        obj: Any = orjson.loads(raw)
        kind, data, origin = obj["k"], obj["d"], obj.get("o")
    except (orjson.JSONDecodeError, TypeError, KeyError) as exc:
        raise InvalidRequest("malformed bus event", code="bad_event") from exc
    if not isinstance(kind, str) or not isinstance(data, dict):
        raise InvalidRequest("malformed bus event", code="bad_event")
    return Event(kind, data, origin=origin if isinstance(origin, str) else None)


def encode_batch(events: Sequence[tuple[str, Event]]) -> bytes:
    """Bytes for ``(topic, event)`` pairs, in order."""
    return orjson.dumps([{"t": t, "k": e.kind, "d": e.data, "o": e.origin} for t, e in events])


def decode_batch(raw: bytes | str) -> list[tuple[str, Event]]:
    """The ``(topic, event)`` pairs in ``raw``."""
    try:
        items: Any = orjson.loads(raw)
        out = [(str(i["t"]), Event(str(i["k"]), dict(i["d"]), origin=i.get("o")))
               for i in items]
    except (orjson.JSONDecodeError, TypeError, KeyError, ValueError) as exc:
        raise InvalidRequest("malformed bus event batch", code="bad_event") from exc
    return out
