"""How soon calls to a split role succeed again after it comes back from an outage.

Starts `nodechat group` on a fixed local port (SQLite in a temporary dir, the
bus on Redis), calls it through the gRPC client every 50 ms, stops the role for
each outage length, starts it again on the same port, and reports the time
from the role's listen line to the first successful call. gRPC's default
reconnect backoff (1 s, x1.6 up to 120 s) made that 4-12 s; nodechat's
channel options cap it.

    python benchmarks/outage_recovery.py --outages 10,30 [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nodechat.config import RpcSettings
from nodechat.errors import ChatError
from nodechat.server.grpc import RemoteGroupService

NODECHAT = [str(Path(sys.executable).parent / "nodechat")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def start(port: int, env: dict[str, str]) -> tuple[subprocess.Popen[str], float]:
    """Start the role; return it and the time its listen line appeared."""
    proc = subprocess.Popen(
        [*NODECHAT, "group", "--listen", f"127.0.0.1:{port}", "--log-level", "warning"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if "listening on" in line:
            return proc, time.monotonic()
    raise RuntimeError("the group role did not start")


async def measure(outages: list[float], redis: str) -> list[dict[str, float]]:
    data = Path(tempfile.mkdtemp(prefix="nodechat-outage-"))
    token = secrets.token_urlsafe(32)
    env = {
        "NODECHAT_SERVICE_TOKEN": token,
        "NODECHAT_STORE": f"sqlite:///{data / 'nodechat.db'}",
        "NODECHAT_DATA_DIR": str(data),
        "NODECHAT_BUS": redis,
        "NODECHAT_BUS_PREFIX": f"outage{secrets.token_hex(3)}:",
    }
    port = free_port()
    proc, _ = start(port, env)
    client = RemoteGroupService(f"127.0.0.1:{port}", RpcSettings(service_token=token, retries=1))
    results = []
    try:
        await client.member_group_ids("u_probe")
        for outage in outages:
            proc.terminate()
            proc.wait(10)
            end = time.monotonic() + outage
            while time.monotonic() < end:  # callers keep trying through the outage
                with contextlib.suppress(ChatError):
                    await client.member_group_ids("u_probe")
                await asyncio.sleep(0.05)
            proc, listening = start(port, env)
            attempts = 0
            while True:
                attempts += 1
                try:
                    await client.member_group_ids("u_probe")
                    break
                except ChatError:
                    await asyncio.sleep(0.05)
            recovered = time.monotonic() - listening
            results.append({"outage_s": outage, "recovery_s": round(recovered, 3)})
            print(
                f"outage {outage:>5.1f} s -> calls succeed {recovered:.2f} s after the role "
                f"listens again ({attempts} attempts)",
                file=sys.stderr,
            )
    finally:
        await client.close()
        proc.terminate()
        proc.wait(10)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--outages", default="10,30", help="outage lengths in seconds")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = ap.parse_args()
    outages = [float(x) for x in args.outages.split(",")]
    print(json.dumps(asyncio.run(measure(outages, args.redis))))


if __name__ == "__main__":
    main()
