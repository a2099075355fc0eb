"""Presence reaches exactly the sessions that show the user: direct-message peers
(from the start, or once the DM is opened) and sessions that subscribed."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from nodechat.client import ChatClient, RequestFailed
from nodechat.protocol.presence import MAX_WATCHED
from nodechat.server.node import ChatNode
from tests.integration.conftest import Signup, connect
from tests.integration.test_chat_flow import make_group

_nonces = itertools.count()


async def heard(client: ChatClient, notes: str, user_id: str) -> list[str]:
    """The statuses of ``user_id`` this client is sent up to now: everything published
    before a round trip through the bus (its own notes-to-self message) comes first."""
    nonce = f"sync-{next(_nonces)}"
    await client.request("message.send", conversation=notes, body="sync", nonce=nonce)
    statuses = []
    while True:
        event = await client.next_event(timeout=10)
        data = event["data"]
        if event["event"] == "presence" and data["user_id"] == user_id:
            statuses.append(data["status"])
        elif event["event"] == "message.created" and data.get("nonce") == nonce:
            return statuses


async def test_presence_reaches_exactly_the_sessions_that_show_the_user(
    node: ChatNode, signup: Signup
) -> None:
    ann, bob, group, _ = await make_group(signup)  # ann owns the group, bob is a member
    carol, dave, eve = await signup("carol"), await signup("dave"), await signup("eve")
    for member in (carol, dave):
        invite = await ann.client.request("invite.create", group_id=group["id"])
        await member.client.request("group.join", code=invite["code"])
    await dave.client.request("dm.open", user_id=ann.id)  # dave: a DM peer, opened live
    await eve.client.request("dm.open", user_id=ann.id)
    eve_again, ready = await connect(node, eve)  # eve: a DM peer from the snapshot
    assert [u["id"] for u in ready["users"]] == [ann.id] and ann.id in ready["online"]
    assert await bob.client.request("presence.subscribe", user_ids=[ann.id]) == {
        "presence": {ann.id: "online"}
    }
    watchers = {
        "bob": (bob.client, bob.notes),
        "carol": (carol.client, carol.notes),  # shares the group, did not ask
        "dave": (dave.client, dave.notes),
        "eve": (eve_again, eve.notes),
    }
    for client, notes in watchers.values():
        await heard(client, notes, ann.id)

    await ann.client.close()
    await _until_published(node, ann.id, "offline")
    got = {name: await heard(c, notes, ann.id) for name, (c, notes) in watchers.items()}
    assert got == {"bob": ["offline"], "carol": [], "dave": ["offline"], "eve": ["offline"]}

    assert await bob.client.request("presence.unsubscribe") == {"subscribed": 0}
    again, _ = await connect(node, ann)
    await _until_published(node, ann.id, "online")
    assert await heard(bob.client, bob.notes, ann.id) == []
    assert await heard(dave.client, dave.notes, ann.id) == ["online"]
    await again.close()
    await eve_again.close()


async def _until_published(node: ChatNode, user_id: str, status: str) -> None:
    """Wait until the node counted ``user_id`` as ``status``, then publish the change now
    instead of at the end of its coalescing window."""
    for _ in range(500):
        if (await node.endpoint.hub.online([user_id]) == [user_id]) == (status == "online"):
            break
        await asyncio.sleep(0.01)
    await asyncio.wait_for(node.endpoint.hub.presence.flush(), 5)


async def test_subscriptions_are_bounded_per_session(signup: Signup) -> None:
    ann = await signup("ann")
    await ann.client.request("presence.subscribe", user_ids=[f"u_{i}" for i in range(1000)])
    with pytest.raises(RequestFailed) as err:
        await ann.client.request("presence.subscribe", user_ids=["u_one_more"])
    assert err.value.code == "too_many_subscriptions"
    assert MAX_WATCHED == 1000
    left = await ann.client.request("presence.unsubscribe", user_ids=["u_0", "u_1"])
    assert left == {"subscribed": 998}
