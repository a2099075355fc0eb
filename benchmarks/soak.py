"""A soak: one `nodechat serve` under steady chat load for a long time (default 30 min).

The load is `nodechat bench` run back to back in windows (default 60 s) against
the same server and the same accounts: every window connects every client
again (connection churn), offers an open-loop message rate to a few groups and
checks that every message reached every member once. Between windows the
server's RSS and open file descriptors are sampled. At the end it prints a row
per window and a verdict, and exits 1 if any message was lost or duplicated in
any window, or if the server's RSS at the end is more than 20 % (plus 16 MiB)
above what it was after the first two windows (the warm-up).

    python benchmarks/soak.py [--minutes 30] [--window 60] [--connections 200]
        [--groups 4] [--rate 50] [--json FILE]

Run it from outside the repository (e.g. /tmp) so the installed package is
the one measured.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

NODECHAT = [sys.executable, "-m", "nodechat"]
GROWTH_LIMIT = 1.20
GROWTH_SLACK_KIB = 16 * 1024


def start_serve(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [*NODECHAT, "serve", "--port", "0", "--api-port", "0", "--data-dir", str(data_dir)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        match = re.search(r"serving on (ws://\S+)", line)
        if match:
            return proc, match.group(1)
    raise SystemExit(f"serve exited early with {proc.wait()}")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def window(args: argparse.Namespace, url: str, accounts: Path) -> dict[str, Any]:
    out = subprocess.run(
        [
            *NODECHAT,
            "bench",
            "--url",
            url,
            "--accounts",
            str(accounts),
            "--connections",
            str(args.connections),
            "--groups",
            str(args.groups),
            "--rate",
            str(args.rate),
            "--duration",
            str(args.window),
            "--warmup",
            "1",
            "--drain",
            "10",
            "--workers",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
    )
    if out.returncode not in (0, 1):  # 1: lost or duplicated, reported in the JSON
        raise SystemExit(f"nodechat bench failed ({out.returncode}):\n{out.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(out.stdout)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--window", type=float, default=60.0, help="seconds per bench window")
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--groups", type=int, default=4)
    parser.add_argument("--rate", type=float, default=50.0, help="messages/s offered")
    parser.add_argument("--json", type=Path, help="write every window's figures here")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="nodechat-soak-")) / "data"
    proc, url = start_serve(data_dir)
    rows: list[dict[str, Any]] = []
    try:
        accounts = data_dir.parent / "accounts.json"
        subprocess.run(
            [
                *NODECHAT,
                "admin",
                "bench-accounts",
                "--count",
                str(args.connections),
                "--groups",
                str(args.groups),
                "--prefix",
                "soak",
                "--ttl",
                str(int(args.minutes * 60 + 3600)),
                "--out",
                str(accounts),
                "--data-dir",
                str(data_dir),
            ],
            check=True,
            capture_output=True,
        )
        started = time.monotonic()
        print(
            f"soak: {args.minutes:g} min, {args.connections} connections, {args.groups} groups, "
            f"{args.rate:g} msgs/s, windows of {args.window:g} s against {url}",
            file=sys.stderr,
        )
        print(
            "minute  rss_MiB  fds  server_cpu_%  deliveries/s  p50_ms  p99_ms  lost  dup  errors",
            file=sys.stderr,
        )
        while time.monotonic() - started < args.minutes * 60:
            cpu_before, t_before = cpu_s(proc.pid), time.monotonic()
            report = window(args, url, accounts)
            busy = (cpu_s(proc.pid) - cpu_before) / (time.monotonic() - t_before) * 100
            latency = report["latency_ms"]["send_to_deliver"]
            row = {
                "minute": round((time.monotonic() - started) / 60, 1),
                "rss_kib": rss_kib(proc.pid),
                "fds": open_fds(proc.pid),
                "server_cpu_pct": round(busy, 1),
                "deliveries_per_s": report["deliveries_per_s"],
                "p50_ms": latency["p50"],
                "p99_ms": latency["p99"],
                "lost": report["messages"]["lost"],
                "duplicated": report["messages"]["duplicated"],
                "errors": sum(report["errors"].values()),
                "valid": report["valid"],
            }
            rows.append(row)
            print(
                f"{row['minute']:6.1f}  {row['rss_kib'] / 1024:7.1f}  {row['fds']:3d}  "
                f"{row['server_cpu_pct']:12.1f}  {row['deliveries_per_s']:12.1f}  "
                f"{row['p50_ms'] or 0:6.1f}  {row['p99_ms'] or 0:6.1f}  {row['lost']:4d}  "
                f"{row['duplicated']:3d}  {row['errors']:6d}",
                file=sys.stderr,
            )
    finally:
        proc.terminate()
        proc.wait(30)

    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    lost = sum(r["lost"] for r in rows)
    duplicated = sum(r["duplicated"] for r in rows)
    warm = rows[min(1, len(rows) - 1)]["rss_kib"]
    end = rows[-1]["rss_kib"]
    grew = end > warm * GROWTH_LIMIT + GROWTH_SLACK_KIB
    print(
        f"\n{len(rows)} windows; lost {lost}, duplicated {duplicated}; RSS after warm-up "
        f"{warm / 1024:.1f} MiB, at the end {end / 1024:.1f} MiB "
        f"({'GREW beyond the bound' if grew else 'within the bound'}); p99 over windows "
        f"{min(r['p99_ms'] or 0 for r in rows):.1f}-{max(r['p99_ms'] or 0 for r in rows):.1f} ms",
        file=sys.stderr,
    )
    return 1 if lost or duplicated or grew else 0


if __name__ == "__main__":
    sys.exit(main())
