"""Deployments as real processes: ``serve`` alone, and the split roles over Redis."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.cluster import Proc, spawn, start_split

REDIS_URL = os.environ.get("NODECHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_available() -> bool:
    try:
        out = subprocess.run(
            ["redis-cli", "-u", REDIS_URL, "ping"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.stdout.strip() == "PONG"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The real Redis; missing Redis fails the run in CI and skips locally."""
    if not _redis_available():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"Redis is required in CI and is not answering at {REDIS_URL}")
        pytest.skip(f"no Redis at {REDIS_URL}")
    return REDIS_URL


@dataclass
class Deployment:
    """Where clients connect: socket node URLs (two, possibly the same) and the HTTP API."""

    kind: str
    sockets: list[str]
    api: str
    procs: dict[str, Proc]


def start_serve(
    data_dir: Path, extra: list[str] | None = None, env: dict[str, str] | None = None
) -> tuple[Proc, str]:
    """``nodechat serve`` on free ports; returns the process and its API URL."""
    proc = spawn(
        "serve",
        ["serve", "--port", "0", "--api-port", "0", "--data-dir", str(data_dir), *(extra or [])],
        env or {},
    )
    api = next(
        (line.split("gateway on ")[1].split()[0] for line in _wait_lines(proc, "gateway on")), ""
    )
    return proc, api.rstrip("/")


def _wait_lines(proc: Proc, needle: str, timeout: float = 20.0) -> list[str]:
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = [line for line in list(proc.log) if needle in line]
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{proc.name} never printed {needle!r}:\n{''.join(proc.log)}")


@pytest.fixture(params=["serve", "split"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    if request.param == "serve":
        proc, api = start_serve(tmp_path / "data")
        try:
            yield Deployment("serve", [proc.address, proc.address], api, {"serve": proc})
        finally:
            assert proc.terminate() == 0
        return
    redis = request.getfixturevalue("redis_url")
    cluster = start_split(tmp_path / "data", redis=redis)
    try:
        yield Deployment(
            "split",
            [cluster.socket("socket1"), cluster.socket("socket2")],
            cluster.gateway,
            cluster.procs,
        )
    finally:
        cluster.stop()


@pytest.fixture
def bus_prefix() -> str:
    return f"e2e{secrets.token_hex(4)}:"
