"""Redis dies and comes back: socket nodes report not-ready, resubscribe, and backfill from
the store, so clients see every message sent during the outage, once and in order."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from nodechat.client import ChatClient
from tests.e2e.cluster import start_split
from tests.redis_server import PrivateRedis


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
