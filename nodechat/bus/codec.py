"""The wire form of bus events between processes (Redis messages, gRPC trailers).

One JSON object per event: ``{"k": kind, "d": data, "o": origin}``; the topic
travels beside it (the Redis channel) or inside a batch as ``"t"``. A Redis
message may also carry a JSON array of such objects, all for its channel's
topic, in order (a *bundle*).
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
        return _event(orjson.loads(raw))
    except (orjson.JSONDecodeError, TypeError, KeyError, AttributeError) as exc:
        raise InvalidRequest("malformed bus event", code="bad_event") from exc


def encode_bundle(events: Sequence[Event]) -> bytes:
    """Bytes for several events of one topic, in order."""
    return orjson.dumps([{"k": e.kind, "d": e.data, "o": e.origin} for e in events])


def decode_events(raw: bytes) -> list[Event]:
    """The event, or the bundle of events, in one Redis message."""
    if not raw.startswith(b"["):
        return [decode_event(raw)]
    try:
        items: Any = orjson.loads(raw)
        events = [_event(i) for i in items]
    except (orjson.JSONDecodeError, TypeError, KeyError, AttributeError) as exc:
        raise InvalidRequest("malformed bus event bundle", code="bad_event") from exc
    return events


def _event(obj: Any) -> Event:
    kind, data, origin = obj["k"], obj["d"], obj.get("o")
    if not isinstance(kind, str) or not isinstance(data, dict):
        raise TypeError("not an event")
    return Event(kind, data, origin=origin if isinstance(origin, str) else None)


def encode_batch(events: Sequence[tuple[str, Event]]) -> bytes:
    """Bytes for ``(topic, event)`` pairs, in order."""
    return orjson.dumps([{"t": t, "k": e.kind, "d": e.data, "o": e.origin} for t, e in events])


def decode_batch(raw: bytes | str) -> list[tuple[str, Event]]:
    """The ``(topic, event)`` pairs in ``raw``."""
    try:
        items: Any = orjson.loads(raw)
        out = [(str(i["t"]), Event(str(i["k"]), dict(i["d"]), origin=i.get("o"))) for i in items]
    except (orjson.JSONDecodeError, TypeError, KeyError, ValueError) as exc:
        raise InvalidRequest("malformed bus event batch", code="bad_event") from exc
    return out
