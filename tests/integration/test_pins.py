"""Pinned messages over real WebSockets against a real serve node."""

from __future__ import annotations

import pytest

from nodechat.client import ChatClient, RequestFailed
from nodechat.services.messages import MAX_PINS
from tests.integration.conftest import Signup
from tests.integration.test_chat_flow import make_group


async def refused(client: ChatClient, op: str, **data: object) -> str:
    with pytest.raises(RequestFailed) as err:
        await client.request(op, **data)
    return err.value.code


async def pin_event(client: ChatClient, kind: str, message_id: str) -> dict[str, object]:
    """The next ``kind`` event about ``message_id`` (others, e.g. one's own earlier ones, skipped)."""
    while True:
        event = await client.next_event(kind)
        if event["data"]["message_id"] == message_id:
            data: dict[str, object] = event["data"]
            return data


async def test_owner_pins_members_see_and_outsiders_do_not(signup: Signup) -> None:
    ann, bob, group, channel = await make_group(signup)
    cid = channel["id"]
    carol = await signup("carol")
    first = await bob.client.request("message.send", conversation=cid, body="trail map", nonce="1")
    second = await ann.client.request("message.send", conversation=cid, body="meet 9am", nonce="2")

    pinned = await ann.client.request("message.pin", message_id=first["id"])
    assert pinned["message"]["body"] == "trail map" and pinned["pinned_by"] == ann.id
    event = await bob.client.next_event("message.pinned")
    assert event["data"]["conversation"] == cid and event["data"]["message_id"] == first["id"]
    assert event["data"]["by"] == ann.id and event["data"]["pinned_at"] == pinned["pinned_at"]
    again = await ann.client.request("message.pin", message_id=first["id"])
    assert again == pinned  # idempotent: the original pin
    await ann.client.request("message.pin", message_id=second["id"])
    assert (await bob.client.next_event("message.pinned"))["data"]["message_id"] == second["id"]

    listed = await bob.client.request("pin.list", conversation=cid)
    assert listed["conversation"] == cid
    assert [p["message"]["id"] for p in listed["pins"]] == [second["id"], first["id"]]
    assert listed["pins"][1] == pinned

    assert await refused(bob.client, "message.pin", message_id=first["id"]) == "forbidden"
    assert await refused(bob.client, "message.unpin", message_id=first["id"]) == "forbidden"
    assert await refused(carol.client, "pin.list", conversation=cid) == "conversation_not_found"
    code = await refused(carol.client, "message.pin", message_id=first["id"])
    assert code == "message_not_found"

    unpinned = await ann.client.request("message.unpin", message_id=second["id"])
    assert unpinned == {"conversation": cid, "message_id": second["id"]}
    gone = await bob.client.next_event("message.unpinned")
    assert gone["data"]["message_id"] == second["id"] and gone["data"]["by"] == ann.id
    await ann.client.request("message.unpin", message_id=second["id"])  # idempotent

    await bob.client.request("message.delete", message_id=first["id"])  # the author deletes
    assert (await pin_event(ann.client, "message.unpinned", first["id"]))["by"] == bob.id
    assert (await ann.client.request("pin.list", conversation=cid))["pins"] == []
    assert await refused(ann.client, "message.pin", message_id=first["id"]) == "message_not_found"

    await ann.client.request("member.kick", group_id=group["id"], user_id=bob.id)
    assert await refused(bob.client, "pin.list", conversation=cid) == "conversation_not_found"
    code = await refused(bob.client, "message.pin", message_id=second["id"])
    assert code == "message_not_found"


async def test_limit_and_direct_conversations(signup: Signup) -> None:
    ann = await signup("ann")
    bob = await signup("bob")
    dm = (await ann.client.request("dm.open", user_id=bob.id))["id"]
    sent = await ann.client.request("message.send", conversation=dm, body="psst", nonce="d")
    pinned = await bob.client.request("message.pin", message_id=sent["id"])  # either participant
    assert pinned["pinned_by"] == bob.id
    assert (await pin_event(ann.client, "message.pinned", sent["id"]))["by"] == bob.id

    ids = [
        (await ann.client.request("message.send", conversation=dm, body=f"#{i}", nonce=f"n{i}"))[
            "id"
        ]
        for i in range(MAX_PINS)
    ]
    for message_id in ids[: MAX_PINS - 1]:
        await ann.client.request("message.pin", message_id=message_id)
    assert await refused(ann.client, "message.pin", message_id=ids[-1]) == "too_many_pins"
    listed = await bob.client.request("pin.list", conversation=dm)
    assert len(listed["pins"]) == MAX_PINS
    assert listed["pins"][-1]["message"]["id"] == sent["id"]  # the oldest pin last
