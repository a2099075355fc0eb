"""Bus events and their two encodings, in one place.

An :class:`Event` has a kind and a JSON object of data. It travels in two
forms, both encoded here:

- **between nodes** (a Redis message): ``{"k": kind, "d": data}``; the topic
  is the Redis channel. A message may also carry a JSON array of such objects,
  all for its channel's topic, in order (a *bundle*);
- **to clients**: the protocol's event frame ``{"type": "event", "event":
  kind, "data": data}`` (docs/protocol.md), encoded at most once per node and
  shared by every recipient (:attr:`Event.frame`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from nodechat.errors import InvalidRequest


class Event:
    """One server event; its client frame is encoded at most once per node."""

    __slots__ = ("kind", "data", "_frame")

    def __init__(self, kind: str, data: dict[str, Any]) -> None:
        self.kind = kind
        self.data = data
        self._frame: bytes | None = None

    @property
    def frame(self) -> bytes:
        """The client-protocol JSON text of this event, encoded once."""
        if self._frame is None:
            self._frame = orjson.dumps({"type": "event", "event": self.kind, "data": self.data})
        return self._frame

    def __repr__(self) -> str:
        return f"Event({self.kind!r}, {self.data!r})"


def encode_event(event: Event) -> bytes:
    """The bus wire form of one event."""
    return orjson.dumps({"k": event.kind, "d": event.data})


def encode_bundle(events: Sequence[Event]) -> bytes:
    """The bus wire form of several events of one topic, in order."""
    return orjson.dumps([{"k": e.kind, "d": e.data} for e in events])


def decode_events(raw: bytes | str) -> list[Event]:
    """The event, or the bundle of events, in one bus message.

    ``InvalidRequest(code='bad_event')`` if it is neither; a bundle is refused
    whole.
    """
    try:
        obj: Any = orjson.loads(raw)
        if isinstance(obj, list):
            return [_event(item) for item in obj]
        return [_event(obj)]
    except (orjson.JSONDecodeError, TypeError, KeyError) as exc:
        raise InvalidRequest("malformed bus event", code="bad_event") from exc


def _event(obj: Any) -> Event:
    kind, data = obj["k"], obj["d"]
    if not isinstance(kind, str) or not isinstance(data, dict):
        raise TypeError("not an event")
    return Event(kind, data)
