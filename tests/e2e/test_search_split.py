"""Search in a split deployment: socket nodes and the gateway reach the message role's
Search RPC over gRPC; the readable set is the message role's, whichever node asks."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from nodechat.client import RequestFailed
from tests.e2e.cluster import register, start_split


async def test_search_through_socket_nodes_and_the_gateway(tmp_path: Path, redis_url: str) -> None:
    cluster = start_split(tmp_path / "data", redis=redis_url)
    clients = []
    try:
        ann, _ = await register(cluster.socket("socket1"), "ann")
        bob, bob_tokens = await register(cluster.socket("socket2"), "bob")
        eve, _ = await register(cluster.socket("socket2"), "eve")
        clients += [ann, bob, eve]
        group = await ann.request("group.create", name="split")
        channel = group["channels"][0]["id"]
        invite = await ann.request("invite.create", group_id=group["id"])
        await bob.request("group.join", code=invite["code"])
        sent = await ann.request(
            "message.send", conversation=channel, body="lighthouse at dawn", nonce="1"
        )

        page = await bob.request("message.search", query="Lighthouse")
        assert [r["message"]["id"] for r in page["results"]] == [sent["id"]]
        assert (await eve.request("message.search", query="lighthouse"))["results"] == []
        with pytest.raises(RequestFailed) as hidden:
            await eve.request("message.search", query="lighthouse", conversation=channel)
        assert hidden.value.code == "conversation_not_found"

        url = f"{cluster.gateway}/api/v1/search?query=dawn"
        auth = {"Authorization": f"Bearer {bob_tokens['access_token']}"}
        async with aiohttp.ClientSession() as http, http.get(url, headers=auth) as reply:
            assert reply.status == 200
            found = await reply.json()
        assert [r["message"]["id"] for r in found["results"]] == [sent["id"]]
        assert found["results"][0]["highlights"] == [[14, 18]]
    finally:
        for client in clients:
            await client.close()
        cluster.stop()
