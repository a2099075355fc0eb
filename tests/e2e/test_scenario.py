"""One chat scenario, run against ``serve`` and against the split deployment over Redis."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import aiohttp

from nodechat.client import ChatClient
from tests.e2e.conftest import Deployment


async def http(
    session: aiohttp.ClientSession, method: str, url: str, token: str | None = None, **body: Any
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with session.request(method, url, json=body or None, headers=headers) as response:
        data = await response.json()
        assert response.status < 300, (response.status, data)
        return data


async def next_from(client: ChatClient, kind: str, **match: Any) -> dict[str, Any]:
    while True:
        event = await client.next_event(kind, timeout=10)
        if all(event["data"].get(k) == v for k, v in match.items()):
            return event["data"]


async def test_chat_scenario(deployment: Deployment) -> None:
    api = f"{deployment.api}/api/v1"
    tag = secrets.token_hex(3)
    async with aiohttp.ClientSession() as web:
        ann_tokens = await http(
            web,
            "POST",
            f"{api}/auth/register",
            username=f"ann{tag}",
            email=f"ann{tag}@example.test",
            password="long password",
        )
        bob_tokens = await http(
            web,
            "POST",
            f"{api}/auth/register",
            username=f"bob{tag}",
            email=f"bob{tag}@example.test",
            password="long password",
        )
        ann_id, bob_id = ann_tokens["user"]["id"], bob_tokens["user"]["id"]

        ann = await ChatClient.connect(deployment.sockets[0])
        await ann.authenticate(ann_tokens["access_token"])
        bob = await ChatClient.connect(deployment.sockets[1])
        await bob.authenticate(bob_tokens["access_token"])

        group = await http(
            web, "POST", f"{api}/groups", ann_tokens["access_token"], name="Climbers"
        )
        channel = group["channels"][0]["id"]
        invite = await http(
            web, "POST", f"{api}/groups/{group['id']}/invites", ann_tokens["access_token"]
        )
        await bob.request("group.join", code=invite["code"])
        joined = await next_from(ann, "member.joined", user_id=bob_id)
        assert joined["group_id"] == group["id"]

        # a channel message crosses nodes; an HTTP send reaches WebSocket clients too
        ack = await ann.request(
            "message.send", conversation=channel, body="on the wall", nonce="a1"
        )
        got = await next_from(bob, "message.created", conversation=channel)
        assert (got["seq"], got["body"]) == (ack["seq"], "on the wall")
        sent = await http(
            web,
            "POST",
            f"{api}/conversations/{channel}/messages",
            bob_tokens["access_token"],
            body="belay on",
            nonce="b1",
        )
        got = await next_from(ann, "message.created", conversation=channel, seq=sent["seq"])
        assert got["body"] == "belay on" and got["author_id"] == bob_id

        # pipelined sends (no waiting for acks) keep their order across the deployment
        acks = await asyncio.gather(
            *(
                ann.request("message.send", conversation=channel, body=f"pitch {i}", nonce=f"p{i}")
                for i in range(40)
            )
        )
        assert [a["seq"] for a in acks] == list(range(sent["seq"] + 1, sent["seq"] + 41))
        seen = []
        while len(seen) < 40:
            got = await next_from(bob, "message.created", conversation=channel)
            if got["seq"] > sent["seq"]:  # bob's own HTTP send came to his socket too
                seen.append((got["seq"], got["body"]))
        assert seen == [(a["seq"], f"pitch {i}") for i, a in enumerate(acks)]

        # direct messages
        dm = await bob.request("dm.open", user_id=ann_id)
        await bob.request("message.send", conversation=dm["id"], body="psst", nonce="b2")
        got = await next_from(ann, "message.created", conversation=dm["id"])
        assert got["body"] == "psst"

        # typing crosses nodes
        await ann.request("typing", conversation=channel)
        assert (await next_from(bob, "typing", user_id=ann_id))["conversation"] == channel

        # presence: a new connection sees ann online; ann leaving is announced
        watcher = await ChatClient.connect(deployment.sockets[0])
        ready = await watcher.authenticate(bob_tokens["access_token"])
        assert ann_id in ready["online"]
        await ann.close()
        assert (await next_from(bob, "presence", user_id=ann_id))["status"] == "offline"

        history = await http(
            web,
            "GET",
            f"{api}/conversations/{channel}/messages?limit=50",
            bob_tokens["access_token"],
        )
        assert [m["body"] for m in history["messages"]][-2:] == ["belay on", "on the wall"]
        await bob.close()
        await watcher.close()
