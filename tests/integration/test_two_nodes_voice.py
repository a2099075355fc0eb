"""Voice across socket nodes over Redis: a dead node's participants leave with an event."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodechat.client import ChatClient
from nodechat.cluster import RedisPresence, RedisVoiceRoster
from tests.integration.test_voice_tools import PASSWORD, _node

pytestmark = pytest.mark.timeout(60)


async def test_a_dead_node_s_participants_leave_with_an_event(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    node = _node(tmp_path / "data", redis_url, redis_prefix)
    await node.start()
    ghost_presence = RedisPresence.from_url(redis_url, "ghost", prefix=redis_prefix, ttl=5.0)
    ghost = RedisVoiceRoster.from_url(redis_url, "ghost", prefix=redis_prefix)
    clients: list[ChatClient] = []
    try:
        ids = []
        for name in ("dann", "dbob"):
            client = await ChatClient.connect(node.url)
            clients.append(client)
            tokens = await client.request(
                "auth.register", username=name, email=f"{name}@x.test", password=PASSWORD
            )
            await client.authenticate(tokens["access_token"])
            ids.append(tokens["user"]["id"])
        ann, bob = clients
        group = await ann.request("group.create", name="G")
        room = await ann.request("channel.create", group_id=group["id"], name="r", kind="voice")
        await bob.request(
            "group.join", code=(await ann.request("invite.create", group_id=group["id"]))["code"]
        )
        await ann.request("voice.join", channel=room["id"])
        # bob is in the channel through another node, "ghost", which then dies
        await ghost_presence.beat()
        await ghost.join(room["id"], ids[1], group["id"])
        await ann.request("voice.state", muted=True)  # an event that shows bob in
        while True:
            event = await ann.next_event("voice.updated")
            if event["data"]["participants"] == sorted(ids):
                break
        await ghost_presence.close()  # its heartbeat stops
        await ghost._redis.delete(f"{redis_prefix}presence:alive:ghost")  # and its key expires
        while True:  # the node's sweep notices within voice_sweep_interval
            event = await ann.next_event("voice.updated", timeout=20)
            if event["data"]["participants"] == [ids[0]]:
                break
        assert event["data"]["group_id"] == group["id"]
        assert list(event["data"]["states"]) == [ids[0]]
    finally:
        for c in clients:
            await c.close()
        await ghost.close()
        await node.stop()
