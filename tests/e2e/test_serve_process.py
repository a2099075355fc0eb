"""The real ``nodechat serve`` process: start, health, chat, SIGTERM mid-traffic, restart."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodechat.client import ChatClient, RequestFailed

NODECHAT = [sys.executable, "-m", "nodechat"]


class Served:
    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self.proc = proc
        self.url = url

    @property
    def http(self) -> str:
        return self.url.replace("ws://", "http://").rstrip("/")


def start(data_dir: Path) -> Served:
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
            return Served(proc, match.group(1))
    raise AssertionError(f"serve exited early with {proc.wait()}")


def stop(served: Served) -> str:
    served.proc.send_signal(signal.SIGTERM)
    _, err = served.proc.communicate(timeout=20)
    assert served.proc.returncode == 0, err
    return err


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "data"


async def test_serve_lifecycle_and_clean_shutdown(data_dir: Path) -> None:
    served = start(data_dir)
    try:
        with urllib.request.urlopen(f"{served.http}/healthz", timeout=5) as response:
            assert response.status == 200
        key = data_dir / "keys" / "auth_ed25519.pem"
        assert key.stat().st_mode & 0o777 == 0o600

        client = await ChatClient.connect(served.url)
        tokens = await client.request(
            "auth.register", username="ann", email="ann@example.test", password="long password"
        )
        ready = await client.authenticate(tokens["access_token"])
        notes = f"self:{ready['user']['id']}"

        acked: list[int] = []
        refused = 0

        async def send(i: int) -> None:
            nonlocal refused
            try:
                ack = await client.request(
                    "message.send", conversation=notes, body=f"m{i}", nonce=f"n{i}"
                )
                acked.append(ack["seq"])
            except RequestFailed:
                refused += 1

        async def traffic() -> None:
            i = 0
            while True:
                await asyncio.gather(*(send(i + k) for k in range(10)))
                i += 10

        task = asyncio.create_task(traffic())
        await asyncio.sleep(0.5)
        served.proc.send_signal(signal.SIGTERM)  # stop while sends are in flight
        await asyncio.wait_for(client.ws.wait_closed(), 20)
        task.cancel()
        _, err = served.proc.communicate(timeout=20)
        assert served.proc.returncode == 0, err
        assert "stopped" in err and "Traceback" not in err
        assert acked, "no send was acknowledged before the stop"
        await client.close()
    finally:
        if served.proc.poll() is None:
            served.proc.kill()

    served = start(data_dir)  # same data dir: same keys, same data
    try:
        client = await ChatClient.connect(served.url)
        login = await client.request("auth.login", login="ann", password="long password")
        await client.authenticate(login["access_token"])
        seqs: list[int] = []
        before = None
        while True:
            page = await client.request(
                "message.history", conversation=notes, limit=100, before=before
            )
            seqs += [m["seq"] for m in page["messages"]]
            if not page["has_more"]:
                break
            before = page["messages"][-1]["seq"]
        # every acked message is stored; seqs are gap-free
        assert set(acked) <= set(seqs)
        assert sorted(seqs) == list(range(1, len(seqs) + 1))
        await client.close()
    finally:
        stop(served)


def test_help_lists_commands() -> None:
    out = subprocess.run([*NODECHAT, "--help"], capture_output=True, text=True, check=True)
    assert "serve" in out.stdout
    out = subprocess.run([*NODECHAT, "serve", "--help"], capture_output=True, text=True, check=True)
    for option in ("--host", "--port", "--data-dir", "--store"):
        assert option in out.stdout


def test_bad_store_url_is_a_clear_error(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            *NODECHAT,
            "serve",
            "--port",
            "0",
            "--api-port",
            "0",
            "--data-dir",
            str(tmp_path),
            "--store",
            "oracle://x",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2
    assert out.stderr.startswith("nodechat serve: --store 'oracle://x' is not a supported URL")
    assert len(out.stderr.splitlines()) == 1 and "Traceback" not in out.stderr


async def test_serve_killed_mid_traffic_keeps_every_acked_message(data_dir: Path) -> None:
    """SIGKILL (no shutdown at all) while sends are in flight: after a restart on the same
    data dir every acked message is stored, seqs are gap-free, and retrying every nonce
    that got no answer stores each of them once."""
    served = start(data_dir)
    acked: dict[str, int] = {}  # nonce -> seq
    tried: list[str] = []
    try:
        client = await ChatClient.connect(served.url)
        tokens = await client.request(
            "auth.register", username="ann", email="ann@example.test", password="long password"
        )
        ready = await client.authenticate(tokens["access_token"])
        notes = f"self:{ready['user']['id']}"

        async def send(nonce: str) -> None:
            tried.append(nonce)
            try:
                ack = await client.request(
                    "message.send", conversation=notes, body=nonce, nonce=nonce
                )
                acked[nonce] = ack["seq"]
            except (RequestFailed, ConnectionError, OSError):
                pass

        async def traffic() -> None:
            i = 0
            while True:
                await asyncio.gather(*(send(f"n{i + k}") for k in range(20)))
                i += 20

        task = asyncio.create_task(traffic())
        while len(acked) < 50:
            await asyncio.sleep(0.01)
        served.proc.kill()
        served.proc.wait(10)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await client.close()
    finally:
        if served.proc.poll() is None:
            served.proc.kill()

    served = start(data_dir)
    try:
        client = await ChatClient.connect(served.url)
        login = await client.request("auth.login", login="ann", password="long password")
        await client.authenticate(login["access_token"])
        for nonce in tried:  # the client retries whatever got no ack
            if nonce not in acked:
                ack = await client.request(
                    "message.send", conversation=notes, body=nonce, nonce=nonce
                )
                acked[nonce] = ack["seq"]
        stored: dict[int, str] = {}
        before = None
        while True:
            page = await client.request(
                "message.history", conversation=notes, limit=100, before=before
            )
            stored.update({m["seq"]: m["nonce"] for m in page["messages"]})
            if not page["has_more"]:
                break
            before = page["messages"][-1]["seq"]
        assert sorted(stored) == list(range(1, len(stored) + 1))  # gap-free
        assert sorted(stored.values()) == sorted(set(tried))  # each nonce once
        assert all(stored[seq] == nonce for nonce, seq in acked.items())  # acks held
        await client.close()
    finally:
        stop(served)
