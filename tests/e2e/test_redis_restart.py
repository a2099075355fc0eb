"""Redis dies and comes back: socket nodes report not-ready, resubscribe, and backfill from
the store, so clients see every message sent during the outage, once and in order."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from nodechat.client import ChatClient
from tests.e2e.cluster import start_split

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class PrivateRedis:
    """A redis-server of this test only, on its own port, that can be killed and restarted."""

    def __init__(self, workdir: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if not Path(REDIS_SERVER).exists():
        pytest.fail("redis-server is required (.ci/run installs Redis)")
    redis = PrivateRedis(tmp_path)
    redis.start()
    yield redis
    redis.kill()


async def ready_status(session: aiohttp.ClientSession, ws_url: str) -> int:
    async with session.get(ws_url.replace("ws://", "http://").rstrip("/") + "/readyz") as r:
        return r.status


async def wait_status(session: aiohttp.ClientSession, ws_url: str, status: int) -> None:
    for _ in range(300):
        if await ready_status(session, ws_url) == status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"/readyz never answered {status}")


async def test_redis_restart(tmp_path: Path, private_redis: PrivateRedis) -> None:
    cluster = start_split(tmp_path / "data", redis=private_redis.url)
    try:
        node_a, node_b = cluster.socket("socket1"), cluster.socket("socket2")
        ann = await ChatClient.connect(node_a)
        ann_tokens = await ann.request(
            "auth.register", username="ann", email="ann@example.test", password="long password"
        )
        await ann.authenticate(ann_tokens["access_token"])
        bob = await ChatClient.connect(node_b)
        bob_tokens = await bob.request(
            "auth.register", username="bob", email="bob@example.test", password="long password"
        )
        await bob.authenticate(bob_tokens["access_token"])
        dm = (await ann.request("dm.open", user_id=bob_tokens["user"]["id"]))["id"]
        await ann.request("message.send", conversation=dm, body="before", nonce="0")
        assert (await bob.next_event("message.created", timeout=10))["data"]["seq"] == 1

        async with aiohttp.ClientSession() as web:
            assert await ready_status(web, node_b) == 200
            private_redis.kill()
            await wait_status(web, node_b, 503)  # not ready while the bus is down
            for i in range(1, 6):  # stored and acked, but nobody can be told now
                ack = await ann.request(
                    "message.send", conversation=dm, body=f"dark{i}", nonce=f"d{i}"
                )
                assert ack["seq"] == i + 1
            private_redis.start()
            await wait_status(web, node_b, 200)

        seqs = []
        while len(seqs) < 5:  # the node backfills what it missed from the store
            event = await bob.next_event("message.created", timeout=15)
            seqs.append(event["data"]["seq"])
        assert seqs == [2, 3, 4, 5, 6]
        await ann.request("message.send", conversation=dm, body="after", nonce="7")
        event = await bob.next_event("message.created", timeout=10)
        assert event["data"]["seq"] == 7  # live again, nothing repeated
        await ann.close()
        await bob.close()
    finally:
        cluster.stop()
