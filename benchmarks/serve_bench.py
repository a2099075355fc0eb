#!/usr/bin/env python3
"""Load benchmark for ``nodechat serve``: durable message throughput and ack latency.

The script starts ``nodechat serve`` as a real subprocess on 127.0.0.1 with a
fresh temporary ``--data-dir`` (SQLite store: WAL, ``synchronous=FULL``, a
send is acknowledged only after its group commit is on disk), registers N
users, connects and authenticates one WebSocket client per user, then runs
these phases against the same server:

* ``self``, ``direct``, ``mixed`` - closed loop ("max"): every client keeps
  ``--window`` message.send requests outstanding, for ``--duration`` seconds
  after ``--warmup`` seconds. ``self`` sends to the client's notes-to-self
  conversation, ``direct`` to a direct conversation with a partner (clients
  are paired, both partners send), ``mixed`` has half the clients doing each.
* ``rate`` - open loop: ``--rate`` messages/s in aggregate (default: half the
  best max rate measured in this run), sent on a fixed timetable no matter
  when acks arrive; latency is measured from the *scheduled* send time, so a
  stalled server cannot hide its queueing delay (no coordinated omission).

Throughput counts acks (ok replies to message.send) that arrive inside the
measurement window. Latency is send -> ack reply per message. After the last
phase the server is stopped with SIGTERM and the SQLite file is opened
read-only: every conversation's seqs must be exactly 1..last_seq, the number
of stored messages must equal the number of acks, and each conversation's
acked seqs must be exactly its stored seqs. The script prints PASS/FAIL and
exits 1 on FAIL.

The load generator runs in ``--workers`` processes (default 2), each owning a
share of the connections and speaking WebSocket directly over an
``asyncio.Protocol`` (no per-message tasks or futures, frames pre-encoded,
no compression, orjson only for replies; events are counted by prefix and
never parsed). Server CPU (whole process, and its event-loop thread
separately) and the generator's CPU are sampled from /proc over each
measurement window, so the report shows who was saturated.

With ``--deployment split`` the script starts the split deployment instead
(the process-start logic of tests/e2e/cluster.py, copied into class Split):
``nodechat keygen``, ``nodechat auth|group|message --listen 127.0.0.1:0 --bus URL``
sharing one SQLite file, ``--sockets`` socket nodes and a gateway over the
Redis at ``--redis`` (a random bus prefix; the service token in the
environment). Client i connects to socket node i % N, so with 2 nodes the two
partners of a direct conversation sit on different nodes. The same phases
and the same consistency check run (all processes are stopped with SIGTERM
first, socket nodes and gateway before the data roles); CPU is reported per
process (each role, each socket node, the gateway and redis-server).

Everything is bounded (phase durations, drain and setup timeouts) and all
traffic goes to 127.0.0.1. See docs/performance.md for results.

    python benchmarks/serve_bench.py                 # all phases, human summary
    python benchmarks/serve_bench.py --json > r.json # machine-readable on stdout
    python benchmarks/serve_bench.py --phases mixed --duration 30   # e.g. to profile
    python benchmarks/serve_bench.py --deployment split --sockets 2  # split deployment
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import math
import multiprocessing as mp
import os
import platform
import re
import secrets
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
from array import array
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from nodechat.bench.worker import pipe_recv
from nodechat.bench.wsconn import client_frame  # the one masked-frame encoder

HOST = "127.0.0.1"
PASSWORD = "benchmark passphrase 0123456789"
KINDS = ("self", "direct")
MAX_PHASES = ("self", "direct", "mixed")
CLK_TCK = os.sysconf("SC_CLK_TCK")
now = time.perf_counter  # CLOCK_MONOTONIC on Linux: comparable across processes


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# A minimal WebSocket client (RFC 6455) as an asyncio.Protocol
# ---------------------------------------------------------------------------


class Conn(asyncio.Protocol):
    """One client connection. Setup requests use futures; benchmark sends use callbacks."""

    def __init__(self, port: int) -> None:
        self.loop = asyncio.get_running_loop()
        self.port = port
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.upgraded = False
        self.hello: asyncio.Future[dict[str, Any]] = self.loop.create_future()
        self.lost: asyncio.Future[None] = self.loop.create_future()
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.next_id = 1
        self.out: list[bytes] = []
        self.phase: Phase | None = None
        self.sent: dict[int, float] = {}  # benchmark request id -> (scheduled) send time
        self.events = 0
        self.msg_events = 0
        self.conn_errors: list[dict[str, Any]] = []
        # benchmark identity
        self.user_id = ""
        self.conv = b""
        self.kind = "self"
        self.body = b""

    # -- transport callbacks ---------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16))
        transport.write(
            b"GET / HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
            % (HOST.encode(), self.port, key)
        )

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        err = ConnectionError("connection lost")
        if not self.hello.done():
            self.hello.set_exception(err)
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(err)
        self.pending.clear()

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[:end]).split(b"\r\n", 1)[0]
            del buf[: end + 4]
            if not status.startswith(b"HTTP/1.1 101"):
                self.hello.set_exception(ConnectionError(f"handshake refused: {status!r}"))
                assert self.transport is not None
                self.transport.close()
                return
            self.upgraded = True
        pos = 0
        n = len(buf)
        while n - pos >= 2:
            b0 = buf[pos]
            ln = buf[pos + 1] & 0x7F
            hdr = 2
            if ln == 126:
                if n - pos < 4:
                    break
                ln = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                hdr = 4
            elif ln == 127:
                if n - pos < 10:
                    break
                ln = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                hdr = 10
            if n - pos < hdr + ln:
                break
            payload = bytes(buf[pos + hdr : pos + hdr + ln])
            pos += hdr + ln
            opcode = b0 & 0x0F
            if opcode == 1 and b0 & 0x80:
                self._text(payload)
            elif opcode == 9:  # ping
                self.out.append(client_frame(payload, 0x8A))
            elif opcode == 8:  # close: echo it, the server closes the TCP connection
                self.out.append(client_frame(payload[:2], 0x88))
            elif opcode != 10:
                raise RuntimeError(f"unexpected frame opcode {opcode} (fragmented?)")
        if pos:
            del buf[:pos]
        self.flush()

    def flush(self) -> None:
        if self.out:
            assert self.transport is not None
            if not self.transport.is_closing():
                self.transport.write(b"".join(self.out))
            self.out.clear()

    def _text(self, payload: bytes) -> None:
        if payload.startswith(b'{"type":"event"'):
            self.events += 1
            if payload.startswith(b'{"type":"event","event":"message.created"'):
                self.msg_events += 1
            return
        if payload.startswith(b'{"type":"reply"'):
            reply = orjson.loads(payload)
            fut = self.pending.pop(reply["id"], None)
            if fut is not None:
                if not fut.done():
                    fut.set_result(reply)
            elif self.phase is not None:
                self.phase.on_reply(self, reply)
            return
        frame = orjson.loads(payload)
        if frame.get("type") == "hello":
            if not self.hello.done():
                self.hello.set_result(frame)
        elif frame.get("type") == "error":
            if self.phase is not None:
                self.phase.on_conn_error(self, frame["error"])
            else:
                self.conn_errors.append(frame["error"])

    # -- requests ----------------------------------------------------------------

    async def request(self, op: str, timeout: float = 60.0, **data: Any) -> Any:
        rid = self.next_id
        self.next_id += 1
        fut: asyncio.Future[dict[str, Any]] = self.loop.create_future()
        self.pending[rid] = fut
        self.out.append(client_frame(orjson.dumps({"id": rid, "op": op, "data": data})))
        self.flush()
        reply = await asyncio.wait_for(fut, timeout)
        if not reply.get("ok"):
            raise RuntimeError(f"{op} failed: {reply.get('error')}")
        return reply["data"]

    def queue_send(self, t: float) -> None:
        """Queue one message.send (written at the next flush); ``t`` is its send time."""
        rid = self.next_id
        self.next_id += 1
        self.sent[rid] = t
        self.out.append(
            client_frame(
                b'{"id":%d,"op":"message.send","data":{"conversation":"%s","body":"%s",'
                b'"nonce":"b%d"}}' % (rid, self.conv, self.body, rid)
            )
        )

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(struct.pack("!H", 1000), 0x88))
            self.transport.close()


async def open_conn(port: int, timeout: float = 30.0) -> Conn:
    loop = asyncio.get_running_loop()
    _, conn = await asyncio.wait_for(
        loop.create_connection(lambda: Conn(port), HOST, port), timeout
    )
    await asyncio.wait_for(conn.hello, timeout)
    return conn


# ---------------------------------------------------------------------------
# Worker process: owns a share of the clients, runs phases on command
# ---------------------------------------------------------------------------


class Phase:
    """Bookkeeping of one phase inside one worker."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.closed_loop = spec["mode"] == "closed"
        self.t0 = spec["t0"]
        self.ts = spec["t0"] + spec["warmup"]
        self.te = self.ts + spec["duration"]
        self.lat = {k: array("d") for k in KINDS}
        self.win_acks = dict.fromkeys(KINDS, 0)
        self.acks = dict.fromkeys(KINDS, 0)
        self.seqs: dict[str, list[int]] = {}
        self.errors: Counter[str] = Counter()
        self.duplicates = 0
        self.refused = 0
        self.send_lag = array("d")

    def on_reply(self, conn: Conn, reply: dict[str, Any]) -> None:
        t = now()
        sent = conn.sent.pop(reply["id"], None)
        if sent is None:
            self.errors["unexpected_reply"] += 1
            return
        if reply["ok"]:
            data = reply["data"]
            if data["duplicate"]:
                self.duplicates += 1
            else:
                kind = conn.kind
                self.acks[kind] += 1
                self.seqs.setdefault(data["conversation"], []).append(data["seq"])
                if self.closed_loop:
                    if self.ts <= t < self.te:
                        self.win_acks[kind] += 1
                        self.lat[kind].append(t - sent)
                else:
                    if self.ts <= t < self.te:
                        self.win_acks[kind] += 1
                    if self.ts <= sent < self.te:  # latency of every message scheduled in window
                        self.lat[kind].append(t - sent)
        else:
            error = reply.get("error") or {}
            code = str(error.get("code"))
            self.errors[code] += 1
            if code == "rate_limited":  # refused, not stored: back off as advised
                self.refused += 1
                if self.closed_loop:
                    conn.loop.call_later(float(error.get("retry_after") or 0.05), self.resend, conn)
                return
        if self.closed_loop and t < self.te:
            conn.queue_send(t)  # refill the window; flushed after this read

    def on_conn_error(self, conn: Conn, error: dict[str, Any]) -> None:
        code = str(error.get("code"))
        self.errors["conn:" + code] += 1
        if code == "rate_limited" and conn.sent:
            # The server answers in order, so the refused request is the oldest one; it
            # was not stored. Closed loop: resend it after the advised delay.
            del conn.sent[next(iter(conn.sent))]
            self.refused += 1
            if self.closed_loop:
                conn.loop.call_later(float(error.get("retry_after") or 0.05), self.resend, conn)

    def resend(self, conn: Conn) -> None:
        if now() < self.te and conn.phase is self:
            conn.queue_send(now())
            conn.flush()


class Worker:
    def __init__(self, index: int, ports: list[int], pipe: Any, progress: Any) -> None:
        self.index = index
        self.ports = ports  # the socket node(s); client i connects to ports[i % len(ports)]
        self.pipe = pipe
        self.progress = progress
        self.conns: list[Conn] = []
        self.pairs: list[tuple[Conn, Conn]] = []
        self.dm: dict[int, bytes] = {}  # pair index -> dm conversation id

    async def recv(self) -> Any:
        return await pipe_recv(self.pipe)

    async def run(self) -> None:
        while True:
            cmd, arg = await self.recv()
            try:
                if cmd == "setup":
                    result: Any = await self.setup(arg)
                elif cmd == "phase":
                    result = await self.phase(arg)
                elif cmd == "stop":
                    for c in self.conns:
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

    async def setup(self, arg: dict[str, Any]) -> dict[str, Any]:
        users: list[tuple[int, str]] = arg["users"]  # (global index, username), pairs adjacent
        body = arg["body"].encode()
        tokens: dict[int, str] = {}
        queue = list(users)

        async def register_loop(k: int) -> None:
            port = self.ports[(self.index + k) % len(self.ports)]
            conn = await open_conn(port)
            opened = now()
            try:
                while queue:
                    # The server closes a connection that is not authenticated within
                    # auth_deadline (30 s); registering on a slow machine can take longer.
                    if now() - opened > 0.5 * float(conn.hello.result()["auth_deadline"]):
                        conn.close()
                        conn = await open_conn(port)
                        opened = now()
                    index, name = queue.pop(0)
                    op, args = (
                        "auth.register",
                        {"username": name, "password": PASSWORD, "email": f"{name}@example.org"},
                    )
                    for attempt in range(5):  # bcrypt on a busy machine can miss a deadline
                        try:
                            data = await conn.request(op, timeout=120.0, **args)
                            break
                        except RuntimeError as exc:
                            if "username_taken" in str(exc) and attempt > 0:
                                # the timed-out attempt went through after all
                                op, args = "auth.login", {"login": name, "password": PASSWORD}
                            elif "service_unavailable" not in str(exc) or attempt == 4:
                                raise
                            await asyncio.sleep(1.0)
                    tokens[index] = data["access_token"]
                    self.progress.put(("registered", 1))
            finally:
                conn.close()

        await asyncio.gather(*(register_loop(k) for k in range(arg["register_conns"])))

        sem = asyncio.Semaphore(20)
        by_index: dict[int, Conn] = {}

        async def connect(index: int) -> None:
            async with sem:
                conn = await open_conn(self.ports[index % len(self.ports)])
                ready = await conn.request("auth.authenticate", token=tokens[index])
                conn.user_id = ready["user"]["id"]
                conn.body = body
                by_index[index] = conn
                self.progress.put(("connected", 1))

        await asyncio.gather(*(connect(index) for index, _ in users))
        self.conns = [by_index[index] for index, _ in users]
        self.pairs = [(self.conns[i], self.conns[i + 1]) for i in range(0, len(self.conns), 2)]
        for p, (a, b) in enumerate(self.pairs):
            state = await a.request("dm.open", user_id=b.user_id)
            self.dm[p] = state["id"].encode()
        return {
            "connected": len(self.conns),
            "pid": os.getpid(),
            "self_conversations": [f"self:{c.user_id}" for c in self.conns],
            "dm_conversations": [v.decode() for v in self.dm.values()],
        }

    def assign(self, workload: str) -> None:
        for p, pair in enumerate(self.pairs):
            kind = workload if workload != "mixed" else KINDS[p % 2]
            for conn in pair:
                conn.kind = kind
                conn.conv = self.dm[p] if kind == "direct" else f"self:{conn.user_id}".encode()

    async def phase(self, spec: dict[str, Any]) -> dict[str, Any]:
        self.assign(spec["workload"])
        ph = Phase(spec)
        for c in self.conns:
            c.phase = ph
            c.events = c.msg_events = 0
            c.sent.clear()
        await asyncio.sleep(max(0.0, ph.t0 - now()))
        if ph.closed_loop:
            t = now()
            for c in self.conns:
                for _ in range(spec["window"]):
                    c.queue_send(t)
                c.flush()
            await asyncio.sleep(max(0.0, ph.te - now()))
        else:
            await self.open_loop(ph, spec["rate"], spec["offset"])
        # drain: wait (bounded) for every outstanding ack
        deadline = now() + spec["drain_timeout"]
        while any(c.sent for c in self.conns) and now() < deadline:
            await asyncio.sleep(0.01)
        # Let trailing events arrive before counting them: the peer's copy of a direct
        # message can trail the sender's ack (in a split deployment it may go through
        # Redis to another socket node). Both partners of a pair are in this worker.
        expected = ph.acks["self"] + 2 * ph.acks["direct"]
        settle = now() + 5.0
        await asyncio.sleep(0.2)
        while sum(c.msg_events for c in self.conns) < expected and now() < settle:
            await asyncio.sleep(0.05)
        unacked = sum(len(c.sent) for c in self.conns)
        for c in self.conns:
            c.phase = None
        lost = sum(1 for c in self.conns if c.lost.done())
        return {
            "win_acks": ph.win_acks,
            "acks": ph.acks,
            "lat": {k: ph.lat[k].tobytes() for k in KINDS},
            "seqs": ph.seqs,
            "errors": dict(ph.errors),
            "duplicates": ph.duplicates,
            "refused": ph.refused,
            "unacked": unacked,
            "lost_connections": lost,
            "msg_events": sum(c.msg_events for c in self.conns),
            "events": sum(c.events for c in self.conns),
            "send_lag": ph.send_lag.tobytes(),
        }

    async def open_loop(self, ph: Phase, rate: float, offset: float) -> None:
        """Send on a fixed timetable: message k at t0 + offset + k / rate, round-robin."""
        conns = self.conns
        n = len(conns)
        interval = 1.0 / rate
        k = 0
        start = ph.t0 + offset
        nxt = start
        lag = ph.send_lag
        while nxt < ph.te:
            t = now()
            touched: set[Conn] = set()
            while nxt <= t and nxt < ph.te:
                c = conns[k % n]
                c.queue_send(nxt)
                touched.add(c)
                if nxt >= ph.ts:
                    lag.append(t - nxt)
                k += 1
                nxt = start + k * interval
            for c in touched:
                c.flush()
            await asyncio.sleep(max(0.0, nxt - now()))


def worker_main(index: int, ports: list[int], pipe: Any, progress: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    with contextlib.suppress(EOFError):
        asyncio.run(Worker(index, ports, pipe, progress).run())


# ---------------------------------------------------------------------------
# /proc sampling
# ---------------------------------------------------------------------------


def _stat_ticks(path: str) -> int:
    try:
        with open(path) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def process_ticks(pid: int) -> int:
    return _stat_ticks(f"/proc/{pid}/stat")


def thread_ticks(pid: int) -> dict[int, int]:
    out = {}
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            out[int(tid)] = _stat_ticks(f"/proc/{pid}/task/{tid}/stat")
    return out


def machine_ticks() -> tuple[int, int]:
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values), sum(values) - idle


class CpuSample:
    def __init__(self, procs: dict[str, int], workers: list[int]) -> None:
        """``procs``: the measured server processes by name ({"server": pid} for serve)."""
        self.t = now()
        self.procs = dict(procs)
        self.proc = {name: process_ticks(pid) for name, pid in procs.items()}
        self.main = {
            name: _stat_ticks(f"/proc/{pid}/task/{pid}/stat") for name, pid in procs.items()
        }
        self.threads = {name: thread_ticks(pid) for name, pid in procs.items()}
        self.workers = sum(process_ticks(w) for w in workers)
        self.parent = process_ticks(os.getpid())
        self.machine_total, self.machine_busy = machine_ticks()


def cpu_report(a: CpuSample, b: CpuSample) -> dict[str, Any]:
    secs = b.t - a.t
    ncpu = os.cpu_count() or 1

    def pct(ticks: int) -> float:
        return round(100.0 * ticks / CLK_TCK / secs, 1)

    total = b.machine_total - a.machine_total
    busy = b.machine_busy - a.machine_busy
    gen = b.workers - a.workers + b.parent - a.parent
    per: dict[str, dict[str, float]] = {}
    measured = 0
    for name, pid in b.procs.items():
        proc = b.proc[name] - a.proc.get(name, 0)
        main = b.main[name] - a.main.get(name, 0)
        others = [
            (ticks - a.threads.get(name, {}).get(tid, 0), tid)
            for tid, ticks in b.threads[name].items()
            if tid != pid
        ]
        measured += proc
        per[name] = {
            "process_pct": pct(proc),
            "event_loop_thread_pct": pct(main),
            "other_threads_pct": pct(proc - main),
            "busiest_other_thread_pct": pct(max(others, default=(0, 0))[0]),
        }
    machine = round(100.0 * ncpu * busy / total, 1) if total else None
    other = round(machine - pct(measured) - pct(gen), 1) if machine is not None else None
    if set(per) == {"server"}:  # nodechat serve: the report's original shape
        srv = per["server"]
        return {
            "server_process_pct": srv["process_pct"],  # 100 = one core
            "server_event_loop_thread_pct": srv["event_loop_thread_pct"],
            "server_other_threads_pct": srv["other_threads_pct"],
            "server_busiest_other_thread_pct": srv["busiest_other_thread_pct"],  # SQLite writer
            "generator_pct": pct(gen),
            "machine_busy_pct": machine,
            "other_processes_pct": other,
        }
    nodechat = sum(v["process_pct"] for k, v in per.items() if k != "redis-server")
    return {
        "server_process_pct": round(nodechat, 1),  # all nodechat processes together
        "processes": per,  # each role (and redis-server) separately; 100 = one core
        "generator_pct": pct(gen),
        "machine_busy_pct": machine,
        "other_processes_pct": other,  # the rest of the machine
    }


# ---------------------------------------------------------------------------
# Parent: server, setup, phases, verification, report
# ---------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    if not values:
        return math.nan
    k = max(0, math.ceil(p / 100.0 * len(values)) - 1)
    return values[k]


def lat_summary(values: list[float]) -> dict[str, Any]:
    values = sorted(values)
    ms = 1000.0
    return {
        "count": len(values),
        "p50_ms": round(percentile(values, 50) * ms, 2),
        "p95_ms": round(percentile(values, 95) * ms, 2),
        "p99_ms": round(percentile(values, 99) * ms, 2),
        "max_ms": round(values[-1] * ms, 2) if values else math.nan,
    }


def nodechat_command() -> list[str]:
    exe = Path(sys.executable).parent / "nodechat"
    if exe.exists():
        return [str(exe)]
    # not installed next to this interpreter: run the same entry point
    return [
        sys.executable,
        "-c",
        "import sys; from nodechat.cli import main; sys.argv[0] = 'nodechat'; main()",
    ]


class Server:
    """``nodechat serve``: one process."""

    def __init__(self, data_dir: Path, log_path: Path, store: str = "") -> None:
        self.db_path = data_dir / "nodechat.db"
        self.cmd = [
            *nodechat_command(),
            "serve",
            "--host",
            HOST,
            "--port",
            "0",
            "--api-port",
            "0",
            "--data-dir",
            str(data_dir),
            "--log-level",
            "warning",
        ]
        if store:
            self.cmd += ["--store", store]
        env = {k: v for k, v in os.environ.items() if not k.startswith("NODECHAT_")}
        self.log_path = log_path
        self.log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.cmd, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, env=env
        )
        self.pid = self.proc.pid
        self.port = 0
        self.commands = [" ".join(self.cmd)]

    def pids(self) -> dict[str, int]:
        return {"server": self.pid}

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""

    def wait_ready(self, timeout: float = 60.0) -> list[int]:
        end = time.monotonic() + timeout
        pattern = re.compile(r"nodechat serving on ws://([0-9.]+):(\d+)/")
        while time.monotonic() < end:
            match = pattern.search(self.log_path.read_text(errors="replace"))
            if match:
                self.port = int(match.group(2))
                return [self.port]
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("server did not start:\n" + self.log_path.read_text(errors="replace"))

    def stop(self, timeout: float = 60.0) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log("server did not stop after SIGTERM; killing it")
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


READY = re.compile(r"(serving on|listening on|gateway on) (\S+)")


def redis_server_pid(port: int) -> int | None:
    """The pid of the local redis-server listening on ``port`` (by its command line)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            if cmdline.startswith(b"redis-server") and f":{port}".encode() in cmdline:
                return int(entry)
    return None


class Split:
    """The split deployment as real processes (the logic of tests/e2e/cluster.py).

    ``nodechat keygen``; ``nodechat auth|group|message --listen 127.0.0.1:0`` sharing one
    SQLite file; ``sockets`` socket nodes and a gateway over Redis, with a random bus prefix
    and the service token in the environment. Logs go to files in ``log_dir``.
    """

    def __init__(self, data_dir: Path, log_dir: Path, sockets: int, redis: str) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = data_dir / "nodechat.db"
        self.log_dir = log_dir
        self.redis = redis
        self.sockets = sockets
        base = {k: v for k, v in os.environ.items() if not k.startswith("NODECHAT_")}
        self.env = {
            **base,
            "PYTHONUNBUFFERED": "1",
            "NODECHAT_SERVICE_TOKEN": secrets.token_urlsafe(24),
            "NODECHAT_STORE": f"sqlite:///{self.db_path}",
            "NODECHAT_DATA_DIR": str(data_dir),
            "NODECHAT_BUS_PREFIX": f"bench{secrets.token_hex(4)}:",
        }
        self.nodechat = nodechat_command()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Any] = {}
        self.addresses: dict[str, str] = {}
        self.commands: list[str] = []
        self.ports: list[int] = []
        self.redis_pid: int | None = None
        self.data_dir = data_dir

    def _spawn(self, name: str, args: list[str]) -> None:
        cmd = [*self.nodechat, *args, "--log-level", "warning"]
        self.commands.append(f"{name}: nodechat {' '.join(cmd[len(self.nodechat) :])}")
        self.logs[name] = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - stop()
        self.procs[name] = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self.logs[name],
            stderr=subprocess.STDOUT,
            env=self.env,
        )

    def _await(self, names: list[str], timeout: float) -> None:
        end = time.monotonic() + timeout
        for name in names:
            while True:
                match = READY.search((self.log_dir / f"{name}.log").read_text(errors="replace"))
                if match:
                    self.addresses[name] = match.group(2)
                    break
                if self.procs[name].poll() is not None or time.monotonic() > end:
                    raise RuntimeError(f"{name} did not start")
                time.sleep(0.05)

    def wait_ready(self, timeout: float = 60.0) -> list[int]:
        subprocess.run(
            [*self.nodechat, "keygen", "--data-dir", str(self.data_dir)],
            check=True,
            env=self.env,
            capture_output=True,
            timeout=timeout,
        )
        roles = ["auth", "group", "message"]
        for role in roles:
            self._spawn(role, [role, "--listen", f"{HOST}:0", "--bus", self.redis])
        self._await(roles, timeout)
        upstream = [
            "--auth",
            self.addresses["auth"],
            "--group",
            self.addresses["group"],
            "--message",
            self.addresses["message"],
            "--bus",
            self.redis,
        ]
        nodes = [f"socket{i + 1}" for i in range(self.sockets)]
        for name in nodes:
            self._spawn(name, ["socket", "--listen", f"{HOST}:0", *upstream])
        self._spawn("gateway", ["gateway", "--listen", f"{HOST}:0", *upstream])
        self._await([*nodes, "gateway"], timeout)
        self.ports = [int(self.addresses[n].rstrip("/").rsplit(":", 1)[1]) for n in nodes]
        port = int(self.redis.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[-1])
        self.redis_pid = redis_server_pid(port)
        return self.ports

    def pids(self) -> dict[str, int]:
        out = {name: p.pid for name, p in self.procs.items()}
        if self.redis_pid is not None:
            out["redis-server"] = self.redis_pid
        return out

    def log_tail(self) -> str:
        out = []
        for name in self.procs:
            path = self.log_dir / f"{name}.log"
            if path.exists():
                text = path.read_text(errors="replace")[-1500:]
                out.append(f"--- {name}\n{text}")
        return "\n".join(out)

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM the socket nodes and gateway first, then the data roles; worst exit code."""
        codes = []
        for name in reversed(list(self.procs)):
            proc = self.procs[name]
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    log(f"{name} did not stop after SIGTERM; killing it")
                    proc.kill()
                    proc.wait()
            codes.append(proc.returncode)
            self.logs[name].close()
        return next((c for c in codes if c != 0), 0)


class Pool:
    """The generator worker processes."""

    def __init__(self, n: int, ports: list[int]) -> None:
        ctx = mp.get_context("spawn")
        self.progress = ctx.Queue()
        self.pipes = []
        self.procs = []
        for i in range(n):
            parent_end, child_end = ctx.Pipe()
            proc = ctx.Process(
                target=worker_main,
                args=(i, ports, child_end, self.progress),
                daemon=True,
                name=f"bench-worker-{i}",
            )
            proc.start()
            self.pipes.append(parent_end)
            self.procs.append(proc)

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.pid is not None]

    def send(self, cmds: list[tuple[str, Any]]) -> None:
        for pipe, cmd in zip(self.pipes, cmds, strict=True):
            pipe.send(cmd)

    def gather(self, timeout: float, on_progress: Any = None) -> list[Any]:
        results: list[Any] = [None] * len(self.pipes)
        waiting = set(range(len(self.pipes)))
        end = time.monotonic() + timeout
        while waiting:
            if time.monotonic() > end:
                raise RuntimeError("generator workers timed out")
            while on_progress is not None and not self.progress.empty():
                on_progress(*self.progress.get_nowait())
            for i in list(waiting):
                if self.pipes[i].poll(0.05):
                    status, value = self.pipes[i].recv()
                    if status != "ok":
                        raise RuntimeError(f"worker {i}: {value}")
                    results[i] = value
                    waiting.discard(i)
                elif not self.procs[i].is_alive():
                    raise RuntimeError(f"worker {i} died")
        return results

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.send([("stop", None)] * len(self.pipes))
            self.gather(10.0)
        for p in self.procs:
            p.join(5)
            if p.is_alive():
                p.terminate()


def run_phase(
    pool: Pool,
    server: Server | Split,
    name: str,
    args: argparse.Namespace,
    rate: float | None,
    seqs: dict[str, list[int]],
) -> dict[str, Any]:
    closed = name != "rate"
    workload = name if closed else args.rate_workload
    nw = len(pool.pipes)
    t0 = now() + 0.5
    specs = []
    for i in range(nw):
        spec = {
            "mode": "closed" if closed else "open",
            "workload": workload,
            "t0": t0,
            "warmup": args.warmup,
            "duration": args.duration,
            "window": args.window,
            "drain_timeout": args.drain_timeout,
        }
        if not closed:
            assert rate is not None
            spec["rate"] = rate / nw
            spec["offset"] = i / rate
        specs.append(("phase", spec))
    label = f"max/{name} (window {args.window})" if closed else f"rate {rate:.0f}/s ({workload})"
    log(f"phase {label}: {args.warmup:g}s warm-up + {args.duration:g}s measured")
    pool.send(specs)
    ts = t0 + args.warmup
    time.sleep(max(0.0, ts - now()))
    a = CpuSample(server.pids(), pool.pids())
    time.sleep(max(0.0, ts + args.duration - now()))
    b = CpuSample(server.pids(), pool.pids())
    results = pool.gather(args.warmup + args.duration + args.drain_timeout + 60)
    secs = b.t - a.t
    lat: dict[str, list[float]] = {k: [] for k in KINDS}
    win = dict.fromkeys(KINDS, 0)
    acks = dict.fromkeys(KINDS, 0)
    errors: Counter[str] = Counter()
    lag: list[float] = []
    totals: Counter[str] = Counter()
    for r in results:
        for k in KINDS:
            lat[k].extend(array("d", r["lat"][k]))
            win[k] += r["win_acks"][k]
            acks[k] += r["acks"][k]
        errors.update(r["errors"])
        lag.extend(array("d", r["send_lag"]))
        for key in ("duplicates", "refused", "unacked", "lost_connections", "msg_events", "events"):
            totals[key] += r[key]
        for conv, values in r["seqs"].items():
            seqs.setdefault(conv, []).extend(values)
    out: dict[str, Any] = {
        "phase": name,
        "mode": "max" if closed else "rate",
        "workload": workload,
        "window": args.window if closed else None,
        "target_rate": round(rate, 1) if rate is not None else None,
        "duration_s": round(secs, 3),
        "acked_per_s": round(sum(win.values()) / args.duration, 1),
        "latency": lat_summary(lat["self"] + lat["direct"]),
        "by_kind": {
            k: {"acked_per_s": round(win[k] / args.duration, 1), "latency": lat_summary(lat[k])}
            for k in KINDS
            if acks[k]
        },
        "acked_total": sum(acks.values()),
        "expected_message_events": acks["self"] + 2 * acks["direct"],
        "message_events": totals["msg_events"],
        "events": totals["events"],
        "errors": dict(errors),
        "duplicates": totals["duplicates"],
        "refused": totals["refused"],
        "unacked": totals["unacked"],
        "lost_connections": totals["lost_connections"],
        "cpu": cpu_report(a, b),
    }
    if not closed:
        lag.sort()
        out["send_lag_ms"] = {
            "p99": round(percentile(lag, 99) * 1000, 2),
            "max": round(lag[-1] * 1000, 2) if lag else None,
        }
    log(format_phase(out))
    return out


def verify(db_path: Path, seqs: dict[str, list[int]], acked: int) -> dict[str, Any]:
    problems: list[str] = []
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
        journal = con.execute("PRAGMA journal_mode").fetchone()[0]
        rows = con.execute(
            "SELECT c.id, c.last_seq, count(m.id), coalesce(min(m.seq), 0),"
            " coalesce(max(m.seq), 0) FROM conversations c"
            " LEFT JOIN messages m ON m.conversation_id = c.id GROUP BY c.id"
        ).fetchall()
        stored = con.execute("SELECT count(*) FROM messages").fetchone()[0]
        conv_seqs: dict[str, list[int]] = {}
        for cid, seq in con.execute("SELECT conversation_id, seq FROM messages"):
            conv_seqs.setdefault(cid, []).append(seq)
    finally:
        con.close()
    if integrity != "ok":
        problems.append(f"integrity_check: {integrity}")
    gaps = 0
    for cid, last_seq, count, lo, hi in rows:
        if count != last_seq or hi != last_seq or (count and lo != 1):
            gaps += 1
            if gaps <= 5:
                problems.append(f"{cid}: last_seq={last_seq} stored={count} seqs {lo}..{hi}")
    if gaps:
        problems.append(f"{gaps} conversation(s) with seq gaps or a wrong last_seq")
    if stored != acked:
        problems.append(f"stored messages {stored} != acked {acked}")
    mismatched = [
        cid
        for cid in set(seqs) | set(conv_seqs)
        if sorted(seqs.get(cid, [])) != sorted(conv_seqs.get(cid, []))
    ]
    if mismatched:
        problems.append(
            f"{len(mismatched)} conversation(s) whose acked seqs differ from the "
            f"stored seqs, e.g. {mismatched[0]}"
        )
    return {
        "pass": not problems,
        "stored_messages": stored,
        "acked_messages": acked,
        "conversations": len(rows),
        "journal_mode": journal,
        "integrity": integrity,
        "problems": problems,
    }


def verify_store(url: str, seqs: dict[str, list[int]], acked: int) -> dict[str, Any]:
    """The same consistency check through the store API, for any backend (--store)."""
    import asyncio as _asyncio

    from nodechat.storage import open_store

    async def read() -> tuple[dict[str, int], dict[str, list[int]]]:
        store = open_store(url)
        try:
            last: dict[str, int] = {}
            stored: dict[str, list[int]] = {}
            for table in ("conversations", "messages"):
                after = None
                while True:
                    rows = await store.export_rows(table, after=after, limit=5000)
                    for row in rows:
                        if table == "conversations":
                            last[row["id"]] = row["last_seq"]
                        else:
                            stored.setdefault(row["conversation_id"], []).append(row["seq"])
                    if len(rows) < 5000:
                        break
                    after = (rows[-1]["id"],)
            return last, stored
        finally:
            await store.close()

    last, conv_seqs = _asyncio.run(read())
    problems: list[str] = []
    gaps = [
        cid
        for cid, top in last.items()
        if sorted(conv_seqs.get(cid, [])) != list(range(1, top + 1))
    ]
    if gaps:
        problems.append(f"{len(gaps)} conversation(s) with seq gaps, e.g. {gaps[0]}")
    stored = sum(len(v) for v in conv_seqs.values())
    if stored != acked:
        problems.append(f"stored messages {stored} != acked {acked}")
    mismatched = [
        cid
        for cid in set(seqs) | set(conv_seqs)
        if sorted(seqs.get(cid, [])) != sorted(conv_seqs.get(cid, []))
    ]
    if mismatched:
        problems.append(
            f"{len(mismatched)} conversation(s) whose acked seqs differ from the "
            f"stored seqs, e.g. {mismatched[0]}"
        )
    return {
        "pass": not problems,
        "stored_messages": stored,
        "acked_messages": acked,
        "conversations": len(last),
        "journal_mode": None,
        "integrity": None,
        "problems": problems,
    }


def format_cpu_split(cpu: dict[str, Any]) -> str:
    """One line: each process's CPU (100 = one core)."""
    parts = [f"{name} {v['process_pct']:.0f}" for name, v in cpu["processes"].items()]
    return (
        " ".join(parts) + f" | generator {cpu['generator_pct']:.0f} other "
        f"{cpu['other_processes_pct']} (%)"
    )


def format_phase(p: dict[str, Any]) -> str:
    lat = p["latency"]
    cpu = p["cpu"]
    if "processes" in cpu:
        return (
            f"{p['phase']:<7} {p['acked_per_s']:>9.0f} msg/s  p50 {lat['p50_ms']:>7.2f}  "
            f"p95 {lat['p95_ms']:>7.2f}  p99 {lat['p99_ms']:>7.2f} ms  CPU: "
            + format_cpu_split(cpu)
        )
    head = (
        f"{p['phase']:<7} {p['acked_per_s']:>9.0f} msg/s  p50 {lat['p50_ms']:>7.2f}  "
        f"p95 {lat['p95_ms']:>7.2f}  p99 {lat['p99_ms']:>7.2f} ms  "
        f"server CPU {cpu['server_process_pct']:.0f}% (loop thread "
        f"{cpu['server_event_loop_thread_pct']:.0f}%)  generator {cpu['generator_pct']:.0f}%"
        f"  other {cpu['other_processes_pct']}%"
    )
    return head


def human_report(report: dict[str, Any]) -> str:
    lines = []
    env = report["environment"]
    split = report["config"]["deployment"] == "split"
    what = (
        f"nodechat split deployment ({report['config']['sockets']} socket node(s))"
        if split
        else "nodechat serve"
    )
    lines.append(
        f"{what} benchmark - {env['cpu_model']} x{env['nproc']}, "
        f"Python {env['python']}, {report['config']['users']} clients, "
        f"{report['config']['workers']} generator processes"
    )
    lines.append(f"setup: registered+connected in {report['setup']['seconds']:.1f}s")
    lines.append("")
    lines.append(
        f"{'phase':<16}{'acked/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'max ms':>9}  {'server CPU':>10} {'loop thr':>8} {'gen CPU':>8} "
        f"{'other':>6}"
    )
    for p in report["phases"]:
        rows = [
            (
                p["phase"] if p["mode"] == "max" else f"rate@{p['target_rate']:.0f}",
                p["acked_per_s"],
                p["latency"],
                p["cpu"],
            )
        ]
        if len(p["by_kind"]) > 1:
            for k, v in p["by_kind"].items():
                rows.append((f"  {k}", v["acked_per_s"], v["latency"], None))
        for name, rate, lat, cpu in rows:
            line = (
                f"{name:<16}{rate:>9.0f}{lat['p50_ms']:>9.2f}{lat['p95_ms']:>9.2f}"
                f"{lat['p99_ms']:>9.2f}{lat['max_ms']:>9.1f}"
            )
            if cpu is not None and split:
                line += (
                    f"  {cpu['server_process_pct']:>9.0f}% {'':>8} "
                    f"{cpu['generator_pct']:>7.0f}% {cpu['other_processes_pct']:>5}%"
                )
            elif cpu is not None:
                line += (
                    f"  {cpu['server_process_pct']:>9.0f}% "
                    f"{cpu['server_event_loop_thread_pct']:>7.0f}% "
                    f"{cpu['generator_pct']:>7.0f}% {cpu['other_processes_pct']:>5}%"
                )
            lines.append(line)
        extra = []
        if p["errors"]:
            extra.append(f"errors {p['errors']}")
        if p["unacked"]:
            extra.append(f"UNACKED {p['unacked']}")
        if p["lost_connections"]:
            extra.append(f"LOST CONNECTIONS {p['lost_connections']}")
        if p["message_events"] != p["expected_message_events"]:
            extra.append(
                f"message.created events {p['message_events']} "
                f"(expected {p['expected_message_events']})"
            )
        if "send_lag_ms" in p:
            extra.append(
                f"generator send lag p99 {p['send_lag_ms']['p99']} ms, "
                f"max {p['send_lag_ms']['max']} ms"
            )
        if split:
            extra.append("CPU " + format_cpu_split(p["cpu"]))
        for e in extra:
            lines.append(f"{'':<16}{e}")
    lines.append("")
    if split:
        lines.append(
            "CPU: 100% = one core; 'server CPU' = all nodechat processes together "
            "(redis-server listed separately); 'other' = the rest of the machine"
        )
    else:
        lines.append(
            "CPU: 100% = one core; 'loop thr' = the server's event-loop (main) "
            "thread; 'other' = the rest of the machine"
        )
    v = report["verify"]
    verdict = "PASS" if v["pass"] else "FAIL"
    lines.append(
        f"consistency: {verdict} - acked {v['acked_messages']}, stored "
        f"{v['stored_messages']} in {v['conversations']} conversations, seqs gap-free"
        if v["pass"]
        else "consistency: FAIL - " + "; ".join(v["problems"])
    )
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    commit = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            timeout=5,
        ).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": commit,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--users", type=int, default=200, help="clients, one per user (even)")
    ap.add_argument("--window", type=int, default=8, help="outstanding sends per client (max)")
    ap.add_argument("--duration", type=float, default=15.0, help="measured seconds per phase")
    ap.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per phase")
    ap.add_argument(
        "--phases",
        default="self,direct,mixed,rate",
        help="comma-separated subset of self,direct,mixed,rate",
    )
    ap.add_argument(
        "--rate",
        default="half",
        help="open-loop aggregate rate(s), msgs/s, comma-separated; 'half' = half "
        "the best max rate of this run (default: half)",
    )
    ap.add_argument("--rate-workload", default="mixed", choices=[*KINDS, "mixed"])
    ap.add_argument("--workers", type=int, default=2, help="generator processes")
    ap.add_argument(
        "--register-conns",
        type=int,
        default=8,
        help="concurrent registration connections (in total)",
    )
    ap.add_argument("--body-size", type=int, default=64, help="message body length (chars)")
    ap.add_argument("--drain-timeout", type=float, default=30.0)
    ap.add_argument(
        "--deployment",
        choices=["serve", "split"],
        default="serve",
        help="serve: one `nodechat serve` process; split: auth, group, message "
        "roles (one SQLite file), --sockets socket nodes and a gateway over "
        "Redis (default: serve)",
    )
    ap.add_argument(
        "--sockets",
        type=int,
        default=1,
        help="socket nodes in the split deployment; client i uses node i %% N",
    )
    ap.add_argument(
        "--redis",
        default="redis://127.0.0.1:6379/0",
        help="Redis for the split deployment (a random bus prefix is used)",
    )
    ap.add_argument(
        "--store",
        default="",
        help="serve deployment: store URL (an EMPTY database), e.g. "
        "postgresql://postgres@127.0.0.1:5432/nodechat_bench",
    )
    ap.add_argument("--keep-data", action="store_true", help="keep the temporary data dir")
    ap.add_argument(
        "--json",
        action="store_true",
        help="print JSON results on stdout (the summary goes to stderr)",
    )
    args = ap.parse_args(argv)
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if any(p not in (*MAX_PHASES, "rate") for p in phases) or args.users < 2 or args.users % 2:
        ap.error("bad --phases or --users (must be even)")
    try:
        rates = [None if r.strip() == "half" else float(r) for r in args.rate.split(",")]
    except ValueError:
        ap.error("--rate: numbers or 'half'")
    if "rate" in phases and None in rates and not any(p in MAX_PHASES for p in phases):
        ap.error("--rate half needs a max phase (self, direct or mixed) to run first")
    nw = max(1, min(args.workers, args.users // 2))

    tmp = Path(tempfile.mkdtemp(prefix="nodechat-bench-"))
    data_dir = tmp / "data"
    if args.sockets < 1:
        ap.error("--sockets must be at least 1")
    server: Server | Split
    if args.deployment == "serve":
        server = Server(data_dir, tmp / "server.log", args.store)
    else:
        server = Split(data_dir, tmp, args.sockets, args.redis)
    pool: Pool | None = None
    config: dict[str, Any] = {
        "deployment": args.deployment,
        "users": args.users,
        "window": args.window,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "workers": nw,
        "body_size": args.body_size,
        "phases": phases,
        "rates": args.rate,
        "server_command": "; ".join(server.commands),
        "store": "sqlite (WAL, synchronous=FULL)",
    }
    if args.deployment == "split":
        config["sockets"] = args.sockets
        config["redis"] = args.redis
    report: dict[str, Any] = {"environment": environment(), "config": config, "phases": []}
    seqs: dict[str, list[int]] = {}
    code = 1
    try:
        ports = server.wait_ready()
        if isinstance(server, Split):
            config["server_command"] = "; ".join(server.commands)
            log(
                f"split deployment up: {server.addresses}; pids {server.pids()}; data in {data_dir}"
            )
            if server.redis_pid is None:
                log("redis-server pid not found; its CPU is not reported separately")
        else:
            log(f"server pid {server.pid} on ws://{HOST}:{ports[0]}/, data in {data_dir}")
        # pairs (2k, 2k+1) stay in one worker; pair k goes to worker k % nw
        shares: list[list[tuple[int, str]]] = [[] for _ in range(nw)]
        for i in range(args.users):
            shares[(i // 2) % nw].append((i, f"bench{i:05d}"))
        body = ("benchmark message " + "x" * args.body_size)[: args.body_size]
        pool = Pool(nw, ports)
        t_setup = now()
        per_worker = max(1, args.register_conns // nw)
        pool.send(
            [
                ("setup", {"users": share, "body": body, "register_conns": per_worker})
                for share in shares
            ]
        )
        progress: Counter[str] = Counter()
        last_print = [0.0]

        def on_progress(kind: str, n: int) -> None:
            progress[kind] += n
            if now() - last_print[0] > 2 or progress[kind] == args.users:
                last_print[0] = now()
                log(
                    f"setup: registered {progress['registered']}/{args.users}, "
                    f"connected {progress['connected']}/{args.users}"
                )

        setup = pool.gather(600.0, on_progress)
        report["setup"] = {
            "seconds": round(now() - t_setup, 1),
            "connected": sum(s["connected"] for s in setup),
        }
        for conv in (c for s in setup for c in s["self_conversations"] + s["dm_conversations"]):
            seqs.setdefault(conv, [])
        log(
            f"setup done in {report['setup']['seconds']}s: {report['setup']['connected']} "
            f"clients authenticated, {args.users // 2} direct conversations opened"
        )
        best_max = 0.0
        plan = [(name, r) for name in phases for r in (rates if name == "rate" else [None])]
        for name, r in plan:
            rate = None
            if name == "rate":
                rate = r if r is not None else best_max / 2
                if rate <= 0:
                    raise RuntimeError("no max rate measured; pass --rate")
            result = run_phase(pool, server, name, args, rate, seqs)
            report["phases"].append(result)
            if name in MAX_PHASES:
                best_max = max(best_max, result["acked_per_s"])
            if result["lost_connections"]:
                log("clients lost their connections; skipping the remaining phases")
                break
        pool.stop()
        pool = None
        rc = server.stop()
        report["server_exit_code"] = rc
        acked = sum(p["acked_total"] for p in report["phases"])
        if any(p["unacked"] for p in report["phases"]):
            log("some sends were never acknowledged within the drain timeout")
        report["verify"] = (
            verify_store(args.store, seqs, acked)
            if args.store
            else verify(server.db_path, seqs, acked)
        )
        if any(p["unacked"] for p in report["phases"]):
            report["verify"]["pass"] = False
            report["verify"]["problems"].append("sends left unacknowledged")
        if any(p["lost_connections"] for p in report["phases"]):
            report["verify"]["pass"] = False
            report["verify"]["problems"].append("clients lost their connections")
        if rc != 0:
            report["verify"]["problems"].append(f"server exit code {rc}")
            report["verify"]["pass"] = False
        code = 0 if report["verify"]["pass"] else 1
    except KeyboardInterrupt:
        log("interrupted")
        code = 130
    except Exception as exc:
        log(f"ERROR: {type(exc).__name__}: {exc}")
        tail = server.log_tail()
        if tail:
            log("server log tail:\n" + tail)
        code = 2
    finally:
        if pool is not None:
            pool.stop()
        server.stop()
        if args.keep_data:
            log(f"data kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if "verify" in report:
        text = human_report(report)
        if args.json:
            print(text, file=sys.stderr)
            sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
        else:
            print(text)
    return code


if __name__ == "__main__":
    sys.exit(main())
