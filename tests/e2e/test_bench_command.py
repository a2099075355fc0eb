"""``nodechat bench`` as a real process: against a ``serve`` of its own, against a running
one with accounts from ``nodechat admin bench-accounts``, and against nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.e2e.test_serve_process import start, stop

NODECHAT = [sys.executable, "-m", "nodechat"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """``nodechat *args``, without the caller's NODECHAT_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NODECHAT_")}
    return subprocess.run([*NODECHAT, *args], capture_output=True, text=True, env=env, timeout=300)


def bench_json(*args: str) -> dict[str, Any]:
    done = run("bench", *args, "--json")
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    assert "run: " in done.stderr  # the summary goes to stderr with --json
    return report


def test_a_run_on_its_own_serve_delivers_every_message_to_every_member() -> None:
    report = bench_json("--serve", "--connections", "20", "--rate", "20", "--duration", "2")
    msg = report["messages"]
    assert report["connect"]["connected"] == 20 and report["connect"]["failed"] == {}
    assert msg["sent"] > 0 and msg["acked"] == msg["sent"] and msg["unacked"] == 0
    assert report["config"]["groups"] == 1  # so every connection is a member of every channel
    assert msg["expected_deliveries"] == msg["acked"] * 20
    assert msg["deliveries"] == msg["expected_deliveries"]
    assert (msg["lost"], msg["duplicated"], msg["duplicate_acks"]) == (0, 0, 0)
    assert report["errors"] == {} and report["closed_connections"] == {}
    assert report["passed"] is True and isinstance(report["valid"], bool)
    assert report["latency_ms"]["send_to_ack"]["count"] > 0
    assert report["latency_ms"]["send_to_deliver"]["count"] > 0
    assert report["cpu"]["server_pct"] is not None and report["cpu"]["generator_workers_pct"]
    assert report["server"]["exit_code"] == 0


def test_a_running_deployment_with_accounts_from_bench_accounts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    served = start(data)
    try:
        accounts = tmp_path / "accounts.json"
        made = run(
            "admin", "bench-accounts", "--count", "12", "--groups", "2", "--prefix", "t",
            "--data-dir", str(data), "--out", str(accounts),
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        report = bench_json(
            "--url", served.url, "--accounts", str(accounts), "--connections", "12",
            "--groups", "2", "--rate", "10", "--duration", "1", "--warmup", "0.5",
            "--workers", "2",
        )  # fmt: skip
        again = bench_json(
            "--url", served.url, "--data-dir", str(data), "--connections", "12",
            "--groups", "2", "--rate", "10", "--duration", "1", "--warmup", "0",
        )  # fmt: skip
    finally:
        stop(served)
    for done in (report, again):
        msg = done["messages"]
        assert msg["acked"] == msg["sent"] > 0 and msg["unacked"] == 0
        # connections c % 2 == j are in group j, and account 0 (the owner) is in both:
        # each message has 6 or 7 member connections
        assert 6 * msg["acked"] <= msg["expected_deliveries"] <= 7 * msg["acked"]
        assert msg["deliveries"] == msg["expected_deliveries"]
        assert (msg["lost"], msg["duplicated"]) == (0, 0)
        assert done["cpu"]["server_pct"] is None  # not its own server
    assert report["config"]["workers"] == 2
    assert again["provision"]["created_accounts"] == 12  # prefix bench2, not t


def test_an_unreachable_server_exits_3(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.json"
    account = {"user_id": "u_x", "username": "x", "group_id": "g_x", "channel_id": "ch_x"}
    accounts.write_text(json.dumps({"groups": [], "accounts": [{**account, "access_token": "t"}]}))
    done = run(
        "bench", "--url", "ws://127.0.0.1:1/", "--accounts", str(accounts),
        "--connections", "1", "--duration", "1",
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert "error: server_unreachable:" in done.stderr
    assert done.stdout == ""


def test_usage_errors_exit_2() -> None:
    for args in (
        ["--serve", "--url", "ws://127.0.0.1:1/"],
        ["--url", "http://127.0.0.1:1/"],
        ["--connections", "2", "--groups", "3"],
    ):
        done = run("bench", *args)
        assert done.returncode == 2, (args, done.stderr)
