"""A raw RFC 6455 client: client frames built bit by bit, the server's frames read back.

Nothing here uses the ``websockets`` library, so a frame can be anything a
hostile client could send (reserved opcodes, RSV bits, no mask, a payload
length that lies), and what the server answers is read exactly as it is on the
wire. Every read is bounded by the caller's deadline.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import struct
from dataclasses import dataclass, field

import orjson

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# A server frame larger than this is a failure of its own (the fuzzer's replies are small).
MAX_SERVER_FRAME = 1 << 20


def xor_mask(data: bytes, mask: bytes) -> bytes:
    """``data`` masked (or unmasked) with the 4-byte ``mask`` (RFC 6455 §5.3)."""
    n = len(data)
    if n == 0:
        return b""
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


def _abbreviated(data: bytes) -> str:
    if len(data) <= 40:
        return repr(data)
    return f"{data[:24]!r}...({len(data)} bytes)"


@dataclass(frozen=True)
class Frame:
    """One client frame, with every header field under the caller's control."""

    opcode: int
    payload: bytes = b""
    fin: bool = True
    rsv: int = 0  # RSV1-3 as a 3-bit number
    masked: bool = True
    mask: bytes = b"\x37\xfa\x21\x3d"
    declared: int | None = None  # a payload length that lies; None: the true one
    form: int = 0  # length encoding: 0 the shortest, 16 or 64 a longer one than needed

    def encode(self) -> bytes:
        """The frame's bytes, exactly as described (however invalid)."""
        n = len(self.payload) if self.declared is None else self.declared
        first = (0x80 if self.fin else 0) | (self.rsv & 7) << 4 | (self.opcode & 0xF)
        bit = 0x80 if self.masked else 0
        if n < 126 and self.form == 0:
            header = bytes((first, bit | n))
        elif n < 65536 and self.form in (0, 16):
            header = struct.pack("!BBH", first, bit | 126, n)
        else:
            header = struct.pack("!BBQ", first, bit | 127, n)
        if not self.masked:
            return header + self.payload
        return header + self.mask + xor_mask(self.payload, self.mask)

    def __repr__(self) -> str:
        fields = [f"op={self.opcode:#x}", f"payload={_abbreviated(self.payload)}"]
        if not self.fin:
            fields.append("fin=False")
        if self.rsv:
            fields.append(f"rsv={self.rsv}")
        if not self.masked:
            fields.append("masked=False")
        if self.declared is not None:
            fields.append(f"declared={self.declared}")
        if self.form:
            fields.append(f"form={self.form}")
        return f"Frame({', '.join(fields)})"


@dataclass(frozen=True)
class Raw:
    """Bytes sent as they are (garbage between or instead of frames)."""

    data: bytes

    def encode(self) -> bytes:
        """The bytes themselves."""
        return self.data

    def __repr__(self) -> str:
        return f"Raw({_abbreviated(self.data)})"


def text(payload: object, **kw: object) -> Frame:
    """A valid, masked text frame carrying ``payload`` as JSON."""
    return Frame(TEXT, orjson.dumps(payload), **kw)  # type: ignore[arg-type]


def close_payload(code: int | None, reason: bytes = b"") -> bytes:
    """A close frame's payload: nothing, or a 2-byte code and reason bytes."""
    return b"" if code is None else struct.pack("!H", code) + reason


def upgrade_request(port: int, key: bytes) -> bytes:
    """A valid HTTP/1.1 WebSocket upgrade (no Origin header, as a native client sends)."""
    return (
        b"GET / HTTP/1.1\r\n"
        b"Host: 127.0.0.1:%d\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Key: %s\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n" % (port, key)
    )


@dataclass
class ServerFrame:
    """One frame the server sent."""

    opcode: int
    payload: bytes

    @property
    def close_code(self) -> int | None:
        """The code of a close frame (None for an empty one)."""
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None

    def json(self) -> dict[str, object]:
        """A text frame's JSON object."""
        obj = orjson.loads(self.payload)
        assert isinstance(obj, dict), self.payload
        return obj


@dataclass
class Peer:
    """One raw TCP connection to the node's WebSocket port."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    sent_close: bool = False
    ended: bool = False  # half-closed: nothing more can be written
    received: list[ServerFrame] = field(default_factory=list)

    @classmethod
    async def open(cls, port: int) -> Peer:
        """A TCP connection, not upgraded yet."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def upgrade(self, port: int) -> dict[str, object]:
        """Do the opening handshake by hand; return the server's ``hello``."""
        key = base64.b64encode(os.urandom(16))
        await self.send(upgrade_request(port, key))
        head = await self.reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 "), head
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        assert b"\r\nSec-WebSocket-Accept: " + accept + b"\r\n" in head, head
        hello = await self.frame()
        assert hello is not None and hello.opcode == TEXT
        body = hello.json()
        assert body["type"] == "hello", body
        return body

    async def send(self, data: bytes) -> None:
        """Write ``data``; a server that already hung up is not an error here.

        After :meth:`end` the write side is shut, so nothing is written: a
        close frame the server sends then goes unechoed, and the server ends
        the TCP connection without the echo.
        """
        if self.ended:
            return
        try:
            self.writer.write(data)
            await self.writer.drain()
        except ConnectionError:
            pass

    async def send_close(self, payload: bytes) -> None:
        """Send a valid close frame (once: a second one is a protocol error)."""
        assert not self.sent_close
        self.sent_close = True
        await self.send(Frame(CLOSE, payload).encode())

    def end(self) -> None:
        """Half-close: the server reads end of stream after what was sent."""
        self.ended = True
        if self.writer.can_write_eof() and not self.writer.is_closing():
            with contextlib.suppress(ConnectionError, OSError):
                self.writer.write_eof()

    async def frame(self) -> ServerFrame | None:
        """The server's next frame; None when it ended the TCP connection.

        Checks what RFC 6455 §5 asks of a server: unmasked, no RSV bits, a known
        opcode, control frames final and short. nodechat never fragments.
        """
        try:
            head = await self.reader.readexactly(2)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        assert head[0] & 0x70 == 0, f"server set RSV bits: {head!r}"
        assert head[0] & 0x80, f"server fragmented a frame: {head!r}"
        opcode = head[0] & 0x0F
        assert opcode in (TEXT, BINARY, CLOSE, PING, PONG), f"server opcode {opcode:#x}"
        assert not head[1] & 0x80, "server masked a frame"
        n = head[1] & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", await self.reader.readexactly(8))
        assert n <= MAX_SERVER_FRAME, f"server frame of {n} bytes"
        assert opcode < 8 or n <= 125, f"server control frame of {n} bytes"
        frame = ServerFrame(opcode, await self.reader.readexactly(n))
        self.received.append(frame)
        return frame

    def close(self) -> None:
        """Drop the connection (the server must cope with that at any point)."""
        self.writer.transport.abort()
