"""A lean WebSocket client (RFC 6455) as an ``asyncio.Protocol``, for load generation.

The model is ``benchmarks/serve_bench.py``: no per-message tasks or futures,
frames built from bytes templates and masked with websockets' C helper, one
``transport.write`` per loop turn, orjson only for what must be read. Setup
requests (``auth.authenticate``) wait on a future; the load's replies and
events go to a :class:`Listener`, and events are told apart by their prefix,
so kinds the generator does not count (presence, typing, …) cost no parsing.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import ssl
import struct
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - websockets without its C extension
    from websockets.utils import apply_mask

MESSAGE_CREATED = b'{"type":"event","event":"message.created"'
RESYNC = b'{"type":"event","event":"resync.required"'
EVENT = b'{"type":"event"'
REPLY = b'{"type":"reply"'
OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x8, 0x9, 0xA

_rng = random.Random()


def client_frame(payload: bytes, opcode: int = 0x80 | OP_TEXT) -> bytes:
    """A final, masked client frame."""
    n = len(payload)
    if n < 126:
        header = bytes((opcode, 0x80 | n))
    elif n < 65536:
        header = struct.pack("!BBH", opcode, 0xFE, n)
    else:
        header = struct.pack("!BBQ", opcode, 0xFF, n)
    mask = _rng.randbytes(4)
    return header + mask + apply_mask(payload, mask)


class Listener(Protocol):
    """Where a connection's load traffic goes."""

    def on_message(self, conn: Conn, payload: bytes) -> None:
        """A ``message.created`` event (raw JSON)."""

    def on_reply(self, conn: Conn, reply: dict[str, Any]) -> None:
        """A reply to a request sent without a future (a ``message.send``)."""

    def on_error(self, conn: Conn, code: str) -> None:
        """A connection-level error frame, or a ``resync.required`` event (``resync``)."""


class Conn(asyncio.Protocol):
    """One client connection to ``url``."""

    def __init__(self, url: str, listener: Listener) -> None:
        self.loop = asyncio.get_running_loop()
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme == "wss" else 80)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.listener = listener
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.upgraded = False
        self.hello: asyncio.Future[dict[str, Any]] = self.loop.create_future()
        self.closed: asyncio.Future[None] = self.loop.create_future()
        self.close_code: int | None = None  # the server's close code, if it sent one
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.next_id = 1
        self.out: list[bytes] = []
        self.state: Any = None  # the owner's data about this connection

    # -- transport callbacks ---------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Send the upgrade request."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16))
        transport.write(
            b"GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
            % (self.path.encode(), self.host.encode(), self.port, key)
        )

    def connection_lost(self, exc: Exception | None) -> None:
        """Fail what waits; mark the connection closed."""
        if not self.closed.done():
            self.closed.set_result(None)
        err = ConnectionError("connection lost")
        if not self.hello.done():
            self.hello.set_exception(err)
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(err)
        self.pending.clear()

    def data_received(self, data: bytes) -> None:
        """Parse every complete frame; answer pings; flush what was queued."""
        buf = self.buf
        buf += data
        if not self.upgraded and not self._upgrade():
            return
        pos, n = 0, len(buf)
        while n - pos >= 2:
            b0, ln, hdr = buf[pos], buf[pos + 1] & 0x7F, 2
            if ln == 126:
                if n - pos < 4:
                    break
                ln, hdr = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif ln == 127:
                if n - pos < 10:
                    break
                ln, hdr = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if n - pos < hdr + ln:
                break
            payload = bytes(buf[pos + hdr : pos + hdr + ln])
            pos += hdr + ln
            opcode = b0 & 0x0F
            if opcode == OP_TEXT and b0 & 0x80:
                self._text(payload)
            elif opcode == OP_PING:
                self.out.append(client_frame(payload, 0x80 | OP_PONG))
            elif opcode == OP_CLOSE:
                if len(payload) >= 2:
                    self.close_code = int.from_bytes(payload[:2], "big")
                self.out.append(client_frame(payload[:2], 0x80 | OP_CLOSE))
            elif opcode != OP_PONG:  # the server never fragments its frames
                self.listener.on_error(self, f"frame_opcode_{opcode}")
        if pos:
            del buf[:pos]
        self.flush()

    def _upgrade(self) -> bool:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        status = bytes(self.buf[:end]).split(b"\r\n", 1)[0]
        del self.buf[: end + 4]
        if not status.startswith(b"HTTP/1.1 101"):
            if not self.hello.done():
                self.hello.set_exception(ConnectionError(f"upgrade refused: {status.decode()}"))
            assert self.transport is not None
            self.transport.close()
            return False
        self.upgraded = True
        return True

    def _text(self, payload: bytes) -> None:
        if payload.startswith(MESSAGE_CREATED):
            self.listener.on_message(self, payload)
        elif payload.startswith(EVENT):
            if payload.startswith(RESYNC):
                self.listener.on_error(self, "resync_required")
        elif payload.startswith(REPLY):
            reply = orjson.loads(payload)
            fut = self.pending.pop(reply["id"], None)
            if fut is None:
                self.listener.on_reply(self, reply)
            elif not fut.done():
                fut.set_result(reply)
        else:
            frame = orjson.loads(payload)
            if frame.get("type") == "hello" and not self.hello.done():
                self.hello.set_result(frame)
            elif frame.get("type") == "error":
                self.listener.on_error(self, str((frame.get("error") or {}).get("code")))

    # -- sending -----------------------------------------------------------------

    def flush(self) -> None:
        """Write everything queued in one ``transport.write``."""
        if self.out:
            if self.transport is not None and not self.transport.is_closing():
                self.transport.write(b"".join(self.out))
            self.out.clear()

    def take_id(self) -> int:
        """A fresh request id."""
        rid = self.next_id
        self.next_id += 1
        return rid

    async def request(self, op: str, timeout: float, **data: Any) -> dict[str, Any]:
        """Send one request and wait for its reply frame (``ok`` or not)."""
        rid = self.take_id()
        fut: asyncio.Future[dict[str, Any]] = self.loop.create_future()
        self.pending[rid] = fut
        self.out.append(client_frame(orjson.dumps({"id": rid, "op": op, "data": data})))
        self.flush()
        return await asyncio.wait_for(fut, timeout)

    def close(self) -> None:
        """Send a normal close and drop the connection."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(struct.pack("!H", 1000), 0x80 | OP_CLOSE))
            self.transport.close()


async def open_conn(url: str, listener: Listener, timeout: float) -> Conn:
    """Connect, upgrade and read ``hello``."""
    loop = asyncio.get_running_loop()
    parts = urlsplit(url)
    tls = ssl.create_default_context() if parts.scheme == "wss" else None
    _, conn = await asyncio.wait_for(
        loop.create_connection(
            lambda: Conn(url, listener),
            parts.hostname or "127.0.0.1",
            parts.port or (443 if tls else 80),
            ssl=tls,
        ),
        timeout,
    )
    await asyncio.wait_for(conn.hello, timeout)
    return conn
