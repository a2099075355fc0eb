"""A generator process: owns a share of the connections and runs the commands of the parent.

Commands come over a pipe, one at a time: ``connect`` (open and authenticate
the share), ``run`` (the open-loop timetable, then wait for the acks),
``collect`` (wait until the acked messages have reached this share's member
connections, then report), ``stop``. Deliveries are counted as they arrive,
whatever the command. Times are ``time.perf_counter`` (CLOCK_MONOTONIC on
Linux, the same clock in every process of the machine), so a send time
embedded in a message body can be compared with the arrival time in another
worker. A counters snapshot goes to the progress queue twice a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import time
from array import array
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from nodechat.bench.histogram import Histogram
from nodechat.bench.tally import NEW, Seen, Tally, missing_for
from nodechat.bench.wsconn import Conn, client_frame, open_conn

now = time.perf_counter
BODY_MARK = "nb "  # a bench body: "nb <scheduled send time> xxx…"
PROGRESS_EVERY = 0.5


async def pipe_recv(pipe: Any) -> Any:
    """The next object from a multiprocessing pipe, awaited without blocking the loop
    (the command channel of every load-generator worker)."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[Any] = loop.create_future()

    def ready() -> None:
        loop.remove_reader(pipe.fileno())
        if not fut.done():
            try:
                fut.set_result(pipe.recv())
            except EOFError as exc:
                fut.set_exception(exc)

    loop.add_reader(pipe.fileno(), ready)
    return await fut


@dataclass(slots=True)
class Client:
    """What the worker knows about one of its connections."""

    index: int
    template: bytes = b""  # the message.send frame with %d (id), %s (body), %d (nonce)
    seen: dict[str, Seen] = field(default_factory=dict)
    sent: dict[int, float] = field(default_factory=dict)  # request id -> scheduled time


@dataclass(slots=True)
class Window:
    """The measured interval, [start, end)."""

    start: float = math.inf
    end: float = math.inf

    def __contains__(self, t: float) -> bool:
        return self.start <= t < self.end


class Worker:
    """One generator process's connections, counters and command loop."""

    def __init__(self, index: int, pipe: Any, progress: Any) -> None:
        self.index = index
        self.pipe = pipe
        self.progress = progress
        self.conns: list[Conn] = []
        self.senders: list[Conn] = []
        self.tally = Tally()
        self.window = Window()
        self.size = 100
        self.pad = b""
        self.counters: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.acked: dict[str, array[int]] = {}
        self.ack_latency = Histogram()
        self.deliver_latency = Histogram()
        self.send_lag = Histogram()

    # -- listener callbacks ---------------------------------------------------

    def on_message(self, conn: Conn, payload: bytes) -> None:
        """Count a delivery once per connection; its latency if it was sent in the window."""
        client: Client | None = conn.state
        if client is None:
            return
        t = now()
        data = orjson.loads(payload)["data"]
        if self.tally.record(client.seen, data["conversation"], data["seq"]) != NEW:
            return
        self.counters["delivered"] += 1
        if t in self.window:
            self.counters["delivered_in_window"] += 1
        body = data["body"]
        if body.startswith(BODY_MARK):
            with contextlib.suppress(ValueError):
                sent = float(body[3 : body.index(" ", 3)])
                if sent in self.window:
                    self.deliver_latency.add(t - sent)

    def on_reply(self, conn: Conn, reply: dict[str, Any]) -> None:
        """An ack (or a refusal) of a message.send."""
        t = now()
        client: Client = conn.state
        sent = client.sent.pop(reply["id"], None)
        if sent is None:
            self.errors["unexpected_reply"] += 1
            return
        if not reply.get("ok"):
            self.errors[str((reply.get("error") or {}).get("code"))] += 1
            return
        data = reply["data"]
        if data.get("duplicate"):  # our nonces are unique: this stored nothing new
            self.counters["duplicate_acks"] += 1
            return
        self.acked.setdefault(data["conversation"], array("q")).append(data["seq"])
        self.counters["acked"] += 1
        if t in self.window:
            self.counters["acked_in_window"] += 1
        if sent in self.window:
            self.ack_latency.add(t - sent)

    def on_error(self, conn: Conn, code: str) -> None:
        """A connection-level error frame or a resync.required event."""
        self.errors[code] += 1
        client: Client | None = conn.state
        if code == "rate_limited" and client is not None and client.sent:
            # Refused before it was read, so not stored; replies come in order, so it
            # was the oldest request outstanding.
            del client.sent[next(iter(client.sent))]

    # -- commands ---------------------------------------------------------------

    async def hello(self, arg: None) -> int:
        """Ready (the imports are done): the pid."""
        return os.getpid()

    async def connect(self, arg: dict[str, Any]) -> dict[str, Any]:
        """Open and authenticate this worker's share of the connections."""
        self.size = int(arg["size"])
        self.pad = b"x" * self.size
        run = str(arg["run"]).encode()
        timeout = float(arg["timeout"])
        sem = asyncio.Semaphore(int(arg["concurrency"]))
        failed: Counter[str] = Counter()
        t0 = now()

        async def one(index: int, url: str, token: str, channel: str, sender: bool) -> None:
            async with sem:
                try:
                    conn = await open_conn(url, self, timeout)
                except (OSError, ConnectionError, TimeoutError) as exc:
                    failed[f"connect:{type(exc).__name__}"] += 1
                    return
                try:
                    reply = await conn.request("auth.authenticate", timeout, token=token)
                except (ConnectionError, TimeoutError) as exc:
                    failed[f"authenticate:{type(exc).__name__}"] += 1
                    conn.close()
                    return
                if not reply.get("ok"):
                    failed[f"authenticate:{(reply.get('error') or {}).get('code')}"] += 1
                    conn.close()
                    return
                client = Client(index)
                client.template = (
                    b'{"id":%d,"op":"message.send","data":{"conversation":"'
                    + channel.encode()
                    + b'","body":"%s","nonce":"'
                    + run
                    + b'-%d"}}'
                )
                for state in reply["data"].get("conversations", []):
                    if state.get("kind") == "channel":
                        self.tally.join(client.seen, state["id"], int(state["last_seq"]))
                conn.state = client
                self.conns.append(conn)
                if sender:
                    self.senders.append(conn)
                self.counters["connected"] += 1

        await asyncio.gather(*(one(*item) for item in arg["items"]))
        self.conns.sort(key=lambda c: c.state.index)
        self.senders.sort(key=lambda c: c.state.index)
        return {
            "connected": len(self.conns),
            "senders": len(self.senders),
            "failed": dict(failed),
            "seconds": now() - t0,
            "members": dict(self.tally.members),
            "pid": os.getpid(),
        }

    def send(self, conn: Conn, scheduled: float) -> None:
        """Queue one message.send whose body carries its scheduled time."""
        client: Client = conn.state
        rid = conn.take_id()
        client.sent[rid] = scheduled
        head = b"nb %.6f " % scheduled
        body = head + self.pad[: max(0, self.size - len(head))]
        conn.out.append(client_frame(client.template % (rid, body, rid)))

    async def run(self, arg: dict[str, Any]) -> dict[str, Any]:
        """Send on a fixed timetable (message k at start + k / rate, round-robin over this
        worker's senders) until the window ends, then wait (bounded) for the acks."""
        self.window = Window(arg["t0"] + arg["warmup"], arg["t0"] + arg["warmup"] + arg["duration"])
        start, end, rate = arg["t0"] + arg["offset"], self.window.end, float(arg["rate"])
        senders = self.senders
        k = 0
        nxt = start
        if not senders or rate <= 0:
            nxt = end
        while nxt < end:
            t = now()
            touched: set[Conn] = set()
            while nxt <= t and nxt < end:
                conn = senders[k % len(senders)]
                if conn.closed.done():
                    self.errors["send_on_closed_connection"] += 1
                else:
                    self.send(conn, nxt)
                    touched.add(conn)
                    self.counters["sent"] += 1
                    if nxt in self.window:
                        self.counters["scheduled_in_window"] += 1
                        self.send_lag.add(t - nxt)
                    if t in self.window:
                        self.counters["sent_in_window"] += 1
                k += 1
                nxt = start + k / rate
            for conn in touched:
                conn.flush()
            await asyncio.sleep(max(0.0, min(nxt, end) - now()))
        await asyncio.sleep(max(0.0, end - now()))
        deadline = now() + float(arg["drain"])
        while any(c.state.sent for c in senders if not c.closed.done()) and now() < deadline:
            await asyncio.sleep(0.02)
        return {
            "counters": dict(self.counters),
            "errors": dict(self.errors),
            "unacked": sum(len(c.state.sent) for c in senders),
            "acked": {conv: seqs.tobytes() for conv, seqs in self.acked.items()},
            "ack_latency": self.ack_latency.dump(),
            "send_lag": self.send_lag.dump(),
        }

    async def collect(self, arg: dict[str, Any]) -> dict[str, Any]:
        """Wait (bounded) until every acked message reached this worker's member
        connections, then report deliveries, losses and duplicates."""
        acked: dict[str, array[int]] = {}
        for conv, raw in arg["acked"].items():
            seqs = array("q")
            seqs.frombytes(raw)
            acked[conv] = seqs
        deadline = now() + float(arg["settle"])
        settled = self.tally.settle(acked)
        while settled.missing and now() < deadline:
            await asyncio.sleep(0.05)
            settled = self.tally.settle(acked)
        closed = [c for c in self.conns if c.closed.done()]
        return {
            "expected": settled.expected,
            "delivered_acked": settled.delivered,
            "lost": settled.missing,
            "lost_on_closed": sum(missing_for(c.state.seen, acked) for c in closed),
            "closed": dict(Counter(str(c.close_code or "dropped") for c in closed)),
            "duplicates": self.tally.duplicates,
            "others": self.tally.others,
            "counters": dict(self.counters),
            "errors": dict(self.errors),
            "deliver_latency": self.deliver_latency.dump(),
        }

    async def stop(self) -> None:
        """Close every connection."""
        for conn in self.conns:
            conn.close()
        await asyncio.sleep(0.1)

    # -- plumbing -----------------------------------------------------------------

    async def recv(self) -> Any:
        """The next command from the parent (without blocking the loop)."""
        return await pipe_recv(self.pipe)

    async def report(self) -> None:
        """Counters to the parent's progress display, twice a second."""
        while True:
            snapshot = dict(self.counters)
            snapshot["errors"] = sum(self.errors.values())
            with contextlib.suppress(Exception):
                self.progress.put_nowait((self.index, snapshot))
            await asyncio.sleep(PROGRESS_EVERY)

    async def serve(self) -> None:
        """Run commands until ``stop`` (or the parent goes away)."""
        reporter = asyncio.create_task(self.report())
        try:
            while True:
                cmd, arg = await self.recv()
                try:
                    if cmd == "stop":
                        await self.stop()
                        self.pipe.send(("ok", None))
                        return
                    handler: dict[str, Callable[[Any], Awaitable[Any]]] = {
                        "hello": self.hello,
                        "connect": self.connect,
                        "run": self.run,
                        "collect": self.collect,
                    }
                    result = await handler[cmd](arg)
                except Exception as exc:
                    self.pipe.send(("error", f"{type(exc).__name__}: {exc}"))
                    continue
                self.pipe.send(("ok", result))
        finally:
            reporter.cancel()


def worker_main(index: int, pipe: Any, progress: Any) -> None:
    """The entry point of a generator process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    with contextlib.suppress(EOFError, BrokenPipeError):
        asyncio.run(Worker(index, pipe, progress).serve())
