"""Reactions in a split deployment: socket nodes reach the message role over gRPC, and the
event crosses nodes through Redis."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest

from nodechat.client import RequestFailed
from tests.e2e.cluster import register, start_split


async def test_reactions_across_socket_nodes_and_the_gateway(
    tmp_path: Path, redis_url: str
) -> None:
    cluster = start_split(tmp_path / "data", redis=redis_url)
    clients = []
    try:
        ann, ann_tokens = await register(cluster.socket("socket1"), "ann")
        bob, _ = await register(cluster.socket("socket2"), "bob")
        outsider, _ = await register(cluster.socket("socket2"), "eve")
        clients += [ann, bob, outsider]
        group = await ann.request("group.create", name="split")
        channel = group["channels"][0]["id"]
        invite = await ann.request("invite.create", group_id=group["id"])
        await bob.request("group.join", code=invite["code"])
        sent = await ann.request("message.send", conversation=channel, body="hi", nonce="1")

        await bob.request("message.react", message_id=sent["id"], emoji="👋")
        event = await ann.next_event("message.reaction", timeout=20)  # from the other node
        assert (event["data"]["emoji"], event["data"]["count"], event["data"]["added"]) == (
            "👋",
            1,
            True,
        )
        with pytest.raises(RequestFailed) as hidden:
            await outsider.request("message.react", message_id=sent["id"], emoji="👋")
        assert hidden.value.code == "message_not_found"

        url = f"{cluster.gateway}/api/v1/messages/{sent['id']}/reactions/{quote('🎉', safe='')}"
        auth = {"Authorization": f"Bearer {ann_tokens['access_token']}"}
        async with aiohttp.ClientSession() as http, http.put(url, headers=auth) as reply:
            assert reply.status == 200 and (await reply.json())["me"] is True
        page = await bob.request("message.history", conversation=channel)
        assert page["messages"][0]["reactions"] == [
            {"emoji": "👋", "count": 1, "me": True},
            {"emoji": "🎉", "count": 1, "me": False},
        ]
    finally:
        for client in clients:
            await client.close()
        cluster.stop()
