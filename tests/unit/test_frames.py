"""The client frame decoder: every input either decodes or raises a coded FrameError."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nodechat.protocol.frames import OPS, FrameError, decode_request, encode_error, encode_reply

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)

CODES = {"bad_frame", "invalid_request", "unknown_op"}


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash(raw: bytes) -> None:
    try:
        decode_request(raw)
    except FrameError as exc:
        assert exc.code in CODES


@given(st.dictionaries(st.sampled_from(["id", "op", "data", "x"]), json_values, max_size=4))
def test_arbitrary_objects_never_crash(frame: dict) -> None:
    try:
        decode_request(orjson.dumps(frame))
    except FrameError as exc:
        assert exc.code in CODES


@settings(max_examples=300)
@given(st.sampled_from(sorted(OPS)), st.dictionaries(st.text(max_size=12), json_values, max_size=5))
def test_known_ops_with_random_data(op: str, data: dict) -> None:
    try:
        request = decode_request(orjson.dumps({"id": "r", "op": op, "data": data}))
    except FrameError as exc:
        assert exc.code == "invalid_request" and exc.request_id == "r"
    else:
        assert set(request.data) <= set(OPS[op])


def test_valid_request_round_trip() -> None:
    request = decode_request(
        '{"id": 7, "op": "message.send", "data": {"conversation": "c", "body": "b", "nonce": "n"}}'
    )
    assert (request.id, request.op) == (7, "message.send")
    assert request.data == {"conversation": "c", "body": "b", "nonce": "n"}


@pytest.mark.parametrize(
    ("frame", "code", "field"),
    [
        (
            '{"id": 1, "op": "message.send", "data": {"conversation": "c", "body": "b"}}',
            "invalid_request",
            "nonce",
        ),
        (
            '{"id": 1, "op": "read.mark", "data": {"conversation": "c", "seq": "3"}}',
            "invalid_request",
            "seq",
        ),
        (
            '{"id": 1, "op": "read.mark", "data": {"conversation": "c", "seq": true}}',
            "invalid_request",
            "seq",
        ),
        ('{"id": 1, "op": "ping", "data": {"extra": 1}}', "invalid_request", "extra"),
        (
            '{"id": 1, "op": "read.mark", "data": {"conversation": "c", "seq": 3.5}}',
            "invalid_request",
            "seq",
        ),
    ],
)
def test_field_errors_name_the_field(frame: str, code: str, field: str) -> None:
    with pytest.raises(FrameError) as err:
        decode_request(frame)
    assert err.value.code == code and err.value.details["field"] == field
    assert err.value.request_id == 1


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "bad_frame"),
        ("[1, 2]", "bad_frame"),
        ('{"op": "ping"}', "bad_frame"),
        ('{"id": true, "op": "ping"}', "bad_frame"),
        ('{"id": 1, "op": "launch.missiles"}', "unknown_op"),
        ('{"id": 1, "op": "ping", "extra": 1}', "invalid_request"),
        ('{"id": 1, "op": "ping", "data": []}', "invalid_request"),
    ],
)
def test_frame_errors(frame: str, code: str) -> None:
    with pytest.raises(FrameError) as err:
        decode_request(frame)
    assert err.value.code == code


def test_encoders() -> None:
    assert orjson.loads(encode_reply("a", {"x": 1})) == {
        "type": "reply",
        "id": "a",
        "ok": True,
        "data": {"x": 1},
    }
    err = FrameError("nope", code="bad_frame")
    assert orjson.loads(encode_error(None, err)) == {
        "type": "error",
        "error": {"code": "bad_frame", "message": "nope"},
    }


def test_whole_numbers_written_with_a_fraction_are_integers() -> None:
    # JSON does not tell 3 from 3.0, and JSON Schema's integer admits both
    request = decode_request(
        '{"id": 1, "op": "invite.create", "data": {"group_id": "g", "max_uses": 3.0}}'
    )
    assert request.data["max_uses"] == 3 and isinstance(request.data["max_uses"], int)
    resumed = decode_request(
        '{"id": 1, "op": "auth.authenticate", "data": {"token": "t", "resume": {"c": 7.0}}}'
    )
    assert resumed.data["resume"] == {"c": 7} and isinstance(resumed.data["resume"]["c"], int)


def test_hypothesis_profile_tolerates_a_busy_machine() -> None:
    # tests/conftest.py: slow input generation on a loaded CI machine is not a failure
    assert settings.default.deadline is None
    assert HealthCheck.too_slow in settings.default.suppress_health_check
