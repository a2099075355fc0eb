"""Threads over real WebSockets against a real serve node: replies, summaries, resume,
and nothing for an outsider or a kicked member."""

from __future__ import annotations

import pytest

from nodechat.client import ChatClient, RequestFailed
from nodechat.server.node import ChatNode
from tests.integration.conftest import Signup, connect
from tests.integration.test_chat_flow import make_group
from tests.integration.test_resume import collect_until


async def refused(client: ChatClient, op: str, **data: object) -> str:
    with pytest.raises(RequestFailed) as err:
        await client.request(op, **data)
    return err.value.code


async def summary_of(client: ChatClient, message_id: str, count: int) -> dict[str, object]:
    """The first ``message.thread`` about ``message_id`` reaching ``count`` replies."""
    while True:
        event = await client.next_event("message.thread", timeout=10)
        data: dict[str, object] = event["data"]
        thread = data["thread"]
        assert isinstance(thread, dict)
        if data["message_id"] == message_id and thread["count"] >= count:
            return data


async def test_replies_reach_the_channel_and_the_root_counts_them(signup: Signup) -> None:
    ann, bob, group, channel = await make_group(signup)
    cid = channel["id"]
    carol = await signup("carol")
    root = await ann.client.request("message.send", conversation=cid, body="Dune?", nonce="r")
    tid = f"thread:{root['id']}"
    first = await bob.client.request("message.send", conversation=tid, body="yes", nonce="1")
    assert (first["conversation"], first["seq"]) == (tid, 1)
    assert (await collect_until(ann.client, tid, 1)) == [1]
    seen = await summary_of(ann.client, root["id"], 1)
    assert seen == {
        "conversation": cid,
        "message_id": root["id"],
        "thread": {"conversation": tid, "count": 1, "last_at": first["created_at"]},
    }
    await ann.client.request("message.send", conversation=tid, body="great", nonce="2")
    assert (await summary_of(bob.client, root["id"], 2))["thread"] == {
        "conversation": tid,
        "count": 2,
        "last_at": (await ann.client.request("message.history", conversation=tid))["messages"][0][
            "created_at"
        ],
    }
    page = await bob.client.request("message.history", conversation=cid)
    assert page["messages"][0]["thread"]["count"] == 2
    assert page["messages"][0]["thread"]["unread"] == 1
    replies = await bob.client.request("message.history", conversation=tid, before=2, limit=1)
    assert [m["body"] for m in replies["messages"]] == ["yes"] and not replies["has_more"]
    assert (await bob.client.request("read.mark", conversation=tid, seq=2))["seq"] == 2
    page = await bob.client.request("message.history", conversation=cid)
    assert page["messages"][0]["thread"]["unread"] == 0

    nested = f"thread:{first['id']}"
    code = await refused(ann.client, "message.send", conversation=nested, body="x", nonce="3")
    assert code == "thread_nested"
    for op, data in (
        ("message.send", {"conversation": tid, "body": "hi", "nonce": "c"}),
        ("message.history", {"conversation": tid}),
        ("read.mark", {"conversation": tid, "seq": 1}),
        ("typing", {"conversation": tid}),
    ):
        assert await refused(carol.client, op, **data) == "conversation_not_found"
    await ann.client.request("member.kick", group_id=group["id"], user_id=bob.id)
    for op, data in (
        ("message.send", {"conversation": tid, "body": "still?", "nonce": "k"}),
        ("message.history", {"conversation": tid}),
    ):
        assert await refused(bob.client, op, **data) == "conversation_not_found"
    code = await refused(bob.client, "message.edit", message_id=first["id"], body="mine")
    assert code == "message_not_found"


async def test_resume_replays_a_thread(node: ChatNode, signup: Signup) -> None:
    ann, bob, group, channel = await make_group(signup)
    root = await ann.client.request(
        "message.send", conversation=channel["id"], body="root", nonce="r"
    )
    tid = f"thread:{root['id']}"
    await ann.client.request("message.send", conversation=tid, body="t1", nonce="t1")
    assert await collect_until(bob.client, tid, 1) == [1]
    bob.client.ws.transport.abort()
    for i in (2, 3, 4):
        await ann.client.request("message.send", conversation=tid, body=f"t{i}", nonce=f"t{i}")
    client, ready = await connect(node, bob, resume={tid: 1, "thread:m_gone": 0})
    assert ready["resume"][tid] == {"replayed": 3, "last_seq": 4}
    assert ready["resume"]["thread:m_gone"] == {"not_found": True}
    assert await collect_until(client, tid, 4) == [2, 3, 4]
    await ann.client.request("message.send", conversation=tid, body="live", nonce="t5")
    assert await collect_until(client, tid, 5) == [5]
    await client.close()
