"""What a connect costs does not grow with the size of the user's groups: the same
snapshot (give or take the digits of ``member_count``), the same frames, the same
store reads, and no presence frames to the other members."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import orjson
import pytest

from nodechat.client import ChatClient
from nodechat.models import Member, Role, now_ms
from nodechat.server.node import ChatNode
from nodechat.storage.sqlite.engine import Database
from tests.integration.conftest import Account, Signup

pytestmark = pytest.mark.timeout(120)


async def _group_of(node: ChatNode, owner: Account, joiner: Account, size: int) -> str:
    """A group of ``size`` members: the owner, ``joiner``, and members with no account
    (written straight to the store: only the counts matter here)."""
    group = await owner.client.request("group.create", name=f"Group of {size}")
    invite = await owner.client.request("invite.create", group_id=group["id"])
    await joiner.client.request("group.join", code=invite["code"])
    now = now_ms()
    await asyncio.gather(
        *(
            node.store.groups.add_member(
                Member(group["id"], f"u_filler{size}x{i}", Role.MEMBER, now)
            )
            for i in range(size - 2)
        )
    )
    return str(group["id"])


async def _cost(
    node: ChatNode, account: Account, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """Connect ``account`` once more: the store calls, the frames it is sent until it is
    ready, the snapshot's size, and how many frames the node delivered to others."""
    calls: Counter[str] = Counter()
    for name in ("read", "read_one", "write"):
        original = getattr(Database, name)

        def counted(self: Database, *args: Any, _f: Any = original, _n: str = name) -> Any:
            calls[_n] += 1
            return _f(self, *args)

        monkeypatch.setattr(Database, name, counted)
    hub = node.endpoint.hub
    delivered = hub.delivered
    client = await ChatClient.connect(node.url)
    ready = await client.authenticate(account.tokens["access_token"])
    await hub.presence.flush()  # the arrival's presence change is published now
    await client.request("ping")
    monkeypatch.undo()
    cost = {
        "store": dict(calls),
        "events before ready": len(client.drain_events()),
        "snapshot": ready,
        "delivered to others": hub.delivered - delivered,
    }
    await client.close()
    return cost


async def test_connect_cost_is_the_same_for_groups_of_10_and_1000(
    node: ChatNode, signup: Signup, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner, small, big = await signup("owner"), await signup("small"), await signup("large")
    await _group_of(node, owner, small, 10)
    big_group = await _group_of(node, owner, big, 1000)
    watchers = [await signup(f"online{i}") for i in range(5)]  # other members, connected
    for w in watchers:
        invite = await owner.client.request("invite.create", group_id=big_group)
        await w.client.request("group.join", code=invite["code"])
    await node.endpoint.hub.presence.flush()

    small_cost = await _cost(node, small, monkeypatch)
    big_cost = await _cost(node, big, monkeypatch)
    assert big_cost["store"] == small_cost["store"]
    assert big_cost["events before ready"] == small_cost["events before ready"] == 0
    assert big_cost["delivered to others"] == small_cost["delivered to others"] == 0
    small_snap, big_snap = small_cost["snapshot"], big_cost["snapshot"]
    assert big_snap["groups"][0]["member_count"] == 1005
    assert small_snap["users"] == big_snap["users"] == []
    size = len(orjson.dumps(big_snap)) - len(orjson.dumps(small_snap))
    assert size == 4  # "Group of 1000" vs "Group of 10", and the count's digits

    page = await big.client.request("member.list", group_id=big_group, limit=100)
    assert len(page["members"]) == 100 and page["next"] is not None
    ids = {m["user_id"] for m in page["members"]}
    assert {owner.id, big.id} <= {u["id"] for u in page["users"]} <= ids
    for w in watchers:
        await w.client.close()
