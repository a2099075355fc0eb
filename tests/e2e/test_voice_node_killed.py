"""A socket node killed with SIGKILL: its voice participants leave with an event.

The node cannot say goodbye, so the others find out from the presence registry: its
``presence:alive:<node>`` key expires (15 s TTL) and every node's sweep (every 2 s)
removes the dead node's participants and announces it (docs/voice.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.cluster import register, start_split

pytestmark = pytest.mark.timeout(120)


async def test_a_killed_node_s_voice_participants_leave_with_an_event(
    tmp_path: Path, redis_url: str
) -> None:
    cluster = start_split(tmp_path / "data", redis=redis_url)
    clients = []
    try:
        ann, ann_tokens = await register(cluster.socket("socket1"), "ann")
        bob, bob_tokens = await register(cluster.socket("socket2"), "bob")
        clients += [ann, bob]
        ann_id, bob_id = ann_tokens["user"]["id"], bob_tokens["user"]["id"]
        group = await ann.request("group.create", name="split")
        room = await ann.request("channel.create", group_id=group["id"], name="talk", kind="voice")
        invite = await ann.request("invite.create", group_id=group["id"])
        await bob.request("group.join", code=invite["code"])
        await ann.request("voice.join", channel=room["id"])
        await bob.request("voice.join", channel=room["id"])
        while True:  # bob's join crosses to ann's node
            event = await ann.next_event("voice.updated", timeout=20)
            if event["data"]["participants"] == sorted([ann_id, bob_id]):
                break

        cluster.procs["socket2"].kill()  # no leave, no close frame, no goodbye on the bus

        while True:  # the TTL (15 s) and one sweep (2 s) later
            event = await ann.next_event("voice.updated", timeout=60)
            if bob_id not in event["data"]["participants"]:
                break
        assert event["data"]["channel"] == room["id"]
        assert event["data"]["participants"] == [ann_id]
        assert list(event["data"]["states"]) == [ann_id]
        # and the roster agrees: joining again lists ann alone
        joined = await ann.request("voice.join", channel=room["id"])
        assert joined["participants"] == [ann_id]
    finally:
        for client in clients:
            await client.close()
        cluster.stop()
