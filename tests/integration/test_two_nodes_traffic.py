"""Two socket nodes over Redis: each subscribes only to the groups that have a session
on it, so a group's traffic reaches only the nodes that serve one of its members."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from redis.asyncio import Redis

from nodechat.client import ChatClient
from nodechat.config import load_settings
from nodechat.server.node import ChatNode

pytestmark = pytest.mark.timeout(60)


def _node(data_dir: Path, redis_url: str, prefix: str) -> ChatNode:
    return ChatNode(
        load_settings(
            env={},
            overrides={
                "serve": {
                    "host": "127.0.0.1",
                    "port": 0,
                    "api_port": 0,
                    "data_dir": data_dir,
                    "bus": redis_url,
                },
                "node": {"bus_prefix": prefix},
            },
        )
    )


async def _account(node: ChatNode, name: str) -> tuple[ChatClient, str]:
    client = await ChatClient.connect(node.url)
    tokens = await client.request(
        "auth.register", username=name, email=f"{name}@example.test", password="long password"
    )
    await client.authenticate(tokens["access_token"])
    return client, tokens["access_token"]


async def _subscribers(redis: Redis, prefix: str, group_id: str, expected: int) -> int:
    """How many nodes subscribe to a group's channel, once it is ``expected`` (nodes
    subscribe when the membership event arrives, just after the reply), or after 5 s."""
    for _ in range(500):
        (_, count), *_ = await redis.pubsub_numsub(f"{prefix}group:{group_id}")
        if int(count) == expected:
            break
        await asyncio.sleep(0.01)
    return int(count)


async def test_a_group_s_traffic_reaches_only_nodes_with_one_of_its_sessions(
    tmp_path: Path, redis_url: str, redis_prefix: str, redis_admin: Redis
) -> None:
    one, two = _node(tmp_path, redis_url, redis_prefix), _node(tmp_path, redis_url, redis_prefix)
    await one.start()
    await two.start()
    try:
        ann, _ = await _account(one, "ann")
        bob, bob_token = await _account(two, "bob")
        here = await ann.request("group.create", name="Only on one")
        there = await bob.request("group.create", name="Only on two")
        assert await _subscribers(redis_admin, redis_prefix, here["id"], 1) == 1
        assert await _subscribers(redis_admin, redis_prefix, there["id"], 1) == 1
        delivered = two.endpoint.hub.delivered
        channel = here["channels"][0]["id"]
        for i in range(5):
            await ann.request("message.send", conversation=channel, body=f"m{i}", nonce=f"n{i}")
        await ann.next_event("message.created")
        await bob.request(
            "message.send",
            conversation=f"self:{(await bob.request('user.get'))['id']}",
            body="sync",
            nonce="s",
        )
        await bob.next_event("message.created")  # everything published before came in
        assert two.endpoint.hub.delivered == delivered + 1  # bob's own note, nothing of ann's

        invite = await ann.request("invite.create", group_id=here["id"])
        await bob.request("group.join", code=invite["code"])  # now node two serves a member
        assert await _subscribers(redis_admin, redis_prefix, here["id"], 2) == 2
        await ann.request("message.send", conversation=channel, body="hi bob", nonce="n9")
        got = await bob.next_event("message.created")
        while got["data"]["conversation"] != channel:
            got = await bob.next_event("message.created")
        assert got["data"]["body"] == "hi bob"
        await bob.close()
        await ann.close()
    finally:
        await two.stop()
        await one.stop()
