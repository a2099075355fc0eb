#!/usr/bin/env python3
"""Server memory per idle authenticated connection, and the connect rate.

Starts ``nodechat serve`` (defaults, SQLite, a fresh data dir, port 0),
registers one account, then opens ``--connections`` WebSocket connections
with its access token (``--concurrency`` handshakes at a time) and waits
until every one is authenticated and idle. It prints the server's RSS before
and after, the difference per connection, and how long connecting took.
The client runs in this process; the server is a separate process, so the
figure is the server's alone. With ``--trace`` the server runs in-process
under tracemalloc instead and the largest allocation sites per connection
are printed (where the bytes go).

    python benchmarks/connection_memory.py --connections 10000
    python benchmarks/connection_memory.py --connections 1000 --trace
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import websockets


def rss_kib(pid: int) -> int:
    """Resident set size of a process, KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def register(url: str) -> str:
    """One account; its access token."""
    async with websockets.connect(url) as ws:
        await ws.recv()
        data = {"username": "memprobe", "email": "memprobe@example.test", "password": "x" * 12}
        await ws.send(json.dumps({"id": 1, "op": "auth.register", "data": data}))
        return str(json.loads(await ws.recv())["data"]["access_token"])


async def connect_all(url: str, token: str, count: int, concurrency: int) -> list[Any]:
    """``count`` authenticated connections."""
    conns: list[Any] = []
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            ws = await websockets.connect(url, max_size=2**22, ping_interval=None)
            await ws.recv()  # hello
            await ws.send(
                json.dumps({"id": 1, "op": "auth.authenticate", "data": {"token": token}})
            )
            while json.loads(await ws.recv()).get("id") != 1:
                pass
            conns.append(ws)

    await asyncio.gather(*(one() for _ in range(count)))
    return conns


async def subprocess_run(args: argparse.Namespace) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NODECHAT_")}
    env["PYTHONUNBUFFERED"] = "1"
    data = tempfile.mkdtemp(prefix="nodechat-mem-")
    cmd = [sys.executable, "-m", "nodechat", "serve", "--port", "0", "--api-port", "0"]
    cmd += ["--data-dir", data, "--log-level", "warning"]
    server = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    try:
        assert server.stdout is not None
        port = None
        while port is None:
            line = server.stdout.readline()
            if not line:
                raise SystemExit("nodechat serve did not start")
            found = re.search(r"ws://127\.0\.0\.1:(\d+)/", line)
            port = int(found.group(1)) if found else None
        url = f"ws://127.0.0.1:{port}/"
        token = await register(url)
        await asyncio.sleep(1.0)
        before = rss_kib(server.pid)
        start = time.monotonic()
        conns = await connect_all(url, token, args.connections, args.concurrency)
        took = time.monotonic() - start
        await asyncio.sleep(2.0)  # idle: whatever a connect left behind is collected
        after = rss_kib(server.pid)
        result = {
            "connections": len(conns),
            "connect_seconds": round(took, 2),
            "connects_per_second": round(len(conns) / took),
            "rss_before_kib": before,
            "rss_after_kib": after,
            "kib_per_connection": round((after - before) / len(conns), 1),
        }
        print(json.dumps(result) if args.json else " ".join(f"{k}={v}" for k, v in result.items()))
        for ws in conns:
            ws.transport.abort()
    finally:
        server.terminate()
        server.wait(10)


async def traced_run(args: argparse.Namespace) -> None:
    from nodechat.config import load_settings
    from nodechat.server.node import ChatNode

    overrides = {
        "serve": {
            "host": "127.0.0.1",
            "port": 0,
            "api_port": 0,
            "data_dir": Path(tempfile.mkdtemp()),
        }
    }
    node = ChatNode(load_settings(env={}, overrides=overrides))
    await node.start()
    try:
        token = await register(node.url)
        tracemalloc.start(6)
        first = tracemalloc.take_snapshot()
        # the clients run in a child process so that only the server is traced
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--client-only",
            node.url,
            token,
            str(args.connections),
            stdout=asyncio.subprocess.PIPE,
        )
        assert child.stdout is not None
        await child.stdout.readline()  # "ready"
        await asyncio.sleep(2.0)
        diff = tracemalloc.take_snapshot().compare_to(first, "traceback")
        n = args.connections
        print(f"traced: {sum(d.size_diff for d in diff) / n:.0f} bytes per connection")
        for d in diff[:15]:
            where = [f for f in d.traceback.format() if f.startswith("  File")][-2:]
            print(
                f"{d.size_diff / n:7.0f} B  " + " <- ".join(w.strip()[5:] for w in reversed(where))
            )
        child.kill()
    finally:
        await node.stop()


async def client_only(url: str, token: str, count: int) -> None:
    await connect_all(url, token, count, 50)
    print("ready", flush=True)
    await asyncio.sleep(3600)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--client-only":
        asyncio.run(client_only(sys.argv[2], sys.argv[3], int(sys.argv[4])))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50, help="handshakes at once")
    parser.add_argument("--trace", action="store_true", help="in-process, with tracemalloc")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    asyncio.run(traced_run(args) if args.trace else subprocess_run(args))


if __name__ == "__main__":
    main()
