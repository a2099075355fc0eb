"""The everyday chat scenario over real WebSockets against a real serve node."""

from __future__ import annotations

import asyncio

import pytest

from nodechat.client import RequestFailed
from nodechat.server.node import ChatNode
from tests.integration.conftest import Signup, connect


async def make_group(signup: Signup) -> tuple:
    ann = await signup("ann")
    bob = await signup("bob")
    group = await ann.client.request("group.create", name="Hikers", description="trails")
    channel = group["channels"][0]
    assert channel["name"] == "welcome" and channel["kind"] == "text"
    assert group["role"] == "owner"
    invite = await ann.client.request("invite.create", group_id=group["id"], max_uses=5)
    joined = await bob.client.request("group.join", code=invite["code"])
    assert joined["id"] == group["id"] and joined["role"] == "member"
    return ann, bob, group, channel


async def test_group_channel_chat_and_events(signup: Signup) -> None:
    ann, bob, group, channel = await make_group(signup)
    event = await ann.client.next_event("member.joined")
    assert event["data"]["user_id"] == bob.id

    ack = await ann.client.request(
        "message.send", conversation=channel["id"], body="hello bob", nonce="n-1"
    )
    assert ack["seq"] == 1 and ack["conversation"] == channel["id"] and not ack["duplicate"]
    got = await bob.client.next_event("message.created")
    assert got["data"]["body"] == "hello bob" and got["data"]["seq"] == 1
    assert got["data"]["author_id"] == ann.id

    again = await ann.client.request(
        "message.send", conversation=channel["id"], body="hello bob", nonce="n-1"
    )
    assert again["id"] == ack["id"] and again["duplicate"]

    reply = await bob.client.request(
        "message.send", conversation=channel["id"], body="hi ann", nonce="b-1", reply_to=ack["id"]
    )
    assert reply["seq"] == 2
    history = await ann.client.request("message.history", conversation=channel["id"])
    assert [m["seq"] for m in history["messages"]] == [2, 1]
    assert history["messages"][0]["reply_to"] == ack["id"]

    edited = await ann.client.request("message.edit", message_id=ack["id"], body="hello, Bob")
    assert edited["edited_at"] is not None
    ev = await bob.client.next_event("message.edited")
    assert ev["data"]["body"] == "hello, Bob"
    with pytest.raises(RequestFailed) as err:
        await bob.client.request("message.edit", message_id=ack["id"], body="hacked")
    assert err.value.code == "forbidden"

    await ann.client.request("message.delete", message_id=reply["id"])  # owner moderates
    ev = await bob.client.next_event("message.deleted")
    assert ev["data"] == {"id": reply["id"], "conversation": channel["id"], "seq": 2}
    history = await bob.client.request("message.history", conversation=channel["id"])
    assert history["messages"][0]["deleted"] and history["messages"][0]["body"] == ""


async def test_direct_messages_notes_and_blocks(signup: Signup) -> None:
    ann = await signup("ann")
    bob = await signup("bob")
    dm = await ann.client.request("dm.open", user_id=bob.id)
    assert dm["kind"] == "direct" and dm["peer_id"] == bob.id
    await ann.client.request("message.send", conversation=dm["id"], body="psst", nonce="d1")
    got = await bob.client.next_event("message.created")
    assert got["data"]["conversation"] == dm["id"]
    own = await ann.client.next_event("message.created")  # the sender's sessions see it too
    assert own["data"]["nonce"] == "d1"

    note = await ann.client.request(
        "message.send", conversation=ann.notes, body="buy milk", nonce="s1"
    )
    assert note["seq"] == 1
    with pytest.raises(RequestFailed) as err:
        await bob.client.request("message.history", conversation=ann.notes)
    assert err.value.code == "conversation_not_found"

    await bob.client.request("user.block", user_id=ann.id)
    with pytest.raises(RequestFailed) as err:
        await ann.client.request("message.send", conversation=dm["id"], body="hey?", nonce="d2")
    assert err.value.code == "blocked"
    await bob.client.request("user.unblock", user_id=ann.id)
    await ann.client.request("message.send", conversation=dm["id"], body="hey?", nonce="d2")


async def test_history_paging_both_ways(signup: Signup) -> None:
    ann = await signup("ann")
    for i in range(1, 26):
        await ann.client.request(
            "message.send", conversation=ann.notes, body=f"m{i}", nonce=f"h{i}"
        )
    page = await ann.client.request("message.history", conversation=ann.notes, limit=10)
    assert [m["seq"] for m in page["messages"]] == list(range(25, 15, -1))
    older = await ann.client.request("message.history", conversation=ann.notes, limit=10, before=16)
    assert [m["seq"] for m in older["messages"]] == list(range(15, 5, -1))
    newer = await ann.client.request("message.history", conversation=ann.notes, limit=10, after=20)
    assert [m["seq"] for m in newer["messages"]] == [21, 22, 23, 24, 25]
    assert page["has_more"] and older["has_more"] and not newer["has_more"]
    oldest = await ann.client.request(
        "message.history", conversation=ann.notes, limit=10, before=11
    )
    assert len(oldest["messages"]) == 10 and not oldest["has_more"]  # exactly the rest
    with pytest.raises(RequestFailed) as err:
        await ann.client.request("message.history", conversation=ann.notes, limit=101)
    assert err.value.code == "invalid_request"


async def test_read_markers_and_unread_counts(node: ChatNode, signup: Signup) -> None:
    ann, bob, group, channel = await make_group(signup)
    for i in range(3):
        await ann.client.request(
            "message.send", conversation=channel["id"], body=f"x{i}", nonce=f"r{i}"
        )
    listing = await bob.client.request("conversation.list")
    state = next(c for c in listing["conversations"] if c["id"] == channel["id"])
    assert state["unread"] == 3 and state["last_seq"] == 3
    mine = next(
        c
        for c in (await ann.client.request("conversation.list"))["conversations"]
        if c["id"] == channel["id"]
    )
    assert mine["unread"] == 0  # own messages are never unread

    other, _ = await connect(node, bob)
    marked = await bob.client.request("read.mark", conversation=channel["id"], seq=2)
    assert marked["seq"] == 2
    moved = await other.next_event("read.updated")  # the user's other session follows
    assert moved["data"] == {"conversation": channel["id"], "seq": 2}
    await bob.client.request("read.mark", conversation=channel["id"], seq=1)  # never backwards
    listing = await bob.client.request("conversation.list")
    state = next(c for c in listing["conversations"] if c["id"] == channel["id"])
    assert state["unread"] == 1 and state["last_read_seq"] == 2
    await other.close()


async def test_non_members_learn_nothing(signup: Signup) -> None:
    ann, bob, group, channel = await make_group(signup)
    eve = await signup("eve")
    for op, data in [
        ("group.get", {"group_id": group["id"]}),
        ("member.list", {"group_id": group["id"]}),
        ("message.history", {"conversation": channel["id"]}),
        ("message.send", {"conversation": channel["id"], "body": "hi", "nonce": "e"}),
        ("invite.create", {"group_id": group["id"]}),
        ("channel.create", {"group_id": group["id"], "name": "x"}),
        ("group.delete", {"group_id": group["id"]}),
    ]:
        with pytest.raises(RequestFailed) as err:
            await eve.client.request(op, **data)
        assert err.value.code in (
            "group_not_found",
            "conversation_not_found",
            "channel_not_found",
        ), op
    # members without a role are refused, not hidden
    with pytest.raises(RequestFailed) as err:
        await bob.client.request("channel.create", group_id=group["id"], name="random")
    assert err.value.code == "forbidden"
    with pytest.raises(RequestFailed) as err:
        await bob.client.request("group.delete", group_id=group["id"])
    assert err.value.code == "forbidden"
    assert all(e["event"] == "presence" for e in eve.client.drain_events())


async def test_moderation_kick_ban_roles(signup: Signup) -> None:
    ann, bob, group, channel = await make_group(signup)
    gid = group["id"]
    await ann.client.request("member.set_role", group_id=gid, user_id=bob.id, role="admin")
    created = await bob.client.request("channel.create", group_id=gid, name="voice", kind="voice")
    assert created["kind"] == "voice" and created["position"] == 1
    with pytest.raises(RequestFailed) as err:
        await bob.client.request("member.kick", group_id=gid, user_id=ann.id)
    assert err.value.code == "forbidden"
    await ann.client.request("member.ban", group_id=gid, user_id=bob.id)
    ev = await bob.client.next_event("member.banned")
    assert ev["data"]["user_id"] == bob.id
    with pytest.raises(RequestFailed) as err:
        await bob.client.request("message.history", conversation=channel["id"])
    assert err.value.code == "conversation_not_found"
    invite = await ann.client.request("invite.create", group_id=gid)
    with pytest.raises(RequestFailed) as err:
        await bob.client.request("group.join", code=invite["code"])
    assert err.value.code == "banned"
    # after the ban, bob's connection no longer receives the group's messages
    await ann.client.request("message.send", conversation=channel["id"], body="secret", nonce="k1")
    await bob.client.request("message.send", conversation=bob.notes, body="sync", nonce="k2")
    seen = []
    while True:  # events reach a connection in order: the note comes after anything earlier
        ev = await bob.client.next_event("message.created")
        seen.append(ev["data"]["conversation"])
        if ev["data"]["conversation"] == bob.notes:
            break
    assert seen == [bob.notes]


async def test_pipelined_sends_keep_their_order(signup: Signup) -> None:
    """A client need not wait for acks: sends are stored and delivered in sending order."""
    ann, bob, group, channel = await make_group(signup)
    cid = channel["id"]
    frames = [
        ("message.send", {"conversation": cid, "body": f"line {i}", "nonce": f"p-{i}"})
        for i in range(60)
    ]
    frames[17] = ("message.send", {"conversation": cid, "body": " ", "nonce": "blank"})
    frames.append(("message.history", {"conversation": cid, "limit": 100}))
    replies = await asyncio.gather(*(ann.client.request_frame(op, data) for op, data in frames))

    *acks, history = replies
    assert acks[17]["ok"] is False and acks[17]["error"]["code"] == "invalid_body"
    stored = [a["data"] for i, a in enumerate(acks) if i != 17]
    assert all(a["ok"] for i, a in enumerate(acks) if i != 17)
    assert [a["seq"] for a in stored] == list(range(1, 60))
    # the request after the sends saw every one of them
    bodies = [m["body"] for m in reversed(history["data"]["messages"])]
    assert bodies == [f"line {i}" for i in range(60) if i != 17]
    got = [(await bob.client.next_event("message.created"))["data"] for _ in range(59)]
    assert [(m["seq"], m["body"]) for m in got] == [(n + 1, body) for n, body in enumerate(bodies)]
