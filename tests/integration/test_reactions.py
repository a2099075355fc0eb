"""Reactions over real WebSockets against a real serve node."""

from __future__ import annotations

import pytest

from nodechat.client import ChatClient, RequestFailed
from nodechat.services.reactions import MAX_REACTIONS
from tests.integration.conftest import Signup


async def _refused(client: ChatClient, code: str, op: str, **data: object) -> None:
    with pytest.raises(RequestFailed) as err:
        await client.request(op, **data)
    assert err.value.code == code, err.value


async def test_two_members_react_and_everyone_sees_it(signup: Signup) -> None:
    ann, bob, carol, dave = [await signup(n) for n in ("ann", "bob", "carol", "dave")]
    group = await ann.client.request("group.create", name="Lunch")
    channel = group["channels"][0]["id"]
    invite = await ann.client.request("invite.create", group_id=group["id"], max_uses=5)
    for member in (bob, dave):
        await member.client.request("group.join", code=invite["code"])
    sent = await ann.client.request("message.send", conversation=channel, body="pizza?", nonce="1")
    mid = sent["id"]
    created = await bob.client.next_event("message.created")
    assert created["data"]["reactions"] == []  # a new message has none yet

    reply = await bob.client.request("message.react", message_id=mid, emoji="🍕")
    assert (reply["count"], reply["me"], reply["changed"]) == (1, True, True)
    await ann.client.request("message.react", message_id=mid, emoji="🍕")
    await ann.client.request("message.react", message_id=mid, emoji=":+1:")
    for client in (ann.client, bob.client):
        seen = [(await client.next_event("message.reaction"))["data"] for _ in range(3)]
        assert [(d["user_id"], d["emoji"], d["count"], d["added"]) for d in seen] == [
            (bob.id, "🍕", 1, True),
            (ann.id, "🍕", 2, True),
            (ann.id, ":+1:", 1, True),
        ]
        assert {d["message_id"] for d in seen} == {mid}
    repeat = await bob.client.request("message.react", message_id=mid, emoji="🍕")
    assert (repeat["count"], repeat["changed"]) == (2, False)

    ann_view = (await ann.client.request("message.history", conversation=channel))["messages"]
    bob_view = (await bob.client.request("message.history", conversation=channel))["messages"]
    assert ann_view[0]["reactions"] == [
        {"emoji": "🍕", "count": 2, "me": True},
        {"emoji": ":+1:", "count": 1, "me": True},
    ]
    assert bob_view[0]["reactions"] == [
        {"emoji": "🍕", "count": 2, "me": True},
        {"emoji": ":+1:", "count": 1, "me": False},
    ]

    taken_back = await bob.client.request("message.unreact", message_id=mid, emoji="🍕")
    assert (taken_back["count"], taken_back["me"], taken_back["changed"]) == (1, False, True)
    event = await ann.client.next_event("message.reaction")
    assert (event["data"]["user_id"], event["data"]["count"], event["data"]["added"]) == (
        bob.id,
        1,
        False,
    )
    absent = await bob.client.request("message.unreact", message_id=mid, emoji="🍕")
    assert absent["changed"] is False

    for bad in ("", "pizza", "🍕 🍕", ":two words:"):
        await _refused(bob.client, "invalid_emoji", "message.react", message_id=mid, emoji=bad)
    for i in range(MAX_REACTIONS - 2):
        await bob.client.request("message.react", message_id=mid, emoji=f":e{i}:")
    await _refused(
        bob.client, "too_many_reactions", "message.react", message_id=mid, emoji=":extra:"
    )

    await _refused(carol.client, "message_not_found", "message.react", message_id=mid, emoji="🍕")
    await dave.client.request("message.react", message_id=mid, emoji="🍕")
    await ann.client.request("member.kick", group_id=group["id"], user_id=dave.id)
    await _refused(dave.client, "message_not_found", "message.react", message_id=mid, emoji="🍕")
    await _refused(dave.client, "message_not_found", "message.unreact", message_id=mid, emoji="🍕")

    await ann.client.request("message.delete", message_id=mid)
    await _refused(bob.client, "message_deleted", "message.react", message_id=mid, emoji="🍕")
    page = await bob.client.request("message.history", conversation=channel)
    assert page["messages"][0]["deleted"] and page["messages"][0]["reactions"] == []
