"""Under load on two socket nodes, every member's live stream converges on every message
of the channel, each exactly once, without a later message to reveal a gap."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import aiohttp
import pytest

from nodechat.client import ChatClient
from tests.e2e.cluster import start_split
from tests.e2e.test_scenario import http

MEMBERS = 20
EACH = 25


@pytest.mark.timeout(300)
async def test_every_member_converges_on_every_message(tmp_path: Path, redis_url: str) -> None:
    cluster = start_split(tmp_path / "data", redis=redis_url)
    clients: list[ChatClient] = []
    try:
        api = f"{cluster.gateway}/api/v1"
        sockets = [cluster.socket("socket1"), cluster.socket("socket2")]
        tag = secrets.token_hex(3)
        async with aiohttp.ClientSession() as web:
            tokens = await asyncio.gather(
                *(
                    http(
                        web,
                        "POST",
                        f"{api}/auth/register",
                        username=f"m{i}x{tag}",
                        email=f"m{i}x{tag}@example.test",
                        password="long password",
                    )
                    for i in range(MEMBERS)
                )
            )
            owner = tokens[0]["access_token"]
            group = await http(web, "POST", f"{api}/groups", owner, name="Crowd")
            channel = group["channels"][0]["id"]
            invite = await http(
                web, "POST", f"{api}/groups/{group['id']}/invites", owner, max_uses=MEMBERS
            )
            for t in tokens[1:]:
                await http(
                    web, "POST", f"{api}/groups/join", t["access_token"], code=invite["code"]
                )
        for i, t in enumerate(tokens):
            client = await ChatClient.connect(sockets[i % 2])
            await client.authenticate(t["access_token"])
            clients.append(client)

        async def burst(i: int, client: ChatClient) -> None:
            await asyncio.gather(
                *(
                    client.request(
                        "message.send", conversation=channel, body=f"{i}.{k}", nonce=f"{i}.{k}"
                    )
                    for k in range(EACH)
                )
            )

        await asyncio.gather(*(burst(i, c) for i, c in enumerate(clients)))
        total = MEMBERS * EACH
        seen: list[list[int]] = [[] for _ in clients]

        def converged() -> bool:
            for i, client in enumerate(clients):
                seen[i] += [
                    e["data"]["seq"]
                    for e in client.drain_events()
                    if e.get("event") == "message.created" and e["data"]["conversation"] == channel
                ]
            return all(len(s) >= total for s in seen)

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60  # bounds a hang on a busy machine; it times nothing
        while not converged() and loop.time() < deadline:
            await asyncio.sleep(0.1)
        for i, s in enumerate(seen):
            missing = sorted(set(range(1, total + 1)) - set(s))
            assert not missing, f"member {i} never received seqs {missing[:10]}"
            assert s == list(range(1, total + 1)), f"member {i}: out of order or twice"
    finally:
        for client in clients:
            await client.close()
        cluster.stop()
