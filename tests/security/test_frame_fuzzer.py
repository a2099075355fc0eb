"""A raw-socket fuzzer: hostile WebSocket frames and handshakes against a real node.

Each example opens a plain TCP connection, upgrades it by hand, optionally
authenticates, then sends Hypothesis-built frames byte by byte: reserved
opcodes, RSV bits, unmasked frames, lying and oversized lengths, fragments with
control frames between them, continuations of nothing, long or fragmented
control frames, invalid UTF-8, JSON of the wrong shape, bad close frames, and
garbage. :func:`tests.security.receiver.expect` says what a correct server does
with those bytes; the test checks the node does exactly that, that it logs no
error, and that a bystander connected all along is still served.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, example, given, note, settings
from hypothesis import strategies as st

from nodechat.client import ChatClient
from nodechat.server.node import ChatNode
from tests.integration.conftest import Account, Signup
from tests.security.receiver import DROPPED, NO_STATUS, Expected, expect
from tests.security.strategies import handshakes, many_fragments, padded, streams
from tests.security.wire import (
    BINARY,
    CLOSE,
    CONT,
    PING,
    PONG,
    TEXT,
    Frame,
    Peer,
    Raw,
    ServerFrame,
    close_payload,
    text,
)

# Long enough for a busy 2-core machine; only a server that hangs ever waits it out.
WAIT = 10.0
FUZZ = settings(
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        # one node, one bystander and one log capture for all examples, on purpose
        HealthCheck.function_scoped_fixture,
    ],
)
PROBE = text({"id": "probe", "op": "ping"})


def documented_codes() -> frozenset[str]:
    """The error codes of docs/protocol.md §7 (first column of its tables)."""
    doc = Path(__file__).parents[2] / "docs" / "protocol.md"
    section = doc.read_text().split("\n## 7. Errors")[1].split("\n## 8.")[0]
    codes: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            codes.update(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    return frozenset(codes - {"internal"})  # internal is a server bug


ERROR_CODES = documented_codes()
VOICE_REFUSALS = frozenset(
    {
        "not_in_voice",
        "voice_frame_truncated",
        "voice_frame_version",
        "voice_frame_kind",
        "voice_frame_empty",
        "voice_frame_too_large",
        "voice_frame_channel",
    }
)


# -- the arena: one node, one bystander, one fuzzing account ---------------------


@dataclass
class Arena:
    """What every example shares, and the checks run after each one."""

    node: ChatNode
    bystander: Account
    fuzzer: Account
    caplog: pytest.LogCaptureFixture
    sent: int = 0
    baseline: int = 2  # the server's connections between examples: the two accounts'

    async def peer(self, *, authenticated: bool) -> tuple[Peer, int]:
        """A raw, upgraded connection (authenticated as the fuzzer); and its max_frame."""
        peer = await Peer.open(self.node.port)
        hello = await peer.upgrade(self.node.port)
        if authenticated:
            token = self.fuzzer.tokens["access_token"]
            await peer.send(
                text({"id": "auth", "op": "auth.authenticate", "data": {"token": token}}).encode()
            )
            while True:
                frame = await peer.frame()
                assert frame is not None, "closed while authenticating"
                body = frame.json() if frame.opcode == TEXT else {}
                if body.get("type") == "reply":
                    assert body["id"] == "auth" and body["ok"], body
                    break
        max_frame = hello["max_frame"]
        assert isinstance(max_frame, int)
        return peer, max_frame

    async def still_serving(self) -> None:
        """The bystander's own message is stored and comes back; a new client gets in."""
        self.sent += 1
        nonce = f"bystander-{self.sent}"
        c = self.bystander.client
        assert not c.closed, f"the bystander was disconnected ({c.close_code})"
        ack = await c.request(
            "message.send", conversation=self.bystander.notes, body="hi", nonce=nonce
        )
        assert ack["seq"] == self.sent and not ack["duplicate"]
        event = await c.next_event("message.created", timeout=WAIT)
        assert event["data"]["nonce"] == nonce
        fresh = await ChatClient.connect(self.node.url)
        try:
            assert await fresh.request("ping") == {"pong": True}
        finally:
            await fresh.close()

    async def settled(self) -> None:
        """Wait until the server is done with every connection but the accounts' two.

        websockets logs a failed connection handler only after closing the
        connection, so logs are checked once it has left the server's set
        (``all_connections``: every connection a handler is running for).
        """
        assert self.node.socket is not None and self.node.socket.server.server is not None
        server = self.node.socket.server.server
        async with asyncio.timeout(WAIT):
            while len(server.all_connections) > self.baseline:
                await asyncio.sleep(0.005)

    def no_errors_logged(self, since: int = 0) -> None:
        """No ERROR record and no traceback from any logger (nodechat, websockets, asyncio)."""
        records = self.caplog.records[since:]
        bad = [r for r in records if r.levelno >= logging.ERROR or r.exc_info]
        assert not bad, "\n".join(f"{r.name}: {r.getMessage()}" for r in bad)


@pytest.fixture
async def arena(
    node: ChatNode, signup: Signup, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[Arena]:
    caplog.set_level(logging.WARNING)
    arena = Arena(node, await signup("bystander"), await signup("fuzzer"), caplog)
    yield arena
    await arena.still_serving()
    await arena.settled()
    arena.no_errors_logged()


# -- running one stream and judging the outcome --------------------------------


@dataclass
class Seen:
    """What the server sent back after the stream."""

    answers: list[dict[str, Any]]
    pongs: list[bytes]
    close: int | None  # the server's close code (NO_STATUS for an empty close frame)
    after_close: list[ServerFrame]  # frames after the close frame: must be none


async def collect(peer: Peer, expected: Expected) -> Seen:
    """Read until the server closes the TCP connection, or has answered everything."""
    seen = Seen([], [], None, [])
    try:
        async with asyncio.timeout(WAIT):
            return await _read(peer, expected, seen)
    except TimeoutError:
        raise AssertionError(f"no answer and no close within {WAIT} s: {seen}") from None


async def _read(peer: Peer, expected: Expected, seen: Seen) -> Seen:
    while True:
        frame = await peer.frame()
        if frame is None:
            return seen
        if seen.close is not None:
            seen.after_close.append(frame)
        elif frame.opcode == TEXT:
            body = frame.json()
            if body["type"] in ("reply", "error"):
                seen.answers.append(body)
            if expected.answered and len(seen.answers) == len(expected.messages):
                return seen
        elif frame.opcode == PONG:
            seen.pongs.append(frame.payload)
        elif frame.opcode == CLOSE:
            seen.close = NO_STATUS if frame.close_code is None else frame.close_code
            if not peer.sent_close:
                await peer.send_close(frame.payload)  # complete the closing handshake


def request_id(data: bytes) -> object:
    """The id the server must echo (docs/protocol.md §2.2), or None when it cannot read one."""
    try:
        frame = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    rid = frame.get("id") if isinstance(frame, dict) else None
    if isinstance(rid, str) and 0 < len(rid) <= 64:
        return rid
    if isinstance(rid, int) and not isinstance(rid, bool) and 0 <= rid < 2**53:
        return rid
    return None


def check_answers(seen: Seen, expected: Expected) -> None:
    """One answer per message, in order: a reply to its id, or an error with a documented code."""
    for answer in seen.answers:
        if answer["type"] == "error" or not answer["ok"]:
            assert answer["error"]["code"] in ERROR_CODES, answer
    if not expected.answered:
        return
    assert len(seen.answers) == len(expected.messages), seen.answers
    for message, answer in zip(expected.messages, seen.answers, strict=True):
        if message.opcode == BINARY:  # never a voice frame from a connection in a channel
            assert answer["type"] == "error" and answer["error"]["code"] in VOICE_REFUSALS, answer
            continue
        rid = request_id(message.data)
        if rid is None:
            assert answer["type"] == "error" and answer["error"]["code"] == "bad_frame", answer
            assert "id" not in answer, answer
        else:
            assert answer["type"] == "reply" and answer["id"] == rid, (message, answer)
    assert seen.answers[-1] == {"type": "reply", "id": "probe", "ok": True, "data": {"pong": True}}
    assert seen.pongs == expected.pings


async def run(arena: Arena, stream: list[Frame | Raw], *, authenticated: bool) -> None:
    """Send one stream (then the probe) and check the outcome against the oracle."""
    # this pytest/Hypothesis pair prints a failing example's arguments blank: say them
    note(f"stream={stream!r}, authenticated={authenticated}")
    since = len(arena.caplog.records)
    peer, max_frame = await arena.peer(authenticated=authenticated)
    data = b"".join(piece.encode() for piece in [*stream, PROBE])
    expected = expect(data, max_size=max_frame)
    event("answered" if expected.answered else f"closes {sorted(expected.closes)}")
    closing = None
    try:
        await peer.send(data)
        if expected.needs_eof:
            peer.end()  # the server is waiting for the rest of a frame: there is none
        seen = await collect(peer, expected)
        if expected.answered and seen.close is None:
            await peer.send_close(close_payload(1000))
            closing = await collect(peer, Expected(closes={1000}))
    finally:
        peer.close()
    await arena.settled()
    arena.no_errors_logged(since)  # a traceback says more than the close code it led to
    check_answers(seen, expected)
    if expected.answered:
        assert seen.close is None, f"closed with {seen.close}; expected answers"
        assert closing is not None and closing.close == 1000, "a clean close is not echoed"
        assert not closing.after_close, f"frames after the close frame: {closing.after_close}"
    else:
        outcome = DROPPED if seen.close is None else seen.close
        assert outcome in expected.closes, f"outcome {outcome}, expected {expected.closes}"
    assert not seen.after_close, f"frames after the close frame: {seen.after_close}"
    await arena.still_serving()


# -- the tests ------------------------------------------------------------------


# Hand-worked cases: one of each violation, and the outcome RFC 6455 asks for.
KNOWN: list[tuple[list[Frame | Raw], int]] = [
    ([Frame(0x3)], 1002),  # reserved data opcode
    ([Frame(0xB)], 1002),  # reserved control opcode
    ([Frame(TEXT, b"{}", rsv=1)], 1002),
    ([Frame(TEXT, b"{}", masked=False)], 1002),
    ([Frame(CONT, b"{}")], 1002),  # continuation without a start
    ([Frame(TEXT, b"{", fin=False), Frame(TEXT, b"}")], 1002),  # a new message inside one
    ([Frame(PING, b"p" * 126)], 1002),  # control frame over 125 bytes
    ([Frame(PONG, fin=False)], 1002),  # fragmented control frame
    ([Frame(TEXT, b'{"a": "\xff"}')], 1007),
    ([Frame(TEXT, padded(65_537))], 1009),
    ([Frame(BINARY, declared=2**64 - 1)], 1009),  # a 64-bit length no server accepts
    ([Frame(TEXT, b"{", fin=False), Frame(CONT, padded(65_536))], 1009),  # whole message
    (many_fragments(4097), 1009),
    ([Frame(CLOSE, b"\x03")], 1002),  # a 1-byte close payload
    ([Frame(CLOSE, close_payload(1005))], 1002),  # a code no one may send
    ([Frame(CLOSE, close_payload(1000, b"\xff"))], 1007),
    ([Frame(TEXT, b"{", fin=False), Frame(CLOSE, close_payload(1000))], 1002),
    ([Frame(CLOSE, close_payload(4321, b"bye"))], 4321),  # a valid close is echoed
    ([Frame(CLOSE)], NO_STATUS),
    ([Frame(TEXT, b"{}", declared=100)], DROPPED),  # the rest never comes
    ([Raw(b"\x81\xfe")], DROPPED),  # a 16-bit length read from the probe: it waits
]


@pytest.mark.parametrize(("stream", "outcome"), KNOWN)
def test_the_oracle_agrees_with_hand_worked_cases(stream: list[Frame | Raw], outcome: int) -> None:
    data = b"".join(piece.encode() for piece in [*stream, PROBE])
    assert expect(data, max_size=65_536).closes == {outcome}


def known_cases(test: Any) -> Any:
    """Run every hand-worked case on the node too, before the generated ones."""
    for stream, _ in KNOWN:
        test = example(stream=stream, authenticated=True)(test)
    return example(stream=[Frame(0x3)], authenticated=False)(test)


@settings(FUZZ, max_examples=300)
@given(stream=streams, authenticated=st.booleans())
@known_cases
@example(
    stream=[Frame(TEXT, b'{"id"', fin=False), Frame(PING, b"p"), Frame(CONT, b":1}")],
    authenticated=True,
)
async def test_fuzzed_frames_get_answers_or_a_correct_close(
    arena: Arena, stream: list[Frame | Raw], authenticated: bool
) -> None:
    await run(arena, stream, authenticated=authenticated)


# -- the opening handshake --------------------------------------------------------

# websockets' refusals (400, 405, 414, 426, 431, 505), nodechat's (403, 404; 200 and 503 from
# /healthz and /readyz), or a mangled request that is still an upgrade (101). Never 500.
HANDSHAKE_STATUSES = {101, 200, 400, 403, 404, 405, 414, 426, 431, 503, 505}


@settings(FUZZ, max_examples=150)
@given(request=handshakes())
async def test_fuzzed_handshakes_get_an_http_answer_or_are_dropped(
    arena: Arena, request: bytes
) -> None:
    note(f"request={request!r}")
    since = len(arena.caplog.records)
    reader, writer = await asyncio.open_connection("127.0.0.1", arena.node.port)
    try:
        writer.write(request)
        writer.write_eof()
        response = b""
        async with asyncio.timeout(WAIT):
            while chunk := await reader.read(65_536):
                response += chunk
                assert len(response) < 1 << 20
    except ConnectionResetError:
        response = b""  # a refused handshake may be answered with a reset
    finally:
        writer.transport.abort()
    if response:
        match = re.match(rb"HTTP/1\.1 (\d{3}) ", response)
        assert match, response[:200]
        assert int(match[1]) in HANDSHAKE_STATUSES, response[:200]
    await arena.settled()
    arena.no_errors_logged(since)
    await arena.still_serving()
