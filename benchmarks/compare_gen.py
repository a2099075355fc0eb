"""The load generator of benchmarks/compare.py: one client for every target.

Every target gets the same client code; only a small protocol adapter differs
(how to authenticate, what a send looks like, which frames are deliveries):

* ``raw``: bare WebSocket. The first frame is ``{"token": ...}``, answered
  ``{"ok":true}``; a message is the body itself, and a delivery is a text
  frame that starts with the body's marker.
* ``socketio``: Engine.IO v4 / Socket.IO v5 over a plain WebSocket
  (``/socket.io/?EIO=4&transport=websocket``): open packet ``0{...}``, connect
  ``40{"token": ...}`` answered ``40{"sid": ...}``, pings ``2`` answered ``3``,
  a message is ``42["msg","<body>"]``, and so is a delivery.
* ``nodechat``: ``hello``, ``auth.authenticate`` with an access token,
  ``message.send`` to the room's channel with a fresh nonce; a delivery is a
  ``message.created`` event. Every other event (presence...) is ignored.

The client is an ``asyncio.Protocol`` speaking RFC 6455 itself (masked frames
built once, no compression, no task or future per message); a delivery is
counted by its prefix without copying the frame. Every message body starts
with ``#t`` and the send time it was *scheduled* for (CLOCK_MONOTONIC, ns,
comparable across processes), so the receiver's latency includes any lag of
the sender (no coordinated omission).

The connections are spread over worker processes, all pinned to the
generator's core. Worker 0 holds the senders and the latency probes (every
tenth connection): few connections, so a probe reads its frames as soon as
they arrive, and the time the other workers spend reading their hundreds of
connections does not enter the latency figure. The other workers only count,
and once a connection is authenticated they stop reading it through asyncio:
every ``read_interval`` seconds (default 0.05) one ``epoll`` call finds the
sockets with data and each is read once, whole. At 200 messages/s into the room
that is about ten frames per read instead of one, which is what keeps the
generator below the servers' cost per delivery (a read through the event loop
costs several microseconds, as much as a fast server spends on a delivery).
Deliveries are then counted up to that interval late, which shifts both ends
of a measured window alike.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import select
import signal
import struct
import time
from array import array
from collections import Counter
from typing import Any

import orjson

from nodechat.bench.worker import pipe_recv
from nodechat.bench.wsconn import client_frame  # the one masked-frame encoder

HOST = "127.0.0.1"
MARK = b"#t"  # body = MARK + 19-digit scheduled send time (ns) + padding
now_ns = time.monotonic_ns


def make_body(size: int, t_ns: int, sender: int) -> bytes:
    """A ``size``-byte ASCII body carrying its scheduled send time."""
    head = b"%s%019d s%d " % (MARK, t_ns, sender)
    return head + b"x" * (size - len(head))


# ---------------------------------------------------------------------------
# Protocol adapters: authentication, the send frame, what a delivery looks like
# ---------------------------------------------------------------------------


class Adapter:
    """What differs between targets. ``on_text`` sees every frame that is not a delivery."""

    path = b"/"
    delivery = b""  # prefix of a delivery frame's payload

    def __init__(self, target: dict[str, Any]) -> None:
        self.target = target

    def on_open(self, conn: Conn) -> None:
        """The upgrade succeeded."""

    def on_text(self, conn: Conn, payload: bytes) -> None:
        raise NotImplementedError

    def message(self, conn: Conn, body: bytes, k: int) -> bytes:
        raise NotImplementedError


class RawAdapter(Adapter):
    delivery = MARK

    def on_open(self, conn: Conn) -> None:
        conn.send(orjson.dumps({"token": conn.token}))

    def on_text(self, conn: Conn, payload: bytes) -> None:
        if not conn.ready.done():
            if payload == b'{"ok":true}':
                conn.ready.set_result(None)
            else:
                conn.ready.set_exception(ConnectionError(f"auth refused: {payload[:200]!r}"))
            return
        conn.stats.other[payload[:20].decode(errors="replace")] += 1

    def message(self, conn: Conn, body: bytes, k: int) -> bytes:
        return body


class SocketIOAdapter(Adapter):
    path = b"/socket.io/?EIO=4&transport=websocket"
    delivery = b'42["msg",'

    def on_text(self, conn: Conn, payload: bytes) -> None:
        if payload == b"2":  # Engine.IO ping from the server
            conn.send(b"3")
        elif payload.startswith(b"0{"):  # Engine.IO open: connect to "/" with auth
            conn.send(b"40" + orjson.dumps({"token": conn.token}))
        elif payload.startswith(b"40"):
            if not conn.ready.done():
                conn.ready.set_result(None)
        elif payload.startswith(b"44") and not conn.ready.done():
            conn.ready.set_exception(ConnectionError(f"connect refused: {payload[:200]!r}"))
        else:
            conn.stats.other[payload[:20].decode(errors="replace")] += 1

    def message(self, conn: Conn, body: bytes, k: int) -> bytes:
        return b'42["msg","%s"]' % body


class NodechatAdapter(Adapter):
    delivery = b'{"type":"event","event":"message.created"'

    def on_text(self, conn: Conn, payload: bytes) -> None:
        if payload.startswith(b'{"type":"event"'):
            return  # presence and the rest: not deliveries
        if payload.startswith(b'{"type":"reply"'):
            if not conn.ready.done():
                reply = orjson.loads(payload)
                if reply.get("ok"):
                    conn.ready.set_result(None)
                else:
                    conn.ready.set_exception(ConnectionError(f"auth failed: {reply.get('error')}"))
            elif b'"ok":false' in payload[:80]:
                error = orjson.loads(payload).get("error") or {}
                conn.stats.errors[str(error.get("code"))] += 1
            else:
                conn.stats.other["reply ok"] += 1
            return
        frame = orjson.loads(payload)
        kind = frame.get("type")
        if kind == "hello":
            request = {"id": 0, "op": "auth.authenticate", "data": {"token": conn.token}}
            conn.send(orjson.dumps(request))
        elif kind == "error":
            conn.stats.errors["conn:" + str((frame.get("error") or {}).get("code"))] += 1
        else:
            conn.stats.other[str(kind)] += 1

    def message(self, conn: Conn, body: bytes, k: int) -> bytes:
        conversation = self.target["conversation"].encode()
        return (
            b'{"id":%d,"op":"message.send","data":{"conversation":"%s","body":"%s",'
            b'"nonce":"c%d-%d"}}' % (k, conversation, body, conn.index, k)
        )


ADAPTERS: dict[str, type[Adapter]] = {
    "raw": RawAdapter,
    "socketio": SocketIOAdapter,
    "nodechat": NodechatAdapter,
}


# ---------------------------------------------------------------------------
# The connection
# ---------------------------------------------------------------------------


class Stats:
    """One worker's counters for the current step."""

    def __init__(self) -> None:
        self.ts = 0  # window start / end (ns)
        self.te = 0
        self.win = 0  # deliveries received inside the window
        self.total = 0  # deliveries received since the step began
        self.lat = array("q")  # probes: receive - scheduled send, for sends inside the window
        self.errors: Counter[str] = Counter()
        self.other: Counter[str] = Counter()

    def reset(self, ts: int, te: int) -> None:
        self.__init__()  # type: ignore[misc]
        self.ts, self.te = ts, te


class Conn(asyncio.Protocol):
    """One client connection: handshake and auth through the adapter, then counting."""

    def __init__(
        self, adapter: Adapter, port: int, index: int, token: str, probe: bool, stats: Stats
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.adapter = adapter
        self.delivery = adapter.delivery
        self.port = port
        self.index = index
        self.token = token
        self.probe = probe
        self.stats = stats
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.upgraded = False
        self.ready: asyncio.Future[None] = self.loop.create_future()
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16))
        transport.write(
            b"GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
            % (self.adapter.path, HOST.encode(), self.port, key)
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"connection lost: {exc}"))

    def send(self, payload: bytes, opcode: int = 0x81) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(payload, opcode))

    def data_received(self, data: bytes) -> None:
        t = now_ns()
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[:end]).split(b"\r\n", 1)[0]
            del buf[: end + 4]
            if not status.startswith(b"HTTP/1.1 101"):
                if not self.ready.done():
                    self.ready.set_exception(ConnectionError(f"handshake refused: {status!r}"))
                assert self.transport is not None
                self.transport.close()
                return
            self.upgraded = True
            self.adapter.on_open(self)
        pos = 0
        n = len(buf)
        count = 0
        delivery = self.delivery
        ready = self.ready.done()
        while n - pos >= 2:
            b0 = buf[pos]
            ln = buf[pos + 1] & 0x7F
            hdr = 2
            if ln == 126:
                if n - pos < 4:
                    break
                ln = (buf[pos + 2] << 8) | buf[pos + 3]
                hdr = 4
            elif ln == 127:
                if n - pos < 10:
                    break
                ln = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                hdr = 10
            start = pos + hdr
            pos = start + ln
            if pos > n:
                pos = start - hdr
                break
            if b0 == 0x81:
                if ready and buf.startswith(delivery, start):
                    count += 1
                    if self.probe:
                        i = buf.find(MARK, start, pos)
                        if i >= 0:
                            sched = int(buf[i + 2 : i + 21])
                            if self.stats.ts <= sched < self.stats.te:
                                self.stats.lat.append(t - sched)
                else:
                    self.adapter.on_text(self, bytes(buf[start:pos]))
                    ready = self.ready.done()
            elif b0 == 0x89:  # ping
                self.send(bytes(buf[start:pos]), 0x8A)
            elif b0 == 0x88:  # close: echo it; the server then closes the TCP connection
                self.send(bytes(buf[start : start + 2]), 0x88)
            elif b0 != 0x8A:
                raise RuntimeError(f"unexpected frame 0x{b0:02x} (fragmented?)")
        if pos:
            del buf[:pos]
        if count:
            stats = self.stats
            stats.total += count
            if stats.ts <= t < stats.te:
                stats.win += count

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(struct.pack("!H", 1000), 0x88))
            self.transport.close()


# ---------------------------------------------------------------------------
# Worker process
# ---------------------------------------------------------------------------


class Worker:
    """Owns some connections; runs the parent's commands (connect, step, stop)."""

    def __init__(self, index: int, config: dict[str, Any], pipe: Any) -> None:
        self.index = index
        self.config = config
        self.adapter = ADAPTERS[config["protocol"]](config)
        self.pipe = pipe
        self.stats = Stats()
        self.conns: dict[int, Conn] = {}
        self.senders: list[Conn] = []
        self.seq = 0
        # workers other than 0 read their authenticated connections in batches (see above)
        self.interval = float(config["read_interval"]) if index > 0 else 0.0
        self.epoll = select.epoll() if self.interval > 0 else None
        self.by_fd: dict[int, Conn] = {}
        self.poller: asyncio.Task[None] | None = None

    async def recv(self) -> Any:
        return await pipe_recv(self.pipe)

    async def run(self) -> None:
        while True:
            cmd, arg = await self.recv()
            try:
                if cmd == "connect":
                    result: Any = await self.connect(arg)
                elif cmd == "step":
                    result = await self.step(arg)
                elif cmd == "stop":
                    if self.poller is not None:
                        self.poller.cancel()
                    if self.epoll is not None:
                        self.epoll.close()
                    for c in self.conns.values():
                        c.close()
                    await asyncio.sleep(0.2)
                    self.pipe.send(("ok", None))
                    return
                else:
                    raise RuntimeError(f"unknown command {cmd}")
            except Exception as exc:
                self.pipe.send(("error", f"{type(exc).__name__}: {exc}"))
                continue
            self.pipe.send(("ok", result))

    async def connect(self, arg: dict[str, Any]) -> dict[str, Any]:
        """Open, upgrade and authenticate the connections of these global indices."""
        cfg = self.config
        loop = asyncio.get_running_loop()
        sem = asyncio.Semaphore(arg["concurrency"])
        errors: Counter[str] = Counter()
        ports: list[int] = cfg["ports"]
        tokens: list[str] = cfg["tokens"]

        async def one(i: int) -> None:
            async with sem:
                port = ports[i % len(ports)]
                token = tokens[i] if len(tokens) > 1 else tokens[0]
                probe = i % cfg["probe_every"] == 0
                try:
                    _, conn = await asyncio.wait_for(
                        loop.create_connection(
                            lambda: Conn(self.adapter, port, i, token, probe, self.stats),
                            HOST,
                            port,
                        ),
                        arg["timeout"],
                    )
                    await asyncio.wait_for(conn.ready, arg["timeout"])
                except (OSError, TimeoutError, ConnectionError) as exc:
                    errors[f"{type(exc).__name__}: {str(exc)[:120]}"] += 1
                    return
                self.conns[i] = conn
                if i in cfg["senders"]:
                    self.senders.append(conn)
                if self.epoll is not None:
                    self.batch_reads(conn)

        await asyncio.gather(*(one(i) for i in arg["indices"]))
        self.senders.sort(key=lambda c: c.index)
        return {"connected": len(self.conns), "errors": dict(errors)}

    def batch_reads(self, conn: Conn) -> None:
        """From now on this worker's poll loop, not the event loop, reads ``conn``."""
        assert self.epoll is not None and conn.transport is not None
        conn.transport.pause_reading()  # asyncio holds no unread data: it reads eagerly
        fd = conn.transport.get_extra_info("socket").fileno()
        self.by_fd[fd] = conn
        self.epoll.register(fd, select.EPOLLIN)
        if self.poller is None:
            self.poller = asyncio.get_running_loop().create_task(self.poll_loop())

    async def poll_loop(self) -> None:
        """Every interval, read each socket that has data once (level-triggered epoll)."""
        assert self.epoll is not None
        epoll, by_fd, read = self.epoll, self.by_fd, os.read
        while True:
            for fd, _ in epoll.poll(0):
                conn = by_fd[fd]
                try:
                    data = read(fd, 1 << 18)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if data:
                    conn.data_received(data)
                else:  # closed by the server
                    epoll.unregister(fd)
                    del by_fd[fd]
                    conn.connection_lost(None)
                    assert conn.transport is not None
                    conn.transport.abort()
            await asyncio.sleep(self.interval)

    async def step(self, spec: dict[str, Any]) -> dict[str, Any]:
        """One rate step: send (if this worker has senders), count, drain."""
        stats = self.stats
        stats.reset(spec["ts"], spec["te"])
        start, te, rate = spec["start"], spec["te"], spec["rate"]
        planned = spec["planned"]  # messages on the timetable, for every target the same
        lag = array("q")
        sent = 0
        if self.senders:
            sent = await self.send_timetable(start, te, rate, planned, spec["size"], lag)
        else:
            await asyncio.sleep(max(0.0, (te - now_ns()) / 1e9))
        # Drain: every connection should get every message; stop when it has, when
        # nothing arrived for `quiet` seconds, or at the deadline (a saturated server).
        live = sum(1 for c in self.conns.values() if not c.lost)
        expected = planned * live
        deadline = now_ns() + int(spec["drain"] * 1e9)
        last, last_change = stats.total, now_ns()
        while stats.total < expected and now_ns() < deadline:
            await asyncio.sleep(0.05)
            if stats.total != last:
                last, last_change = stats.total, now_ns()
            elif now_ns() - last_change > spec["quiet"] * 1e9:
                break
        return {
            "win": stats.win,
            "total": stats.total,
            "expected": expected,
            "sent": sent,
            "lat": stats.lat.tobytes(),
            "send_lag": lag.tobytes(),
            "errors": dict(stats.errors),
            "other": dict(stats.other),
            "lost": sum(1 for c in self.conns.values() if c.lost),
        }

    async def send_timetable(
        self, start: int, te: int, rate: float, planned: int, size: int, lag: array[int]
    ) -> int:
        """Message k at start + k/rate (ns), round-robin over the senders; open loop."""
        senders = self.senders
        interval = 1e9 / rate
        k = 0
        while k < planned:
            sched = start + int(k * interval)
            t = now_ns()
            if sched > t:
                await asyncio.sleep((sched - t) / 1e9)
                continue
            while k < planned:
                sched = start + int(k * interval)
                if sched > t:
                    break
                conn = senders[k % len(senders)]
                body = make_body(size, sched, conn.index)
                self.seq += 1  # request id and nonce: unique across the run's steps
                conn.send(self.adapter.message(conn, body, self.seq))
                lag.append(t - sched)
                k += 1
        return k


def worker_main(index: int, config: dict[str, Any], pipe: Any) -> None:
    """Entry point of a generator process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    with contextlib.suppress(EOFError):
        asyncio.run(Worker(index, config, pipe).run())
