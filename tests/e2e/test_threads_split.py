"""Threads in a split deployment: socket nodes reach the message role over gRPC, the
thread's events cross nodes through Redis, and the gateway serves thread ids."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest

from nodechat.client import RequestFailed
from tests.e2e.cluster import register, start_split


async def test_thread_replies_across_socket_nodes_and_the_gateway(
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
        root = await ann.request("message.send", conversation=channel, body="hi", nonce="1")
        thread = f"thread:{root['id']}"

        reply = await bob.request("message.send", conversation=thread, body="yo", nonce="2")
        created = await ann.next_event("message.created", timeout=20)  # from the other node
        while created["data"]["conversation"] != thread:
            created = await ann.next_event("message.created", timeout=20)
        assert created["data"]["id"] == reply["id"]
        summary = await ann.next_event("message.thread", timeout=20)
        assert summary["data"]["message_id"] == root["id"]
        assert summary["data"]["thread"]["count"] == 1
        with pytest.raises(RequestFailed) as hidden:
            await outsider.request("message.history", conversation=thread)
        assert hidden.value.code == "conversation_not_found"

        url = f"{cluster.gateway}/api/v1/conversations/{quote(thread, safe='')}/messages"
        auth = {"Authorization": f"Bearer {ann_tokens['access_token']}"}
        async with aiohttp.ClientSession() as http, http.get(url, headers=auth) as answer:
            assert answer.status == 200
            assert [m["body"] for m in (await answer.json())["messages"]] == ["yo"]
        page = await bob.request("message.history", conversation=channel)
        assert page["messages"][0]["thread"]["count"] == 1
    finally:
        for client in clients:
            await client.close()
        cluster.stop()
