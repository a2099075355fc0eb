"""A process is cut off from Redis while Redis keeps running, and events other than messages
(edits, deletions, new channels, kicks, renames) happen meanwhile: a connected member gets
every one of them, once, in order, after the process is back, and a kicked member none of
what followed its kick.

Cut on the socket node's side, the node misses what the roles publish and replays it from
the event log; cut on the roles' side, the roles cannot publish and send what they parked
once they are back (nodechat/bus/eventlog.py, docs/reliability.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import aiohttp
import pytest

from tests.e2e.cluster import register, start_split
from tests.tcp_proxy import CuttableProxy

NON_MESSAGE = {  # kind: the field that tells its events apart here
    "message.edited": "seq",
    "message.deleted": "seq",
    "channel.created": "name",
    "member.kicked": "user_id",
}


async def wait_ready(ws_url: str, status: int) -> None:
    url = ws_url.replace("ws://", "http://").rstrip("/") + "/readyz"
    async with aiohttp.ClientSession() as web:
        for _ in range(600):
            async with web.get(url) as reply:
                if reply.status == status:
                    return
            await asyncio.sleep(0.05)
    raise AssertionError(f"{url} never answered {status}")


@pytest.fixture
def proxy(redis_url: str) -> Iterator[CuttableProxy]:
    target = urlparse(redis_url)
    cut = CuttableProxy(target.hostname or "127.0.0.1", target.port or 6379)
    yield cut
    cut.close()


@pytest.mark.parametrize("side", ["socket node", "roles"])
async def test_events_during_a_cut_reach_members_once_in_order(
    side: str, tmp_path: Path, redis_url: str, proxy: CuttableProxy
) -> None:
    through_proxy = ["socket1"] if side == "socket node" else ["auth", "group", "message"]
    cluster = start_split(
        tmp_path / "data",
        redis=redis_url,
        redis_for={name: proxy.url() for name in through_proxy},
    )
    try:
        cut_node, other_node = cluster.socket("socket1"), cluster.socket("socket2")
        ann, _ = await register(other_node, "ann")  # the owner acts from the node that stays
        bob, _ = await register(cut_node, "bob")
        cat, cat_tokens = await register(cut_node, "cat")
        group = await ann.request("group.create", name="ops")
        channel = group["channels"][0]["id"]
        invite = await ann.request("invite.create", group_id=group["id"])
        await bob.request("group.join", code=invite["code"])
        await cat.request("group.join", code=invite["code"])
        first = await ann.request("message.send", conversation=channel, body="one", nonce="1")
        second = await ann.request("message.send", conversation=channel, body="two", nonce="2")
        for client in (bob, cat):
            while (await client.next_event("message.created", timeout=15))["data"]["seq"] < second[
                "seq"
            ]:
                pass
        bob.drain_events()
        cat.drain_events()

        proxy.cut()
        if side == "socket node":
            await wait_ready(cut_node, 503)
        else:
            await asyncio.sleep(0.5)  # the roles notice on their next use of Redis
        await ann.request("message.edit", message_id=first["id"], body="one, edited")
        await ann.request("message.delete", message_id=second["id"])
        await ann.request("channel.create", group_id=group["id"], name="later")
        await ann.request("member.kick", group_id=group["id"], user_id=cat_tokens["user"]["id"])
        third = await ann.request("message.send", conversation=channel, body="three", nonce="3")
        await ann.request("channel.create", group_id=group["id"], name="after the kick")
        proxy.restore()
        await wait_ready(cut_node, 200)

        seen: list[tuple[str, Any]] = []
        while len(seen) < 6:
            event = await bob.next_event(timeout=30)
            kind, data = event["event"], event["data"]
            if kind in NON_MESSAGE:
                seen.append((kind, data[NON_MESSAGE[kind]]))
            elif kind == "message.created":
                seen.append((kind, data["seq"]))
        # each role's events in the order it published them (parked by two roles, the
        # message role's and the group role's events may interleave either way)
        assert [e for e in seen if e[0] in ("message.edited", "message.deleted")] == [
            ("message.edited", first["seq"]),
            ("message.deleted", second["seq"]),
        ]
        assert [e for e in seen if e[0] in ("channel.created", "member.kicked")] == [
            ("channel.created", "later"),
            ("member.kicked", cat_tokens["user"]["id"]),
            ("channel.created", "after the kick"),
        ]
        assert [e for e in seen if e[0] == "message.created"] == [("message.created", third["seq"])]

        # live again, and nothing above came twice
        fourth = await ann.request("message.send", conversation=channel, body="four", nonce="4")
        assert (await bob.next_event("message.created", timeout=15))["data"]["seq"] == fourth["seq"]
        await asyncio.sleep(0.5)
        assert not [
            e for e in bob.drain_events() if e["event"] in (*NON_MESSAGE, "message.created")
        ]

        # the kicked member heard its kick and nothing of the group after it
        kinds = [e["event"] for e in cat.drain_events()]
        assert "member.kicked" in kinds
        after = kinds[kinds.index("member.kicked") + 1 :]
        assert "channel.created" not in after and "message.created" not in after
        for client in (ann, bob, cat):
            await client.close()
    finally:
        cluster.stop()
