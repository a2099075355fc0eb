"""The bus wire form: single events and per-topic bundles."""

from __future__ import annotations

import pytest

from nodechat.bus import Event
from nodechat.bus.codec import decode_events, encode_bundle, encode_event
from nodechat.errors import InvalidRequest


def test_single_events_and_bundles_round_trip_with_origin() -> None:
    one = Event("message.created", {"seq": 1}, origin="s_1")
    two = Event("message.created", {"seq": 2})
    [back] = decode_events(encode_event(one))
    assert (back.kind, back.data, back.origin) == ("message.created", {"seq": 1}, "s_1")
    got = decode_events(encode_bundle([one, two]))
    assert [(e.data["seq"], e.origin) for e in got] == [(1, "s_1"), (2, None)]


@pytest.mark.parametrize(
    "raw", [b"[1]", b'[{"k": "x"}]', b'[{"k": 1, "d": {}}]', b"[", b'{"k": "x", "d": []}']
)
def test_malformed_bundles_are_refused_whole(raw: bytes) -> None:
    with pytest.raises(InvalidRequest) as info:
        decode_events(raw)
    assert info.value.code == "bad_event"
