"""Split deployment under failure: a socket node is SIGKILLed mid-conversation; its clients
reconnect to the other node, resume, and hold every acked message exactly once and in order.
Also: several ``serve`` monoliths sharing Redis and one store behave as one server."""

from __future__ import annotations

import asyncio
from pathlib import Path

from nodechat.client import ChatClient, RequestFailed
from nodechat.errors import Unavailable
from tests.e2e.cluster import register, start_split
from tests.e2e.conftest import start_serve


async def test_socket_node_killed(tmp_path: Path, redis_url: str) -> None:
    cluster = start_split(tmp_path / "data", redis=redis_url)
    try:
        node_a, node_b = cluster.socket("socket1"), cluster.socket("socket2")
        ann, ann_tokens = await register(node_a, "ann")
        bob, bob_tokens = await register(node_b, "bob")
        group = await ann.request("group.create", name="ops")
        channel = group["channels"][0]["id"]
        invite = await ann.request("invite.create", group_id=group["id"])
        await bob.request("group.join", code=invite["code"])

        acked: dict[int, str] = {}  # seq -> body, for every acked message of both senders
        ann_seen: list[int] = []

        async def send(client: ChatClient, who: str, count: int) -> None:
            for i in range(count):
                body = f"{who}{i}"
                try:
                    ack = await client.request(
                        "message.send", conversation=channel, body=body, nonce=body
                    )
                except (RequestFailed, Unavailable):
                    return  # the node died under this client: unacked, may or may not exist
                acked[ack["seq"]] = body
                await asyncio.sleep(0.005)

        async def read_ann() -> None:
            while True:
                event = await ann.next_event("message.created", timeout=30)
                ann_seen.append(event["data"]["seq"])

        reader = asyncio.create_task(read_ann())
        senders = [
            asyncio.create_task(send(bob, "b", 150)),
            asyncio.create_task(send(ann, "a", 150)),
        ]
        while len(ann_seen) < 40:
            await asyncio.sleep(0.01)
        cluster.procs["socket1"].kill()  # SIGKILL: no goodbye, no flush
        await asyncio.wait_for(ann.ws.wait_closed(), 10)
        reader.cancel()
        last_seen = ann_seen[-1]

        # ann reconnects to the surviving node and resumes from what she saw
        ann2 = await ChatClient.connect(node_b)
        login = await ann2.request("auth.login", login="ann", password="long password")
        ready = await ann2.authenticate(login["access_token"], resume={channel: last_seen})
        assert "too_old" not in ready["resume"][channel]
        await asyncio.gather(*senders)
        final = max(acked)
        while ann_seen[-1] < final:
            event = await ann2.next_event("message.created", timeout=15)
            ann_seen.append(event["data"]["seq"])
        assert ann_seen == list(range(1, len(ann_seen) + 1)), (
            f"a gap or a duplicate: resumed after {last_seen}, saw {ann_seen}"
        )
        assert set(acked) <= set(ann_seen), sorted(set(acked) - set(ann_seen))

        history: dict[int, str] = {}
        before = None
        while True:
            page = await ann2.request(
                "message.history", conversation=channel, limit=100, before=before
            )
            history.update((m["seq"], m["body"]) for m in page["messages"])
            if not page["has_more"]:
                break
            before = page["messages"][-1]["seq"]
        assert all(history[seq] == body for seq, body in acked.items())
        await ann2.close()
        await bob.close()
    finally:
        cluster.stop()


async def test_serve_monoliths_share_redis_and_store(
    tmp_path: Path, redis_url: str, bus_prefix: str
) -> None:
    data = tmp_path / "shared"
    env = {"NODECHAT_BUS_PREFIX": bus_prefix}
    extra = ["--bus", redis_url, "--store", f"sqlite:///{data / 'chat.db'}"]
    one, _ = start_serve(data, extra, env)
    two, _ = start_serve(data, extra, env)
    try:
        ann, _ = await register(one.address, "ann")
        bob, bob_tokens = await register(two.address, "bob")
        dm = await ann.request("dm.open", user_id=bob_tokens["user"]["id"])
        await ann.request("message.send", conversation=dm["id"], body="across", nonce="x")
        event = await bob.next_event("message.created", timeout=10)
        assert event["data"]["body"] == "across"
        await bob.request("auth.logout")  # revocation crosses monoliths too
        await asyncio.wait_for(bob.ws.wait_closed(), 5)
        assert bob.ws.close_code == 4001
        await ann.close()
    finally:
        assert one.terminate() == 0
        assert two.terminate() == 0
