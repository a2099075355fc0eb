"""The fuzzer's oracle: what the node must do with a byte stream, worked out from RFC 6455.

:func:`expect` reads the client's bytes the way a conforming server does
(websockets' order of checks) and says which outcomes are correct: answers to
every complete message, or a close with one of a few codes, or a dropped TCP
connection when the stream ends inside a frame.

Two failures are found late, when the endpoint reads the message rather than
when the frame is parsed: invalid UTF-8 in a text message (1007) and more
fragments than websockets reassembles (1009). The frames after such a message
are still parsed at once, so a later protocol error may close the connection
first: both codes are then correct.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from tests.security.wire import BINARY, CLOSE, CONT, PING, PONG, TEXT, xor_mask

DROPPED = -1  # the outcome "TCP closed without a close frame"
NO_STATUS = 1005  # what an empty close frame (echoed back) means
EXTERNAL_CLOSE_CODES = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}
MAX_FRAGMENTS = 4096  # websockets.asyncio.messages.MAX_FRAGMENTS


@dataclass
class Message:
    """One complete data message, as the endpoint receives it."""

    opcode: int
    data: bytes


@dataclass
class Expected:
    """What the server must do with a stream."""

    closes: set[int] = field(default_factory=set)  # allowed close codes (or DROPPED)
    messages: list[Message] = field(default_factory=list)  # each gets one answer
    pings: list[bytes] = field(default_factory=list)  # each gets its pong
    needs_eof: bool = False  # the stream ends inside a frame: only end of stream ends it

    @property
    def answered(self) -> bool:
        """No failure: every message is answered and the connection stays open."""
        return not self.closes


class _Short(Exception):
    """The stream ends inside a frame."""


class _Fail(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def expect(stream: bytes, *, max_size: int) -> Expected:
    """The correct outcomes of sending ``stream`` after the handshake."""
    out = Expected()
    pos = 0
    current: list[bytes] | None = None  # fragments of the message in progress
    current_opcode = TEXT
    late: int | None = None  # the first failure found when the message is read

    def take(n: int) -> bytes:
        nonlocal pos
        if len(stream) - pos < n:
            raise _Short
        pos += n
        return stream[pos - n : pos]

    def complete(opcode: int, fragments: list[bytes]) -> None:
        nonlocal late
        if late is not None:
            return  # the endpoint stops reading at the first late failure
        data = b"".join(fragments)
        if opcode == TEXT and not _valid_utf8(data):
            late = 1007
        else:
            out.messages.append(Message(opcode, data))

    try:
        while pos < len(stream) or current is not None:
            b0, b1 = take(2)
            fin, rsv, opcode = bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F
            if opcode not in (CONT, TEXT, BINARY, CLOSE, PING, PONG):
                raise _Fail(1002)
            if not b1 & 0x80:
                raise _Fail(1002)  # a client frame must be masked
            n = b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", take(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", take(8))
            limit = max_size if current is None else max_size - sum(map(len, current))
            if n > limit:
                raise _Fail(1009)
            mask = take(4)
            data = xor_mask(take(n), mask)
            if rsv or (opcode >= 8 and (n > 125 or not fin)):
                raise _Fail(1002)
            if opcode in (TEXT, BINARY):
                if current is not None:
                    raise _Fail(1002)  # a new message inside a fragmented one
                if fin:
                    complete(opcode, [data])
                else:
                    current, current_opcode = [data], opcode
            elif opcode == CONT:
                if current is None:
                    raise _Fail(1002)  # a continuation of nothing
                current.append(data)
                if len(current) > MAX_FRAGMENTS and late is None:
                    late = 1009
                if fin:
                    complete(current_opcode, current)
                    current = None
            elif opcode == PING:
                out.pings.append(data)
            elif opcode == CLOSE:
                raise _Fail(_close(data, fragmented=current is not None))
    except _Short:
        out.needs_eof = True
        out.closes.add(DROPPED)
    except _Fail as fail:
        out.closes.add(fail.code)
    if late is not None:
        out.closes.add(late)
    return out


def _close(data: bytes, *, fragmented: bool) -> int:
    """The code the server closes with on this close frame (an echo when it is valid)."""
    if len(data) == 1:
        return 1002
    if not data:
        code = NO_STATUS
    else:
        (code,) = struct.unpack("!H", data[:2])
        if not _valid_utf8(data[2:]):
            return 1007
        if code not in EXTERNAL_CLOSE_CODES and not 3000 <= code < 5000:
            return 1002
    return 1002 if fragmented else code
