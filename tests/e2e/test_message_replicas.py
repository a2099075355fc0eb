"""Two message-role replicas on one PostgreSQL database, written to at once through two
socket nodes: seqs stay gap-free and unique, every ack is the stored message, and a nonce
sent to both replicas at once is stored once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nodechat.client import ChatClient
from tests.e2e.cluster import start_split
from tests.postgres_databases import create_database, drop_database

SENDERS = 8
MESSAGES = 50
PASSWORD = "long password"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database for the whole cluster; dropped afterwards."""
    url = create_database()
    yield url
    drop_database(url)


async def connect(url: str, name: str, *, register: bool) -> tuple[ChatClient, dict[str, Any]]:
    client = await ChatClient.connect(url)
    if register:
        tokens = await client.request(
            "auth.register", username=name, email=f"{name}@example.test", password=PASSWORD
        )
    else:
        tokens = await client.request("auth.login", login=name, password=PASSWORD)
    await client.authenticate(tokens["access_token"])
    return client, tokens


async def history(client: ChatClient, conversation: str) -> dict[int, dict[str, Any]]:
    stored: dict[int, dict[str, Any]] = {}
    after = 0
    while True:
        page = await client.request(
            "message.history", conversation=conversation, after=after, limit=100
        )
        for message in page["messages"]:
            assert message["seq"] not in stored, "a seq stored twice"
            stored[message["seq"]] = message
        if not page["has_more"]:
            return stored
        after = page["messages"][-1]["seq"]


async def test_two_replicas_write_one_channel_at_once(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    cluster = start_split(
        tmp_path / "data", redis=redis_url, store=postgres_url, message_replicas=2
    )
    clients: list[ChatClient] = []
    try:
        # socket1 -> replica "message", socket2 -> replica "message2"
        nodes = [cluster.socket("socket1"), cluster.socket("socket2")]
        owner, _ = await connect(nodes[0], "owner", register=True)
        clients.append(owner)
        group = await owner.request("group.create", name="replicas")
        channel = group["channels"][0]["id"]
        invite = await owner.request("invite.create", group_id=group["id"])
        senders: list[tuple[str, ChatClient, ChatClient]] = []
        for i in range(SENDERS):
            name = f"sender{i}"
            home, _ = await connect(nodes[i % 2], name, register=True)
            await home.request("group.join", code=invite["code"])
            away, _ = await connect(nodes[(i + 1) % 2], name, register=False)
            clients += [home, away]
            senders.append((name, home, away))

        async def send(name: str, home: ChatClient, away: ChatClient) -> list[dict[str, Any]]:
            """All messages at once; every fifth also through the other replica, same nonce."""
            requests = []
            for k in range(MESSAGES):
                fields = {
                    "conversation": channel,
                    "body": f"{name} says {k}",
                    "nonce": f"{name}-{k}",
                }
                requests.append(home.request("message.send", **fields))
                if k % 5 == 0:
                    requests.append(away.request("message.send", **fields))
            return list(await asyncio.gather(*requests))

        results = await asyncio.gather(*(send(*sender) for sender in senders))
        acks = [ack for result in results for ack in result]
        bodies: dict[str, str] = {}  # message id -> the body its sender sent
        for (name, _, _), result in zip(senders, results, strict=True):
            sent = [
                f"{name} says {k}" for k in range(MESSAGES) for _ in range(2 if k % 5 == 0 else 1)
            ]
            for body, ack in zip(sent, result, strict=True):
                assert bodies.setdefault(ack["id"], body) == body

        total = SENDERS * MESSAGES
        created = [ack for ack in acks if not ack["duplicate"]]
        assert len(created) == total, "a nonce stored twice, or a send lost"
        assert sorted(ack["seq"] for ack in created) == list(range(1, total + 1))
        by_id = {ack["id"]: ack["seq"] for ack in created}
        assert all(by_id[ack["id"]] == ack["seq"] for ack in acks), "a repeat got another seq"

        stored = await history(owner, channel)
        assert sorted(stored) == list(range(1, total + 1)), "a gap or an extra message"
        assert {m["id"]: (m["seq"], m["body"]) for m in stored.values()} == {
            message_id: (by_id[message_id], body) for message_id, body in bodies.items()
        }
    finally:
        for client in clients:
            await client.close()
        cluster.stop()
