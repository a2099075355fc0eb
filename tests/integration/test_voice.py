"""Voice channel participants over real WebSockets against a serve node."""

from __future__ import annotations

import pytest

from nodechat.client import RequestFailed
from nodechat.server.node import ChatNode
from tests.integration.conftest import Signup, connect


async def test_join_leave_move_and_disconnect(node: ChatNode, signup: Signup) -> None:
    ann = await signup("vann")
    bob = await signup("vbob")
    group = await ann.client.request("group.create", name="Band")
    gid = group["id"]
    text = group["channels"][0]["id"]
    room = await ann.client.request("channel.create", group_id=gid, name="jam", kind="voice")
    hall = await ann.client.request("channel.create", group_id=gid, name="hall", kind="voice")
    invite = await ann.client.request("invite.create", group_id=gid)
    await bob.client.request("group.join", code=invite["code"])

    joined = await ann.client.request("voice.join", channel=room["id"])
    quiet = {"handle": 1, "muted": False, "deafened": False, "speaking": False}
    assert joined == {
        "channel": room["id"],
        "participants": [ann.id],
        "states": {ann.id: quiet},
        "channel_handle": 1,
    }
    event = await bob.client.next_event("voice.updated")
    assert event["data"] == {
        "channel": room["id"],
        "group_id": gid,
        "participants": [ann.id],
        "states": {ann.id: quiet},
    }

    # a new session sees who is in voice in its snapshot
    late, ready = await connect(node, bob)
    assert ready["voice"] == {room["id"]: [ann.id]}
    assert ready["voice_states"] == {room["id"]: {ann.id: quiet}}

    # moving to another channel updates both
    await ann.client.request("voice.join", channel=hall["id"])
    updates = [(await bob.client.next_event("voice.updated"))["data"] for _ in range(2)]
    assert {u["channel"]: u["participants"] for u in updates} == {
        hall["id"]: [ann.id],
        room["id"]: [],
    }
    assert await ann.client.request("voice.leave") == {"left": hall["id"]}
    assert (await bob.client.next_event("voice.updated"))["data"]["participants"] == []
    assert await ann.client.request("voice.leave") == {"left": None}

    # closing the connection that joined leaves the channel
    ann.client.drain_events()  # ann saw her own joins and leaves too
    await late.request("voice.join", channel=room["id"])
    assert (await ann.client.next_event("voice.updated"))["data"]["participants"] == [bob.id]
    await late.close()
    gone = await ann.client.next_event("voice.updated")
    assert gone["data"] == {
        "channel": room["id"],
        "group_id": gid,
        "participants": [],
        "states": {},
    }

    with pytest.raises(RequestFailed) as info:
        await ann.client.request("voice.join", channel=text)
    assert info.value.code == "not_voice_channel"
    outsider = await signup("vout")
    with pytest.raises(RequestFailed) as info:
        await outsider.client.request("voice.join", channel=room["id"])
    assert info.value.code == "channel_not_found"
