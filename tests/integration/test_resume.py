"""Delivery guarantees: resume after a dropped connection, exactly once and in order."""

from __future__ import annotations

import asyncio
from pathlib import Path

from nodechat.client import ChatClient
from nodechat.server.node import ChatNode
from tests.integration.conftest import Signup, connect, make_settings


async def collect_until(client: ChatClient, conversation: str, last: int) -> list[int]:
    seqs: list[int] = []
    while not seqs or seqs[-1] < last:
        ev = await client.next_event("message.created", timeout=10)
        if ev["data"]["conversation"] == conversation:
            seqs.append(ev["data"]["seq"])
    return seqs


async def test_resume_replays_what_was_missed(node: ChatNode, signup: Signup) -> None:
    ann = await signup("ann")
    bob = await signup("bob")
    dm = (await ann.client.request("dm.open", user_id=bob.id))["id"]
    for i in range(1, 4):
        await ann.client.request("message.send", conversation=dm, body=f"m{i}", nonce=f"a{i}")
    assert await collect_until(bob.client, dm, 3) == [1, 2, 3]

    bob.client.ws.transport.abort()  # the connection drops, no close handshake
    for i in range(4, 9):
        await ann.client.request("message.send", conversation=dm, body=f"m{i}", nonce=f"a{i}")

    client, ready = await connect(node, bob, resume={dm: 3})
    assert ready["resume"][dm] == {"replayed": 5, "last_seq": 8}
    assert await collect_until(client, dm, 8) == [4, 5, 6, 7, 8]
    await ann.client.request("message.send", conversation=dm, body="live", nonce="a9")
    assert await collect_until(client, dm, 9) == [9]
    await client.close()


async def test_resume_while_messages_keep_arriving(node: ChatNode, signup: Signup) -> None:
    ann = await signup("ann")
    bob = await signup("bob")
    group = await ann.client.request("group.create", name="busy")
    channel = group["channels"][0]["id"]
    invite = await ann.client.request("invite.create", group_id=group["id"])
    await bob.client.request("group.join", code=invite["code"])
    total = 120

    async def sender() -> None:
        for i in range(1, total + 1):
            await ann.client.request(
                "message.send", conversation=channel, body=f"m{i}", nonce=f"s{i}"
            )
            if i % 10 == 0:
                await asyncio.sleep(0)

    task = asyncio.create_task(sender())
    seen: list[int] = []
    while len(seen) < 30:
        ev = await bob.client.next_event("message.created", timeout=10)
        seen.append(ev["data"]["seq"])
    bob.client.ws.transport.abort()
    client, ready = await connect(node, bob, resume={channel: seen[-1]})
    assert ready["resume"][channel]["last_seq"] >= seen[-1]
    seen += await collect_until(client, channel, total)
    await task
    assert seen == list(range(1, total + 1))  # nothing lost, nothing twice, in order
    await client.close()


async def test_too_old_gap_is_reported(tmp_path: Path) -> None:
    server = ChatNode(make_settings(tmp_path / "d", replay_limit=5))
    await server.start()
    try:
        c = await ChatClient.connect(server.url)
        tokens = await c.request(
            "auth.register", username="solo", email="s@example.test", password="long enough pw"
        )
        ready = await c.authenticate(tokens["access_token"])
        notes = f"self:{ready['user']['id']}"
        for i in range(12):
            await c.request("message.send", conversation=notes, body=str(i), nonce=str(i))
        await c.close()
        c2 = await ChatClient.connect(server.url)
        ready = await c2.authenticate(tokens["access_token"], {notes: 2, "self:nobody": 1})
        assert ready["resume"][notes] == {"too_old": True, "last_seq": 12}
        assert ready["resume"]["self:nobody"] == {"not_found": True}
        page = await c2.request("message.history", conversation=notes, limit=100)
        assert len(page["messages"]) == 12  # the client reloads history instead
        await c2.close()
    finally:
        await server.stop()


async def test_other_sessions_receive_own_sends(node: ChatNode, signup: Signup) -> None:
    ann = await signup("ann")
    phone, _ = await connect(node, ann)
    await ann.client.request("message.send", conversation=ann.notes, body="to self", nonce="x")
    ev = await phone.next_event("message.created")
    assert ev["data"]["body"] == "to self" and ev["data"]["nonce"] == "x"
    await phone.close()


async def test_resume_claiming_the_future_hides_nothing(node: ChatNode, signup: Signup) -> None:
    ann = await signup("ann")
    await ann.client.request("message.send", conversation=ann.notes, body="one", nonce="1")
    client, ready = await connect(node, ann, resume={ann.notes: 50})
    assert ready["resume"][ann.notes] == {"replayed": 0, "last_seq": 1}
    await ann.client.request("message.send", conversation=ann.notes, body="two", nonce="2")
    ev = await client.next_event("message.created")
    assert ev["data"]["seq"] == 2
    await client.close()
