"""Where a split connect's CPU goes: per process of the deployment, and Redis commands.

Runs ``benchmarks/compare.py --targets nodechat-split`` (every process of the
deployment pinned to one core, as there) and samples the CPU of each role
process and of the deployment's Redis from /proc between the moment the
gateway is up and the end of the connect phase, and Redis's ``INFO
commandstats`` over the same span:

    python benchmarks/split_connect_cpu.py [--clients 3000] [compare.py options]

Prints milliseconds of CPU per connection for each process (a socket node
serves half the clients, so its share of one connection is its figure
twice) and the Redis commands per connection (scripts count the commands
they run). Linux only.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

ROLES = ("auth", "group", "message", "socket", "gateway")
HERE = Path(__file__).resolve().parent


def deployment() -> dict[int, str]:
    """pid -> role (or ``redis``) of the processes of a compare.py split deployment."""
    found: dict[int, str] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        if len(argv) > 2 and argv[1].endswith("/nodechat") and argv[2] in ROLES:
            found[int(pid)] = argv[2]
        elif argv and argv[0].startswith("redis-server") and ":6379" not in argv[0]:
            found[int(pid)] = "redis"
    return found


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def redis_port(pid: int) -> int:
    title = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[0]
    return int(title.split()[-1].rsplit(":", 1)[1])  # "redis-server 127.0.0.1:PORT"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=3000)
    args, rest = ap.parse_known_args()
    with tempfile.TemporaryFile("w+") as log:
        compare = subprocess.Popen(
            [sys.executable, str(HERE / "compare.py"), "--targets", "nodechat-split",
             "--clients", str(args.clients), "--steps", "10000", "--step-duration", "2", *rest],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip

        def text() -> str:
            log.seek(0)
            return log.read()

        while "gateway" not in deployment().values():
            if compare.poll() is not None:
                sys.exit(text())
            time.sleep(0.2)
        procs = deployment()
        before = {pid: cpu_seconds(pid) for pid in procs}
        ports = [redis_port(pid) for pid, role in procs.items() if role == "redis"]
        client = redis.Redis(port=ports[0]) if ports else None

        def commands() -> dict[str, int]:
            if client is None:
                return {}
            return {k: v["calls"] for k, v in client.info("commandstats").items()}

        counted = commands()
        while "connected" not in text():
            if compare.poll() is not None:
                sys.exit(text())
            time.sleep(0.2)
        after = {pid: cpu_seconds(pid) for pid in procs}
        counted_after = commands()
        compare.wait()
        n = args.clients
        total = 0.0
        for pid, role in sorted(procs.items(), key=lambda item: item[1]):
            spent = after[pid] - before[pid]
            total += spent
            print(f"{role:8} {1000 * spent / n:6.2f} ms per connection")
        print(f"{'total':8} {1000 * total / n:6.2f} ms per connection")
        per = {
            k.removeprefix("cmdstat_"): round((v - counted.get(k, 0)) / n, 2)
            for k, v in counted_after.items()
            if v - counted.get(k, 0) >= n / 20
        }
        print("redis commands per connection:", dict(sorted(per.items())))
        print(next(line for line in text().splitlines() if "connected" in line))
    return compare.returncode


if __name__ == "__main__":
    sys.exit(main())
