"""Groups, channels, invites and profiles: each change reaches the members as an event."""

from __future__ import annotations

import pytest

from nodechat.client import RequestFailed
from nodechat.server.node import ChatNode
from tests.integration.conftest import Signup, connect
from tests.integration.test_chat_flow import make_group


async def test_channel_lifecycle_events(signup: Signup) -> None:
    ann, bob, group, welcome = await make_group(signup)
    gid = group["id"]
    created = await ann.client.request(
        "channel.create", group_id=gid, name="random", topic="anything goes"
    )
    ev = await bob.client.next_event("channel.created")
    assert ev["data"]["id"] == created["id"] and ev["data"]["topic"] == "anything goes"
    await ann.client.request("channel.update", channel_id=created["id"], name="off-topic")
    ev = await bob.client.next_event("channel.updated")
    assert ev["data"]["name"] == "off-topic"
    order = await ann.client.request(
        "channel.reorder", group_id=gid, channel_ids=[created["id"], welcome["id"]]
    )
    assert [c["id"] for c in order["channels"]] == [created["id"], welcome["id"]]
    with pytest.raises(RequestFailed) as err:
        await ann.client.request("channel.reorder", group_id=gid, channel_ids=[created["id"]])
    assert err.value.code == "bad_channel_order"
    await ann.client.request("channel.delete", channel_id=created["id"])
    ev = await bob.client.next_event("channel.deleted")
    assert ev["data"] == {"id": created["id"], "group_id": gid}
    view = await bob.client.request("group.get", group_id=gid)
    assert [c["id"] for c in view["channels"]] == [welcome["id"]]


async def test_group_update_transfer_leave_delete(signup: Signup) -> None:
    ann, bob, group, welcome = await make_group(signup)
    gid = group["id"]
    await ann.client.request("group.update", group_id=gid, name="Hill walkers")
    ev = await bob.client.next_event("group.updated")
    assert ev["data"]["name"] == "Hill walkers"
    with pytest.raises(RequestFailed) as err:
        await ann.client.request("group.leave", group_id=gid)
    assert err.value.code == "owner_cannot_leave"
    await ann.client.request("group.transfer", group_id=gid, user_id=bob.id)
    members = {
        m["user_id"]: m["role"]
        for m in (await bob.client.request("member.list", group_id=gid))["members"]
    }
    assert members == {bob.id: "owner", ann.id: "admin"}
    await ann.client.request("group.leave", group_id=gid)
    ev = await bob.client.next_event("member.left")
    assert ev["data"]["user_id"] == ann.id
    assert (await ann.client.request("group.list"))["groups"] == []
    await bob.client.request("group.delete", group_id=gid)
    ev = await bob.client.next_event("group.deleted")
    assert ev["data"] == {"group_id": gid}
    with pytest.raises(RequestFailed) as err:
        await bob.client.request("message.history", conversation=welcome["id"])
    assert err.value.code == "conversation_not_found"


async def test_invites_expire_run_out_and_revoke(signup: Signup) -> None:
    ann = await signup("ann")
    bob = await signup("bob")
    cat = await signup("cat")
    group = await ann.client.request("group.create", name="g")
    once = await ann.client.request("invite.create", group_id=group["id"], max_uses=1)
    await bob.client.request("group.join", code=once["code"])
    with pytest.raises(RequestFailed) as err:
        await cat.client.request("group.join", code=once["code"])
    assert err.value.code == "invite_invalid"
    with pytest.raises(RequestFailed) as err:
        await bob.client.request("group.join", code=once["code"])
    assert err.value.code in ("invite_invalid", "already_member")
    other = await ann.client.request("invite.create", group_id=group["id"], expires_in=0)
    assert other["expires_at"] is None
    listed = await ann.client.request("invite.list", group_id=group["id"])
    assert {i["code"] for i in listed["invites"]} == {once["code"], other["code"]}
    with pytest.raises(RequestFailed) as err:
        await bob.client.request("invite.create", group_id=group["id"])
    assert err.value.code == "forbidden"
    await ann.client.request("invite.revoke", code=other["code"])
    with pytest.raises(RequestFailed) as err:
        await cat.client.request("group.join", code=other["code"])
    assert err.value.code == "invite_invalid"


async def test_joining_subscribes_the_new_member(signup: Signup) -> None:
    ann, bob, group, welcome = await make_group(signup)
    ev = await bob.client.next_event("member.joined")  # via bob's own user topic
    assert ev["data"]["group"]["id"] == group["id"]
    await ann.client.request("message.send", conversation=welcome["id"], body="welcome!", nonce="w")
    got = await bob.client.next_event("message.created")
    assert got["data"]["body"] == "welcome!"


async def test_a_member_who_comes_back_gets_only_what_follows_the_new_join(
    signup: Signup,
) -> None:
    """Found by the stateful model (test_stateful_chat.py): a session that tracked the
    channel in an earlier membership was sent, after its user rejoined, what had been
    posted while the user was out."""
    ann, bob, group, welcome = await make_group(signup)
    gid, channel = group["id"], welcome["id"]
    invite = await ann.client.request("invite.create", group_id=gid)
    await ann.client.request("message.send", conversation=channel, body="in", nonce="first")
    assert (await bob.client.next_event("message.created"))["data"]["seq"] == 1
    for removal in ("left", "kicked"):
        if removal == "left":
            await bob.client.request("group.leave", group_id=gid)
        else:
            await ann.client.request("member.kick", group_id=gid, user_id=bob.id)
        await ann.client.request("message.send", conversation=channel, body="out", nonce=removal)
        await bob.client.request("group.join", code=invite["code"])
        ack = await ann.client.request(
            "message.send", conversation=channel, body="back", nonce=f"after {removal}"
        )
        # a note to self after it: the channel's events for bob come before this one's
        await bob.client.request(
            "message.send", conversation=bob.notes, body="round trip", nonce=removal
        )
        got = []
        while (event := (await bob.client.next_event("message.created"))["data"])[
            "conversation"
        ] == channel:
            got.append(event["seq"])
        assert event["nonce"] == removal
        assert got == [ack["seq"]]  # not the message sent while bob was out


async def test_profile_and_lookup(node: ChatNode, signup: Signup) -> None:
    ann = await signup("ann")
    bob = await signup("bob")
    me = await ann.client.request("user.get")
    assert me["email"] == "ann@example.test" and me["about"]
    other = await ann.client.request("user.get", user_id=bob.id)
    assert "email" not in other
    found = await ann.client.request("user.find", username="BOB")
    assert found["id"] == bob.id
    with pytest.raises(RequestFailed) as err:
        await ann.client.request("user.find", username="bob@example.test")
    assert err.value.code in ("user_not_found", "invalid_username")
    phone, _ = await connect(node, ann)
    updated = await ann.client.request("user.update", display_name="Ann B.", about="hiking")
    assert updated["display_name"] == "Ann B."
    ev = await phone.next_event("user.updated")
    assert ev["data"]["display_name"] == "Ann B."
    await phone.close()
    group = await ann.client.request("group.create", name="g")
    invite = await ann.client.request("invite.create", group_id=group["id"])
    await bob.client.request("group.join", code=invite["code"])
    await ann.client.request("user.update", display_name="Ann C.")
    ev = await bob.client.next_event("user.updated")  # group members see it as well
    assert ev["data"] == {**ev["data"], "id": ann.id, "display_name": "Ann C."}
    assert "email" not in ev["data"]


async def test_presence_and_typing(node: ChatNode, signup: Signup) -> None:
    ann, bob, group, welcome = await make_group(signup)
    _, ready = await connect(node, bob)
    assert ready["users"] == [] and ready["online"] == [bob.id]  # members come on demand
    watched = await bob.client.request("presence.subscribe", user_ids=[ann.id])
    assert watched == {"presence": {ann.id: "online"}}

    phone, _ = await connect(node, ann)  # a second session of ann
    await ann.client.close()
    await phone.request("typing", conversation=welcome["id"])
    ev = await bob.client.next_event("typing")
    assert ev["data"] == {"conversation": welcome["id"], "user_id": ann.id}
    again = await phone.request("typing", conversation=welcome["id"])
    assert again == {"sent": False}  # coalesced within the typing interval
    for e in bob.client.drain_events():  # still online: another session is alive
        assert not (e["event"] == "presence" and e["data"]["status"] == "offline")
    await phone.close()
    ev = await bob.client.next_event("presence")
    while ev["data"]["user_id"] != ann.id:
        ev = await bob.client.next_event("presence")
    assert ev["data"] == {"user_id": ann.id, "status": "offline"}


async def test_presence_is_sent_once_per_change(node: ChatNode, signup: Signup) -> None:
    ann, bob, group, welcome = await make_group(signup)
    second = await ann.client.request("group.create", name="second")
    invite = await ann.client.request("invite.create", group_id=second["id"])
    await bob.client.request("group.join", code=invite["code"])
    await bob.client.request("dm.open", user_id=ann.id)
    watcher, _ = await connect(node, bob)
    await ann.client.close()  # ann shares two groups and a DM with bob
    ev = await watcher.next_event("presence")
    assert ev["data"] == {"user_id": ann.id, "status": "offline"}
    await watcher.request("message.send", conversation=bob.notes, body="sync", nonce="p")
    await watcher.next_event("message.created")
    assert not [e for e in watcher.drain_events() if e["event"] == "presence"]
    await watcher.close()
