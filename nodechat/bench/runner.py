"""One ``nodechat bench`` run: server (optional), accounts, connections, load, check, report.

1. ``--serve``: start ``nodechat serve`` (nodechat.bench.server).
2. Accounts: from ``--accounts FILE``, or provisioned on the store with the
   deployment's key (nodechat.bench.provision, the code of ``nodechat admin
   bench-accounts``); connection ``c`` uses account ``c``.
3. Connect and authenticate every connection (spread round-robin over the
   URLs, and over the worker processes); the ready snapshots say which
   channels each connection is a member of.
4. The open-loop load: ``--rate`` messages/s in aggregate on a fixed
   timetable, each sender to its account's group channel, for ``--warmup``
   plus ``--duration`` seconds; CPU sampled over the measured window.
5. The check: every acked message must reach every member connection once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import resource
import secrets
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nodechat.bench import report
from nodechat.bench.cpu import CpuSample, usage
from nodechat.bench.display import Display
from nodechat.bench.pool import Pool
from nodechat.bench.provision import provision_locally
from nodechat.bench.server import OwnServer
from nodechat.config import Settings
from nodechat.errors import InvalidRequest, Unavailable
from nodechat.services.bench_accounts import BenchPlan

now = time.perf_counter
START_DELAY = 0.5  # seconds between the run command and the first scheduled send
CONNECT_CONCURRENCY = 64  # per worker
CONNECT_TIMEOUT = 30.0
SENDER_RATE = 100.0  # msg/s per sender by default: half a connection's request limit


@dataclass(frozen=True)
class BenchOptions:
    """What to run (the CLI's options, resolved)."""

    urls: tuple[str, ...]
    connections: int
    groups: int
    rate: float
    duration: float
    warmup: float
    size: int
    senders: int
    workers: int
    drain: float
    prefix: str
    serve: bool = False
    accounts_file: Path | None = None
    keep_data: bool = False
    settings: Settings | None = field(default=None, compare=False)  # to provision with


def default_groups(connections: int) -> int:
    """Groups of about 100 members."""
    return max(1, connections // 100)


def default_senders(connections: int, groups: int, rate: float) -> int:
    """Three per group, and enough that none sends more than ``SENDER_RATE``."""
    return max(1, min(connections, max(3 * groups, math.ceil(rate / SENDER_RATE))))


def raise_open_files() -> None:
    """Let this process and its children hold as many sockets as the hard limit allows."""
    with contextlib.suppress(ValueError, OSError):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def pick_senders(accounts: list[dict[str, Any]], count: int) -> set[int]:
    """``count`` connections spread over the groups: one from each group in turn."""
    by_group: dict[str, list[int]] = {}
    for i, account in enumerate(accounts):
        by_group.setdefault(account["group_id"], []).append(i)
    chosen: list[int] = []
    depth = 0
    while len(chosen) < count:
        row = [members[depth] for members in by_group.values() if depth < len(members)]
        if not row:
            break
        chosen.extend(row[: count - len(chosen)])
        depth += 1
    return set(chosen)


class Bench:
    """A run's state, so that ``stop`` can always clean up what was started."""

    def __init__(self, options: BenchOptions, display: Display) -> None:
        self.options = options
        self.display = display
        self.server: OwnServer | None = None
        self.pool: Pool | None = None

    def _wait_until(self, t: float) -> None:
        """Sleep until ``t`` (perf_counter), showing the workers' progress meanwhile."""
        assert self.pool is not None
        while (left := t - now()) > 0:
            self.pool.pump(self.display.update)
            time.sleep(min(0.05, left))

    def _accounts(self, settings: Settings | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        opts = self.options
        if opts.accounts_file is not None:
            data = json.loads(opts.accounts_file.read_text())
            accounts = data["accounts"]
            info: dict[str, Any] = {"source": str(opts.accounts_file), "seconds": 0.0}
        else:
            assert settings is not None
            self.display.phase("provisioning", f"{opts.connections} accounts, {opts.groups} groups")
            plan = BenchPlan(
                count=opts.connections,
                groups=opts.groups,
                prefix=opts.prefix,
                ttl=max(3600, int(opts.warmup + opts.duration) + 600),
            )
            t0 = now()
            made = asyncio.run(provision_locally(settings, plan))
            accounts = made.accounts
            info = {
                "source": settings.serve.store_url.split("://", 1)[0],
                "prefix": opts.prefix,
                "seconds": round(now() - t0, 3),
                "created_accounts": made.created_accounts,
                "created_groups": made.created_groups,
            }
        if len(accounts) < opts.connections:
            raise InvalidRequest(
                f"{len(accounts)} accounts for {opts.connections} connections; provision more",
                code="usage",
            )
        return accounts[: opts.connections], info

    def _connect(self, urls: tuple[str, ...], accounts: list[dict[str, Any]]) -> dict[str, Any]:
        opts, pool = self.options, self.pool
        assert pool is not None
        senders = pick_senders(accounts, opts.senders)
        run_id = secrets.token_hex(4)
        shares: list[list[tuple[int, str, str, str, bool]]] = [[] for _ in range(opts.workers)]
        for c, account in enumerate(accounts):
            shares[c % opts.workers].append(
                (
                    c,
                    urls[c % len(urls)],
                    account["access_token"],
                    account["channel_id"],
                    c in senders,
                )
            )
        self.display.expected = opts.connections
        self.display.phase("connecting", f"{opts.connections} connections to {len(urls)} URL(s)")
        pids = self._pids()
        before = CpuSample.take(pids)
        t0 = now()
        pool.send(
            [
                (
                    "connect",
                    {
                        "items": share,
                        "size": opts.size,
                        "run": run_id,
                        "timeout": CONNECT_TIMEOUT,
                        "concurrency": CONNECT_CONCURRENCY,
                    },
                )
                for share in shares
            ]
        )
        answers = pool.gather(120.0 + opts.connections * 0.05, self.display.update)
        seconds = now() - t0
        cpu = usage(before, CpuSample.take(pids))
        connected = sum(a["connected"] for a in answers)
        failed: Counter[str] = Counter()
        for answer in answers:
            failed.update(answer["failed"])
        if connected == 0:
            raise Unavailable(
                f"no connection could be opened and authenticated ({dict(failed)})",
                code="server_unreachable",
            )
        return {
            "connected": connected,
            "failed": dict(failed),
            "seconds": round(seconds, 3),
            "per_s": round(connected / seconds, 1) if seconds > 0 else None,
            "cpu": report.cpu_summary(cpu, opts.workers),
            "senders": [a["senders"] for a in answers],
        }

    def _pids(self) -> dict[str, int]:
        """The processes whose CPU is reported: workers, this one, and its own server."""
        assert self.pool is not None
        pids = {**self.pool.pids(), "parent": os.getpid()}
        if self.server is not None and self.server.pid is not None:
            pids["server"] = self.server.pid
        return pids

    def _load(self, senders: list[int]) -> tuple[list[Any], list[Any], dict[str, float | None]]:
        opts, pool = self.options, self.pool
        assert pool is not None
        total = sum(senders)
        if total == 0:
            raise Unavailable(
                "none of the sending connections is connected", code="server_unreachable"
            )
        t0 = now() + START_DELAY
        pool.send(
            [
                (
                    "run",
                    {
                        "t0": t0,
                        "warmup": opts.warmup,
                        "duration": opts.duration,
                        "rate": opts.rate * s / total,
                        "offset": w / opts.rate,
                        "drain": opts.drain,
                    },
                )
                for w, s in enumerate(senders)
            ]
        )
        self.display.phase("warm-up", f"{opts.rate:g} msg/s offered", opts.warmup + START_DELAY)
        start, end = t0 + opts.warmup, t0 + opts.warmup + opts.duration
        self._wait_until(start)
        pids = self._pids()
        a = CpuSample.take(pids)
        self.display.phase("measuring", f"{opts.rate:g} msg/s offered", opts.duration)
        self._wait_until(end)
        b = CpuSample.take(pids)
        self.display.phase("draining", "waiting for the last acks")
        runs = pool.gather(opts.drain + 60.0, self.display.update)
        self.display.phase("checking", "waiting for every delivery")
        pool.send(
            [("collect", {"acked": report.merge_acked(runs), "settle": opts.drain})] * len(senders)
        )
        collects = pool.gather(opts.drain + 60.0, self.display.update)
        return runs, collects, usage(a, b)

    def run(self) -> dict[str, Any]:
        """The whole run; the report."""
        opts = self.options
        raise_open_files()
        urls, settings = opts.urls, opts.settings
        if opts.serve:
            self.display.phase("starting nodechat serve")
            self.server = OwnServer(keep_data=opts.keep_data)
            urls = (self.server.start(),)
            settings = self.server.settings()
        accounts, provisioned = self._accounts(settings)
        self.pool = Pool(opts.workers)
        self.pool.ready()
        connect = self._connect(urls, accounts)
        runs, collects, cpu = self._load(connect.pop("senders"))
        config = {
            k: v
            for k, v in asdict(opts).items()
            if k not in ("settings", "accounts_file", "keep_data")
        }
        config["urls"] = list(urls)
        config["duration_s"] = config.pop("duration")
        config["warmup_s"] = config.pop("warmup")
        server = None
        if self.server is not None:
            server = {"command": " ".join(self.server.command), "pid": self.server.pid}
        return report.build(
            config=config,
            provision=provisioned,
            connect=connect,
            runs=runs,
            collects=collects,
            cpu=cpu,
            duration=opts.duration,
            server=server,
        )

    def stop(self) -> int | None:
        """Stop the workers and the server this run started; the server's exit code."""
        if self.pool is not None:
            self.pool.stop()
            self.pool = None
        if self.server is not None:
            code = self.server.stop()
            self.server = None
            return code
        return None
