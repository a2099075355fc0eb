"""The bus wire form (single events and per-topic bundles) and the client frame."""

from __future__ import annotations

import orjson
import pytest

from nodechat.bus.events import Event, decode_events, encode_bundle, encode_event
from nodechat.errors import InvalidRequest


def test_single_events_and_bundles_round_trip() -> None:
    one = Event("message.created", {"seq": 1})
    two = Event("message.created", {"seq": 2})
    [back] = decode_events(encode_event(one))
    assert (back.kind, back.data) == ("message.created", {"seq": 1})
    got = decode_events(encode_bundle([one, two]))
    assert [(e.kind, e.data["seq"]) for e in got] == [
        ("message.created", 1),
        ("message.created", 2),
    ]


def test_the_client_frame_is_the_protocol_event_encoded_once() -> None:
    event = Event("typing", {"conversation": "self:u_1"})
    frame = event.frame
    assert orjson.loads(frame) == {
        "type": "event",
        "event": "typing",
        "data": {"conversation": "self:u_1"},
    }
    assert event.frame is frame


@pytest.mark.parametrize(
    "raw", [b"[1]", b'[{"k": "x"}]', b'[{"k": 1, "d": {}}]', b"[", b'{"k": "x", "d": []}', b"7"]
)
def test_malformed_events_and_bundles_are_refused_whole(raw: bytes) -> None:
    with pytest.raises(InvalidRequest) as info:
        decode_events(raw)
    assert info.value.code == "bad_event"
