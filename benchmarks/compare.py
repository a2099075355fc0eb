#!/usr/bin/env python3
"""nodechat against a raw websockets server, python-socketio and Node socket.io.

One workload for every target: ``--clients`` (1,000) connections in one room,
``--size``-byte (100) messages sent by a few of them on an open-loop timetable,
each delivered to every member (the sender too), at steps of offered
deliveries/s (messages/s x clients; default 10k, 25k, 50k, 100k, 200k). The
targets, each started as a subprocess pinned with ``taskset`` to
``--server-cpu`` (every process of a deployment, Redis too):

* ``raw``: benchmarks/peers/raw_ws_server.py, ``websockets.broadcast()`` to a set;
* ``socketio-py``: benchmarks/peers/socketio_server.py, python-socketio on aiohttp;
* ``socketio-node``: benchmarks/peers/socketio-node/server.js, socket.io 4 (``npm
  install`` runs there first if node_modules is missing);
* ``nodechat``: ``nodechat serve`` on defaults (SQLite WAL, synchronous=FULL: every
  message is stored durably before it is delivered), the clients' accounts and
  tokens from ``nodechat admin bench-accounts``, the room a group's channel;
* ``nodechat-split``: auth, group and message roles on one SQLite file, two socket
  nodes (client i on node i % 2) and a gateway over a Redis of the run's own.

The generator (benchmarks/compare_gen.py, the same for every target) runs in
processes pinned to ``--generator-cpu``. For each target the script measures:

* connect + authenticate all clients: wall time, and server CPU per connection;
* memory per connection: server RSS (all its processes) idle before the
  clients connect and idle after, divided by the clients;
* at each step: deliveries/s received inside the measured window, p50/p99
  latency from the scheduled send time to receipt (on the probe connections),
  server CPU per delivery (process CPU time from /proc over the window /
  deliveries), and the generator's own CPU. A step whose generator used most of
  its core, or sent late, is marked generator-bound: its figures then describe
  the generator, not the server.

It prints every figure and its ratio to ``raw`` in the same run (``--json``:
machine-readable on stdout, the table on stderr). Everything is bounded by
timeouts; a target that fails is reported with its error and the rest go on.

    pip install -e '.[bench]'
    python benchmarks/compare.py                      # all five targets, ~25 min
    python benchmarks/compare.py --targets raw,nodechat --steps 10000,25000
    python benchmarks/compare.py --json > compare.json
"""

from __future__ import annotations

import argparse
import contextlib
import math
import multiprocessing as mp
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from array import array
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare_gen  # noqa: E402
import serve_bench  # noqa: E402

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers"
HOST = "127.0.0.1"
TARGETS = ("raw", "socketio-py", "socketio-node", "nodechat", "nodechat-split")
LISTEN = re.compile(r"listening on ([0-9.]+):(\d+)")
SERVING = re.compile(r"nodechat serving on ws://([0-9.]+):(\d+)/")
CLK_TCK = os.sysconf("SC_CLK_TCK")
GENERATOR_BOUND_PCT = 90.0  # generator CPU (of its one core) above which a step is not the server's
LATE_SEND_MS = 20.0  # p99 lag of the sender behind its timetable above which a step is marked too
NOISY_PCT = 15.0  # CPU of processes outside the benchmark above which a step is marked


def log(msg: str) -> None:
    print(f"[compare] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def ticks(pids: list[int]) -> int:
    return sum(serve_bench.process_ticks(p) for p in pids)


def cpu_ticks() -> tuple[int, int, int]:
    """Machine-wide (all, user+nice+system, irq+softirq) ticks from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v), v[0] + v[1] + v[2], v[5] + v[6]


def wait_quiet(below_pct: float, timeout: float) -> float:
    """Wait (bounded) until the machine's busy CPU over one second is under ``below_pct``."""
    end = time.monotonic() + timeout
    ncpu = os.cpu_count() or 1
    while True:
        a = cpu_ticks()
        time.sleep(1.0)
        b = cpu_ticks()
        busy = 100.0 * ncpu * (b[1] + b[2] - a[1] - a[2]) / max(1, b[0] - a[0])
        if busy < below_pct or time.monotonic() > end:
            return round(busy, 1)


# ---------------------------------------------------------------------------
# The servers under test
# ---------------------------------------------------------------------------


class Proc:
    """One pinned server process with its log file."""

    def __init__(self, name: str, cmd: list[str], log_path: Path, env: dict[str, str]) -> None:
        self.name = name
        self.cmd = cmd
        self.log_path = log_path
        self.log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, env=env
        )

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            match = pattern.search(self.log_path.read_text(errors="replace"))
            if match:
                return match
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not start:\n{self.tail()}")

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"{self.name} did not stop after SIGTERM; killing it")
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


class Target:
    """A deployment under test: start, where to connect, which pids to measure, stop."""

    protocol = "raw"

    def __init__(self, name: str, args: argparse.Namespace, tmp: Path) -> None:
        self.name = name
        self.args = args
        self.tmp = tmp
        self.pin = ["taskset", "-c", str(args.server_cpu)]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("NODECHAT_")}
        self.procs: list[Proc] = []
        self.ports: list[int] = []
        self.tokens: list[str] = [secrets.token_urlsafe(16)]
        self.conversation = ""
        self.commands: list[str] = []
        self.extra_pids: list[int] = []

    def start(self) -> None:
        raise NotImplementedError

    def spawn(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> Proc:
        full = [*self.pin, *cmd]
        self.commands.append(" ".join(full))
        proc = Proc(name, full, self.tmp / f"{name}.log", env or self.env)
        self.procs.append(proc)
        return proc

    def pids(self) -> list[int]:
        return [p.proc.pid for p in self.procs if p.proc.poll() is None] + self.extra_pids

    def tail(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.tail()}" for p in self.procs)

    def stop(self) -> int | None:
        codes = [p.stop() for p in reversed(self.procs)]
        return next((c for c in codes if c not in (0, None)), 0)


class PeerTarget(Target):
    """A peer server that prints ``listening on HOST:PORT``."""

    def __init__(self, name: str, args: argparse.Namespace, tmp: Path, cmd: list[str]) -> None:
        super().__init__(name, args, tmp)
        self.protocol = "raw" if name == "raw" else "socketio"
        self.cmd = cmd

    def start(self) -> None:
        proc = self.spawn(self.name, [*self.cmd, "--port", "0", "--token", self.tokens[0]])
        self.ports = [int(proc.wait_for(LISTEN, 60).group(2))]


def npm_ready(timeout: float = 300.0) -> Path:
    """benchmarks/peers/socketio-node with its node_modules (``npm install`` if missing)."""
    where = PEERS / "socketio-node"
    if not (where / "node_modules" / "socket.io").is_dir():
        log("npm install in benchmarks/peers/socketio-node")
        done = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"npm install failed:\n{done.stderr[-2000:]}")
    return where


class NodechatTarget(Target):
    """``nodechat serve`` (``split=False``) or the split deployment, with bench accounts."""

    protocol = "nodechat"

    def __init__(self, name: str, args: argparse.Namespace, tmp: Path, split: bool) -> None:
        super().__init__(name, args, tmp)
        self.split = split
        self.data_dir = tmp / "data"
        self.accounts: dict[str, Any] = {}
        self.layout: Any = None

    def start(self) -> None:
        if self.split:
            self.start_split()
        else:
            self.data_dir.mkdir(parents=True)
            proc = self.spawn(
                "serve",
                [
                    *serve_bench.nodechat_command(),
                    "serve",
                    "--host",
                    HOST,
                    "--port",
                    "0",
                    "--api-port",
                    "0",
                    "--data-dir",
                    str(self.data_dir),
                    "--log-level",
                    "warning",
                ],
            )
            self.ports = [int(proc.wait_for(SERVING, 60).group(2))]
        self.make_accounts(self.layout.env if self.split else self.env)

    def start_split(self) -> None:
        redis_port = free_port()
        redis = self.spawn(
            "redis-server",
            [
                "redis-server",
                "--bind",
                HOST,
                "--port",
                str(redis_port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.tmp),
            ],
        )
        redis.wait_for(re.compile(r"Ready to accept connections"), 30)
        layout = serve_bench.Split(
            self.data_dir, self.tmp, self.args.sockets, f"redis://{HOST}:{redis_port}/0"
        )
        layout.nodechat = [*self.pin, *layout.nodechat]  # every role on the server core
        self.layout = layout
        self.ports = layout.wait_ready()
        self.commands += layout.commands

    def pids(self) -> list[int]:
        own = super().pids()
        if self.layout is not None:
            own += [p.pid for p in self.layout.procs.values() if p.poll() is None]
        return own

    def tail(self) -> str:
        text = super().tail()
        if self.layout is not None:
            text += "\n" + self.layout.log_tail()
        return text

    def stop(self) -> int | None:
        code = self.layout.stop() if self.layout is not None else 0
        rest = super().stop()  # redis-server last
        return code or rest

    def make_accounts(self, env: dict[str, str]) -> None:
        out = self.tmp / "accounts.json"
        cmd = [
            *serve_bench.nodechat_command(),
            "admin",
            "bench-accounts",
            "--data-dir",
            str(self.data_dir),
            "--count",
            str(self.args.clients),
            "--groups",
            "1",
            "--prefix",
            "bench",
            "--ttl",
            "3600",
            "--out",
            str(out),
        ]
        if self.split:
            cmd += ["--store", f"sqlite:///{self.data_dir / 'nodechat.db'}"]
        self.commands.append("accounts: " + " ".join(cmd[len(serve_bench.nodechat_command()) :]))
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        if done.returncode != 0:
            hint = ""
            if "No such command" in done.stderr:
                hint = " (this tree has no `nodechat admin bench-accounts` yet)"
            raise RuntimeError(f"bench-accounts failed{hint}: {done.stderr.strip()[-1500:]}")
        data = orjson.loads(out.read_bytes() if out.exists() else done.stdout)
        accounts = data["accounts"]
        if len(accounts) < self.args.clients:
            raise RuntimeError(f"bench-accounts made {len(accounts)} accounts")
        self.accounts = data
        self.tokens = [a["access_token"] for a in accounts[: self.args.clients]]
        self.conversation = accounts[0]["channel_id"]


def make_target(name: str, args: argparse.Namespace, tmp: Path) -> Target:
    py = sys.executable
    if name == "raw":
        return PeerTarget(name, args, tmp, [py, str(PEERS / "raw_ws_server.py")])
    if name == "socketio-py":
        return PeerTarget(name, args, tmp, [py, str(PEERS / "socketio_server.py")])
    if name == "socketio-node":
        where = npm_ready()
        return PeerTarget(name, args, tmp, ["node", str(where / "server.js")])
    if name in ("nodechat", "nodechat-split"):
        return NodechatTarget(name, args, tmp, split=name == "nodechat-split")
    raise ValueError(name)


# ---------------------------------------------------------------------------
# The generator processes
# ---------------------------------------------------------------------------


class Generator:
    """Worker 0: senders and probes; workers 1..n: the other connections."""

    def __init__(self, target: Target, args: argparse.Namespace) -> None:
        n = args.clients
        probes = [i for i in range(n) if i % args.probe_every == 0]
        senders = probes[: args.senders]
        others = [i for i in range(n) if i % args.probe_every != 0]
        nbulk = max(1, args.workers)
        self.owned = [probes] + [others[k::nbulk] for k in range(nbulk)]
        self.owner = {i: w for w, idx in enumerate(self.owned) for i in idx}
        config = {
            "protocol": target.protocol,
            "ports": target.ports,
            "tokens": target.tokens,
            "conversation": target.conversation,
            "probe_every": args.probe_every,
            "senders": set(senders),
            "read_interval": args.read_interval,
        }
        ctx = mp.get_context("spawn")
        self.pipes = []
        self.procs = []
        for w in range(len(self.owned)):
            parent_end, child_end = ctx.Pipe()
            proc = ctx.Process(
                target=compare_gen.worker_main,
                args=(w, config, child_end),
                daemon=True,
                name=f"compare-gen-{w}",
            )
            proc.start()
            assert proc.pid is not None
            os.sched_setaffinity(proc.pid, {args.generator_cpu})
            self.pipes.append(parent_end)
            self.procs.append(proc)

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.pid is not None]

    def send(self, cmds: list[tuple[str, Any] | None]) -> None:
        for pipe, cmd in zip(self.pipes, cmds, strict=True):
            if cmd is not None:
                pipe.send(cmd)

    def gather(self, which: list[int], timeout: float) -> dict[int, Any]:
        results: dict[int, Any] = {}
        end = time.monotonic() + timeout
        while len(results) < len(which):
            if time.monotonic() > end:
                raise RuntimeError("generator workers timed out")
            for w in which:
                if w in results:
                    continue
                if self.pipes[w].poll(0.02):
                    status, value = self.pipes[w].recv()
                    if status != "ok":
                        raise RuntimeError(f"generator worker {w}: {value}")
                    results[w] = value
                elif not self.procs[w].is_alive():
                    raise RuntimeError(f"generator worker {w} died")
        return results

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.send([("stop", None)] * len(self.pipes))
            self.gather(list(range(len(self.pipes))), 15.0)
        for p in self.procs:
            p.join(5)
            if p.is_alive():
                p.terminate()


# ---------------------------------------------------------------------------
# Measuring one target
# ---------------------------------------------------------------------------


def percentile(values: list[int], p: float) -> float:
    if not values:
        return math.nan
    return values[max(0, math.ceil(p / 100.0 * len(values)) - 1)]


def connect_all(gen: Generator, target: Target, args: argparse.Namespace) -> dict[str, Any]:
    """Connect and authenticate every client, in rounds that interleave the workers."""
    n = args.clients
    rounds = [
        list(range(k, min(n, k + args.connect_round))) for k in range(0, n, args.connect_round)
    ]
    pids = target.pids()
    c0, t0 = ticks(pids), time.monotonic()
    connected = 0
    errors: Counter[str] = Counter()
    for indices in rounds:
        by_worker: dict[int, list[int]] = {}
        for i in indices:
            by_worker.setdefault(gen.owner[i], []).append(i)
        spec = {"concurrency": args.connect_concurrency, "timeout": args.connect_timeout}
        cmds: list[tuple[str, Any] | None] = [
            ("connect", {**spec, "indices": by_worker[w]}) if w in by_worker else None
            for w in range(len(gen.pipes))
        ]
        gen.send(cmds)
        results = gen.gather(list(by_worker), args.connect_timeout * 4 + 30)
        for r in results.values():
            errors.update(r["errors"])
        connected = sum(len(idx) for idx in by_worker.values()) + connected
        connected -= sum(sum(r["errors"].values()) for r in results.values())
    wall = time.monotonic() - t0
    cpu_s = (ticks(pids) - c0) / CLK_TCK
    return {
        "clients": n,
        "connected": connected,
        "errors": dict(errors),
        "wall_s": round(wall, 3),
        "server_cpu_s": round(cpu_s, 3),
        "server_cpu_ms_per_conn": round(1000 * cpu_s / max(1, connected), 3),
    }


def run_step(
    gen: Generator, target: Target, args: argparse.Namespace, offered: int
) -> dict[str, Any]:
    busy_before = wait_quiet(args.quiet_below, args.quiet_wait)
    rate = offered / args.clients  # messages/s into the room
    start = time.monotonic_ns() + int(0.5e9)
    ts = start + int(args.warmup * 1e9)
    te = ts + int(args.step_duration * 1e9)
    planned = math.ceil((te - start) * rate / 1e9)
    spec = {
        "start": start,
        "ts": ts,
        "te": te,
        "rate": rate,
        "planned": planned,
        "size": args.size,
        "drain": args.drain,
        "quiet": 2.0,
    }
    log(f"{target.name}: step {offered:,} deliveries/s ({rate:g} msgs/s x {args.clients})")
    gen.send([("step", spec)] * len(gen.pipes))
    pids, gpids = target.pids(), [*gen.pids(), os.getpid()]
    time.sleep(max(0.0, (ts - time.monotonic_ns()) / 1e9))
    s0, g0, m0, w0 = ticks(pids), ticks(gpids), cpu_ticks(), time.monotonic()
    time.sleep(max(0.0, (te - time.monotonic_ns()) / 1e9))
    s1, g1, m1, w1 = ticks(pids), ticks(gpids), cpu_ticks(), time.monotonic()
    results = gen.gather(
        list(range(len(gen.pipes))), args.warmup + args.step_duration + args.drain + 60
    )
    secs = w1 - w0
    win = sum(r["win"] for r in results.values())
    lat = sorted(v for r in results.values() for v in array("q", r["lat"]))
    lag = sorted(v for r in results.values() for v in array("q", r["send_lag"]))
    errors: Counter[str] = Counter()
    other: Counter[str] = Counter()
    for r in results.values():
        errors.update(r["errors"])
        other.update(r["other"])
    server_cpu = (s1 - s0) / CLK_TCK
    gen_pct = 100.0 * (g1 - g0) / CLK_TCK / secs
    share = 100.0 * (os.cpu_count() or 1) / max(1, m1[0] - m0[0])  # percent of a core per tick
    processes_pct = share * (m1[1] - m0[1])  # every process's user+system time
    server_pct = 100.0 * server_cpu / secs
    lag_p99 = percentile(lag, 99) / 1e6
    delivered = win / secs
    out = {
        "offered_per_s": offered,
        "machine_busy_before_pct": busy_before,
        "msgs_per_s": rate,
        "planned_messages": planned,
        "sent_messages": sum(r["sent"] for r in results.values()),
        "delivered_per_s": round(delivered, 1),
        "delivered_total": sum(r["total"] for r in results.values()),
        "expected_total": sum(r["expected"] for r in results.values()),
        "latency_samples": len(lat),
        "p50_ms": round(percentile(lat, 50) / 1e6, 2),
        "p99_ms": round(percentile(lat, 99) / 1e6, 2),
        "max_ms": round(lat[-1] / 1e6, 2) if lat else math.nan,
        "server_cpu_pct": round(server_pct, 1),
        "server_cpu_us_per_delivery": round(1e6 * server_cpu / win, 3) if win else math.nan,
        "generator_cpu_pct": round(gen_pct, 1),
        # processes outside this benchmark (other users of the machine), and the kernel's
        # interrupt work (loopback TCP runs mostly there, charged to no process)
        "other_cpu_pct": round(max(0.0, processes_pct - server_pct - gen_pct), 1),
        "softirq_cpu_pct": round(share * (m1[2] - m0[2]), 1),
        "send_lag_p99_ms": round(lag_p99, 2),
        "send_lag_max_ms": round(lag[-1] / 1e6, 2) if lag else math.nan,
        "errors": dict(errors),
        "other_frames": dict(other),
        "lost_connections": sum(r["lost"] for r in results.values()),
    }
    out["generator_bound"] = gen_pct >= GENERATOR_BOUND_PCT or lag_p99 >= LATE_SEND_MS
    out["noisy"] = out["other_cpu_pct"] >= NOISY_PCT
    log(
        f"  delivered {delivered:,.0f}/s  p50 {out['p50_ms']} p99 {out['p99_ms']} ms  "
        f"server CPU {server_pct:.0f}% ({out['server_cpu_us_per_delivery']} us/delivery)  "
        f"generator {gen_pct:.0f}% (send lag p99 {out['send_lag_p99_ms']} ms)  "
        f"other {out['other_cpu_pct']}% softirq {out['softirq_cpu_pct']}%  "
        f"received {out['delivered_total']}/{out['expected_total']}"
        + ("  GENERATOR-BOUND" if out["generator_bound"] else "")
        + ("  NOISY" if out["noisy"] else "")
    )
    return out


def measure(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Start the target, connect, run the steps, stop; whatever failed is in "error"."""
    tmp = Path(tempfile.mkdtemp(prefix=f"nodechat-compare-{name}-"))
    result: dict[str, Any] = {"target": name, "steps": []}
    target: Target | None = None
    gen: Generator | None = None
    try:
        result["machine_busy_before_pct"] = wait_quiet(args.quiet_below, args.quiet_wait)
        if result["machine_busy_before_pct"] >= args.quiet_below:
            log(f"{name}: the machine is busy ({result['machine_busy_before_pct']}%); going on")
        target = make_target(name, args, tmp)
        target.start()
        result["commands"] = target.commands
        time.sleep(args.settle)
        pids = target.pids()
        result["server_pids"] = pids
        rss0 = sum(rss_kib(p) for p in pids)
        gen = Generator(target, args)
        result["connect"] = connect_all(gen, target, args)
        log(f"{name}: connected {result['connect']}")
        if result["connect"]["connected"] < args.clients:
            raise RuntimeError(f"only {result['connect']['connected']} clients connected")
        time.sleep(args.settle)
        rss1 = sum(rss_kib(p) for p in target.pids())
        result["memory"] = {
            "rss_before_kib": rss0,
            "rss_after_kib": rss1,
            "kib_per_conn": round((rss1 - rss0) / args.clients, 2),
        }
        for offered in args.steps:
            result["steps"].append(run_step(gen, target, args, offered))
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        log(f"{name}: FAILED: {result['error']}")
        if target is not None:
            result["log_tail"] = target.tail()[-3000:]
    finally:
        if gen is not None:
            gen.stop()
        if target is not None:
            result["exit_code"] = target.stop()
        if args.keep_data:
            log(f"{name}: logs and data kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return result


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def figures(r: dict[str, Any], args: argparse.Namespace) -> dict[str, tuple[float, str, str]]:
    """Row label -> (value, unit, mark) for one target's result."""
    out: dict[str, tuple[float, str, str]] = {}
    if "connect" in r:
        c = r["connect"]
        out[f"connect+auth {args.clients} clients, wall"] = (c["wall_s"], "s", "")
        out["connect+auth, server CPU per connection"] = (c["server_cpu_ms_per_conn"], "ms", "")
    if "memory" in r:
        out["memory per connection (RSS delta)"] = (r["memory"]["kib_per_conn"], "KiB", "")
    steps = {s["offered_per_s"]: s for s in r["steps"]}

    def mark(s: dict[str, Any]) -> str:
        return ("*" if s["generator_bound"] else "") + ("!" if s["noisy"] else "")

    for offered in args.steps[:2]:
        if offered in steps:
            s = steps[offered]
            out[f"p50 send->deliver @{offered // 1000}k/s"] = (s["p50_ms"], "ms", mark(s))
            out[f"p99 send->deliver @{offered // 1000}k/s"] = (s["p99_ms"], "ms", mark(s))
    for offered in args.steps:
        if offered in steps:
            s = steps[offered]
            out[f"delivered/s @{offered // 1000}k offered"] = (s["delivered_per_s"], "/s", mark(s))
    for offered in args.steps:
        if offered in steps:
            s = steps[offered]
            us = s["server_cpu_us_per_delivery"]
            out[f"server CPU per delivery @{offered // 1000}k"] = (us, "us", mark(s))
    return out


def fmt(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    """A Markdown table: one row per figure, one column per target, ratio to raw."""
    per = {r["target"]: figures(r, args) for r in results}
    base = per.get("raw", {})
    rows: list[str] = []
    for r in results:
        for label in per[r["target"]]:
            if label not in rows:
                rows.append(label)
    head = "| figure | " + " | ".join(r["target"] for r in results) + " |"
    lines = [head, "|---" * (len(results) + 1) + "|"]
    for label in rows:
        cells = []
        for r in results:
            got = per[r["target"]].get(label)
            if got is None:
                cells.append("-")
                continue
            value, unit, flag = got
            value = math.nan if value is None else value
            cell = f"{fmt(value)}{flag} {unit}"
            ref = base.get(label)
            if r["target"] != "raw" and ref and ref[0] and not math.isnan(ref[0] + value):
                cell += f" (x{value / ref[0]:.2f})"
            cells.append(cell)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    gen_rows = []
    for r in results:
        if r["steps"]:
            cells = ", ".join(
                f"{s['offered_per_s'] // 1000}k: {s['generator_cpu_pct']:.0f}%"
                f" (lag p99 {s['send_lag_p99_ms']:.1f} ms)"
                for s in r["steps"]
            )
            gen_rows.append(f"| {r['target']} | {cells} |")
    if gen_rows:
        lines += ["", "| generator CPU per step (of its core) | |", "|---|---|", *gen_rows]
    failed = [r for r in results if "error" in r]
    if failed:
        lines.append("")
        lines += [f"- {r['target']}: FAILED: {r['error']}" for r in failed]
    lines.append("")
    lines.append(
        "Ratios are to raw in the same run. * = generator-bound step (generator CPU >= "
        f"{GENERATOR_BOUND_PCT:.0f}% of its core or p99 send lag >= {LATE_SEND_MS:.0f} ms); "
        f"! = processes outside the benchmark used >= {NOISY_PCT:.0f}% of a core."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--targets", default=",".join(TARGETS), help="comma-separated: " + ", ".join(TARGETS)
    )
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument(
        "--steps",
        default="10000,25000,50000,100000,200000",
        help="offered deliveries/s (messages/s x clients), comma-separated",
    )
    ap.add_argument("--step-duration", type=float, default=10.0, help="measured seconds per step")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds sent before each window")
    ap.add_argument("--drain", type=float, default=15.0, help="max seconds to wait for stragglers")
    ap.add_argument("--size", type=int, default=100, help="message body bytes")
    ap.add_argument("--senders", type=int, default=10, help="connections that send")
    ap.add_argument(
        "--probe-every", type=int, default=10, help="every n-th connection measures latency"
    )
    ap.add_argument(
        "--workers", type=int, default=1, help="generator processes besides the probe one"
    )
    ap.add_argument(
        "--read-interval",
        type=float,
        default=0.05,
        help="seconds between batched reads of the non-probe connections (0: read at once)",
    )
    ap.add_argument("--server-cpu", type=int, default=0, help="core for every server process")
    ap.add_argument("--generator-cpu", type=int, default=1, help="core for the generator")
    ap.add_argument("--sockets", type=int, default=2, help="socket nodes of nodechat-split")
    ap.add_argument("--connect-round", type=int, default=200, help="clients connected per round")
    ap.add_argument(
        "--connect-concurrency", type=int, default=50, help="handshakes at once per worker"
    )
    ap.add_argument("--connect-timeout", type=float, default=60.0)
    ap.add_argument("--settle", type=float, default=2.0, help="idle seconds before RSS readings")
    ap.add_argument(
        "--quiet-below",
        type=float,
        default=10.0,
        help="before each target and step, wait until the machine's busy CPU is under this (%%)",
    )
    ap.add_argument(
        "--quiet-wait", type=float, default=120.0, help="at most this long (s) each time"
    )
    ap.add_argument("--keep-data", action="store_true", help="keep each target's logs and data")
    ap.add_argument("--json", action="store_true", help="JSON on stdout (the table on stderr)")
    args = ap.parse_args(argv)
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if any(t not in TARGETS for t in targets):
        ap.error(f"--targets: choose from {', '.join(TARGETS)}")
    args.steps = [int(float(s)) for s in args.steps.split(",") if s.strip()]
    if args.size < 32:
        ap.error("--size must be at least 32 (the body carries its send time)")
    if args.clients < args.probe_every or args.senders < 1:
        ap.error("need at least --probe-every clients and one sender")
    if shutil.which("taskset") is None:
        ap.error("taskset not found (util-linux)")
    os.sched_setaffinity(0, {args.generator_cpu})  # this process and what it forks
    env = serve_bench.environment()
    log(f"{env['cpu_model']} x{env['nproc']}, Python {env['python']}, commit {env['git_commit']}")
    results = []
    for name in targets:
        results.append(measure(name, args))
    report = {
        "environment": env,
        "config": {k: v for k, v in vars(args).items() if k != "json"} | {"targets": targets},
        "results": results,
    }
    text = table(results, args)
    if args.json:
        print(text, file=sys.stderr)
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(text)
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
