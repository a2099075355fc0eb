"""Hypothesis strategies for the fuzzer: client frames, whole streams, handshakes.

A stream is well-formed traffic, then (mostly) something hostile, then more
well-formed traffic that the server must either answer or, after a failure,
ignore. Payloads cover requests of the right and wrong shape, invalid UTF-8 and
sizes around the 7/16/64-bit length forms and ``max_frame``.
"""

from __future__ import annotations

import orjson
from hypothesis import strategies as st

from tests.security.wire import (
    BINARY,
    CLOSE,
    CONT,
    PING,
    PONG,
    TEXT,
    Frame,
    Raw,
    close_payload,
    upgrade_request,
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
# Ops that cannot end the fuzzer's session or change its account, whatever the data.
OPS = ["ping", "message.send", "message.history", "message.edit", "group.get", "user.get"]
OPS += ["user.find", "typing", "conversation.list", "read.mark", "presence.subscribe"]
OPS += ["auth.authenticate", "auth.refresh", "no.such.op", ""]
requests = st.fixed_dictionaries(
    {"id": st.one_of(st.integers(-1, 2**54), st.text(max_size=70), json_values)},
    optional={
        "op": st.sampled_from(OPS) | st.text(max_size=10),
        "data": st.dictionaries(st.text(max_size=12), json_values, max_size=4) | json_values,
        "extra": json_values,
    },
)
BAD_UTF8 = [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\x80"]
BIG = [125, 126, 127, 65_535, 65_536, 65_537, 70_000]  # around the 7/16-bit forms and max_frame


def padded(n: int) -> bytes:
    """A ping request of exactly ``n`` bytes (padded in an unknown field)."""
    head = b'{"id":"big","op":"ping","pad":"'
    return head + b"a" * max(0, n - len(head) - 2) + b'"}'


# Text around an invalid UTF-8 sequence.
bad_utf8 = st.tuples(st.text(max_size=8), st.sampled_from(BAD_UTF8), st.text(max_size=8)).map(
    lambda t: t[0].encode() + t[1] + t[2].encode()
)
# Any payload at all: requests, wrong shapes, invalid UTF-8, sizes around max_frame.
payloads = st.one_of(
    requests.map(orjson.dumps),
    json_values.map(orjson.dumps),
    st.text(max_size=40).map(str.encode),
    bad_utf8,
    st.binary(max_size=40),
    st.sampled_from(BIG).map(padded),
)
close_codes = st.sampled_from([1000, 1001, 1002, 1005, 1006, 1007, 1015, 1016, 2999, 3000, 4999])
close_payloads = st.one_of(
    st.builds(
        close_payload,
        close_codes | st.integers(0, 65_535) | st.none(),
        st.text(max_size=20).map(str.encode) | st.sampled_from(BAD_UTF8),
    ),
    st.binary(max_size=3),
    st.sampled_from([126, 200]).map(lambda n: close_payload(1000, b"r" * n)),
)
masks = st.binary(min_size=4, max_size=4)
lengths = st.sampled_from([0, 1, 125, 126, 127, 65_535, 65_536, 2**31, 2**63, 2**64 - 1])

# Well-formed traffic: each message of it gets exactly one answer.
good_payloads = st.one_of(
    requests.map(orjson.dumps),
    json_values.map(orjson.dumps),
    st.text(max_size=40).map(str.encode),
    st.sampled_from([n for n in BIG if n <= 65_536]).map(padded),
)
good_controls = st.builds(Frame, st.sampled_from([PING, PONG]), st.binary(max_size=125), mask=masks)


@st.composite
def fragmented(draw: st.DrawFn, payloads: st.SearchStrategy[bytes]) -> list[Frame]:
    """One message in 1-5 fragments, with pings and pongs between them."""
    opcode = draw(st.sampled_from([TEXT, BINARY]))
    payload = draw(payloads)
    cuts = sorted(draw(st.lists(st.integers(0, len(payload)), max_size=4)))
    bounds = [0, *cuts, len(payload)]
    frames: list[Frame] = []
    for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
        last = i == len(bounds) - 2
        frames.append(Frame(opcode if i == 0 else CONT, payload[a:b], fin=last, mask=draw(masks)))
        if not last:
            frames.extend(draw(st.lists(good_controls, max_size=2)))
    return frames


good = st.one_of(
    st.builds(Frame, st.just(TEXT), good_payloads, mask=masks).map(lambda f: [f]),
    st.builds(Frame, st.just(BINARY), st.binary(max_size=40), mask=masks).map(lambda f: [f]),
    good_controls.map(lambda f: [f]),
    fragmented(good_payloads),
)

# Everything else a hostile client might send.
data_frames = st.builds(
    Frame, st.sampled_from([TEXT, BINARY, CONT]), payloads, fin=st.booleans(), mask=masks
)
control_frames = st.builds(
    Frame,
    st.sampled_from([PING, PONG]),
    st.binary(max_size=20) | st.sampled_from([125, 126, 300]).map(lambda n: b"p" * n),
    fin=st.booleans(),
    mask=masks,
)
close_frames = st.builds(Frame, st.just(CLOSE), close_payloads, mask=masks)
mutants = st.builds(
    Frame,
    st.integers(0, 15),  # reserved 3-7 and 0xB-0xF included
    payloads | st.binary(max_size=20),
    fin=st.booleans(),
    rsv=st.integers(0, 7),
    masked=st.booleans(),
    mask=masks,
    declared=st.none() | lengths,
    form=st.sampled_from([0, 16, 64]),
)


def many_fragments(n: int) -> list[Frame]:
    """A text message ``{}`` in ``n`` fragments (websockets reassembles at most 4096)."""
    return [Frame(TEXT, b"{", fin=False), *[Frame(CONT, fin=False)] * (n - 2), Frame(CONT, b"}")]


bad = st.one_of(
    data_frames.map(lambda f: [f]),
    st.builds(Frame, st.just(TEXT), bad_utf8, mask=masks).map(lambda f: [f]),
    fragmented(bad_utf8),
    st.builds(
        Frame,
        st.sampled_from([TEXT, BINARY]),
        st.sampled_from([65_537, 70_000]).map(padded),
        mask=masks,
    ).map(lambda f: [f]),
    control_frames.map(lambda f: [f]),
    close_frames.map(lambda f: [f]),
    mutants.map(lambda f: [f]),
    fragmented(payloads),
    st.binary(min_size=1, max_size=16).map(lambda b: [Raw(b)]),
    st.sampled_from([4096, 4097]).map(many_fragments),
)
# Good traffic, then (mostly) something bad, then more good traffic the server must
# either answer or, after a failure, ignore.
streams = st.tuples(
    st.lists(good, max_size=4), st.lists(bad, max_size=2), st.lists(good, max_size=3)
).map(lambda parts: [frame for part in parts for chunk in part for frame in chunk])


@st.composite
def handshakes(draw: st.DrawFn) -> bytes:
    """Garbage, a mangled upgrade request, or garbage before a valid one."""
    valid = upgrade_request(1, b"dGhlIHNhbXBsZSBub25jZQ==")
    kind = draw(st.sampled_from(["garbage", "mangled", "prefixed", "headers", "long"]))
    if kind == "garbage":
        return draw(st.binary(max_size=300))
    if kind == "prefixed":
        return draw(st.binary(min_size=1, max_size=40)) + valid
    if kind == "long":
        return valid[:-2] + b"X-Long: " + b"a" * draw(st.sampled_from([8_000, 9_000])) + b"\r\n\r\n"
    if kind == "headers":
        lines = draw(st.lists(st.binary(max_size=40), max_size=8))
        return valid[:-2] + b"".join(line + b"\r\n" for line in lines) + b"\r\n"
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "drop", "insert"]))
        if action == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif action == "drop":
            del data[i]
        else:
            data[i:i] = draw(st.binary(min_size=1, max_size=4))
    return bytes(data)
