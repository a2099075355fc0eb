"""Contract: threads through the message service, locally and over gRPC.

Every test runs in both modes, as in test_services.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nodechat.bus import group_topic, user_topic
from nodechat.errors import Forbidden, InvalidRequest, NotFound
from nodechat.models import ThreadSummary
from nodechat.services.api import SendItem, SendResult
from tests.contract.service_env import MODES, ServiceEnv, open_services
from tests.contract.test_services import chatting_in_a_channel, fails


@pytest.fixture(params=MODES)
async def services(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ServiceEnv]:
    """The role interfaces, local or over gRPC."""
    async with open_services(request.param, tmp_path) as env:
        yield env


async def test_a_reply_opens_a_thread_with_its_own_seq(services: ServiceEnv) -> None:
    env = services
    alice, bob, gid, channel = await chatting_in_a_channel(env)
    root = (await env.messages.send(alice, channel, "who reads Dune?", "t-root")).message
    await env.messages.send(alice, channel, "unrelated", "t-other")
    tid = f"thread:{root.id}"

    assert (await env.messages.history(bob, tid)).messages == []  # readable before any reply
    first = (await env.messages.send(bob, tid, "me!", "t-1")).message
    second = (await env.messages.send(alice, tid, "great", "t-2")).message
    assert (first.conversation_id, first.seq, second.seq) == (tid, 1, 2)
    assert (await env.messages.send(bob, tid, "me!", "t-1")) == SendResult(first, False)

    # the thread's events go to the channel's audience: the message and the new summary
    created = [e.data for e in env.seen("message.created", group_topic(gid))]
    assert [(d["conversation"], d["seq"]) for d in created][-2:] == [(tid, 1), (tid, 2)]
    summaries = [e.data for e in env.seen("message.thread", group_topic(gid))]
    assert summaries == [
        {
            "conversation": channel,
            "message_id": root.id,
            "thread": {"conversation": tid, "count": n, "last_at": m.created_at},
        }
        for n, m in ((1, first), (2, second))
    ]

    # the root carries the summary in the channel's history, with the viewer's unread
    page = (await env.messages.history(alice, channel)).messages
    shown = {m.id: m.thread for m in page}
    assert shown[root.id] == ThreadSummary(tid, 2, second.created_at, unread=1)
    assert [m.thread for m in page if m.id != root.id] == [None]
    assert (await env.messages.history(bob, channel)).messages[-1].thread == ThreadSummary(
        tid, 2, second.created_at, unread=1
    )
    replayed = await env.messages.replay(bob, channel, 0, 10)
    assert replayed.messages[0].thread is not None and replayed.messages[0].thread.count == 2

    # its own history paging, replay and read marker
    older = await env.messages.history(bob, tid, before=2, limit=1)
    assert [m.seq for m in older.messages] == [1] and not older.has_more
    again = await env.messages.replay(bob, tid, 1, 10)
    assert [m.id for m in again.messages] == [second.id] and again.last_seq == 2
    assert await env.messages.mark_read(alice, tid, 99) == 2
    assert (await env.messages.history(alice, channel)).messages[-1].thread == ThreadSummary(
        tid, 2, second.created_at, unread=0
    )


async def test_thread_rules(services: ServiceEnv) -> None:
    env = services
    alice, bob, gid, channel = await chatting_in_a_channel(env)
    root = (await env.messages.send(alice, channel, "root", "r-root")).message
    tid = f"thread:{root.id}"
    reply = (await env.messages.send(bob, tid, "reply", "r-1")).message
    with fails(InvalidRequest, "thread_nested"):  # no thread under a thread message
        await env.messages.send(alice, f"thread:{reply.id}", "deeper", "r-2")
    with fails(NotFound, "conversation_not_found"):
        await env.messages.send(alice, "thread:m_missing", "x", "r-3")
    with fails(NotFound, "conversation_not_found"):
        await env.messages.history(alice, "thread:")
    with fails(InvalidRequest, "invalid_reply"):  # replies quote messages of the thread
        await env.messages.send(alice, tid, "x", "r-4", reply_to=root.id)
    quoted = await env.messages.send(alice, tid, "quoting", "r-5", reply_to=reply.id)
    assert quoted.message.reply_to == reply.id

    # the author edits and deletes a reply as any message; the event reaches the channel
    await env.messages.edit(bob, reply.id, "edited")
    assert env.seen("message.edited", group_topic(gid))[-1].data["conversation"] == tid

    # a deleted root keeps its thread readable and open; a new thread needs a live root
    await env.messages.delete(alice, root.id)
    assert [m.body for m in (await env.messages.history(bob, tid)).messages] == [
        "quoting",
        "edited",
    ]
    assert (await env.messages.send(bob, tid, "still here", "r-6")).message.seq == 3
    deleted = (await env.messages.history(bob, channel)).messages[0]
    assert deleted.deleted and deleted.thread is not None and deleted.thread.count == 3
    gone = (await env.messages.send(alice, channel, "short-lived", "r-7")).message
    await env.messages.delete(alice, gone.id)
    with fails(NotFound, "message_not_found"):
        await env.messages.send(bob, f"thread:{gone.id}", "too late", "r-8")

    # send_many takes thread items like any others
    items = [SendItem(alice, tid, f"batch {i}", f"r-b{i}") for i in range(3)]
    outcomes = await env.messages.send_many(items)
    assert [o.message.seq for o in outcomes if isinstance(o, SendResult)] == [4, 5, 6]
    assert env.seen("message.thread", group_topic(gid))[-1].data["thread"]["count"] == 6


async def test_outsiders_and_kicked_members_get_nothing_of_a_thread(services: ServiceEnv) -> None:
    env = services
    alice, bob, gid, channel = await chatting_in_a_channel(env)
    _, carol = await env.user()
    root = (await env.messages.send(alice, channel, "members only", "o-root")).message
    tid = f"thread:{root.id}"
    reply = (await env.messages.send(bob, tid, "indeed", "o-1")).message
    for who in (carol,):
        with fails(NotFound, "conversation_not_found"):
            await env.messages.send(who, tid, "let me in", "o-2")
        with fails(NotFound, "conversation_not_found"):
            await env.messages.history(who, tid)
        with fails(NotFound, "conversation_not_found"):
            await env.messages.replay(who, tid, 0, 10)
        with fails(NotFound, "conversation_not_found"):
            await env.messages.mark_read(who, tid, 1)
        with fails(NotFound, "conversation_not_found"):
            await env.messages.typing(who, tid)
        with fails(NotFound, "message_not_found"):
            await env.messages.edit(who, reply.id, "mine now")
        with fails(NotFound, "conversation_not_found"):  # not even thread_nested
            await env.messages.history(who, f"thread:{reply.id}")
        with fails(NotFound, "conversation_not_found"):
            await env.messages.send(who, f"thread:{reply.id}", "x", "o-n")
    await env.groups.kick(alice, gid, bob.user_id)
    with fails(NotFound, "conversation_not_found"):
        await env.messages.send(bob, tid, "still?", "o-3")
    with fails(NotFound, "conversation_not_found"):
        await env.messages.history(bob, tid)
    with fails(NotFound, "conversation_not_found"):
        await env.messages.replay(bob, tid, 0, 10)
    with fails(NotFound, "message_not_found"):
        await env.messages.delete(bob, reply.id)
    assert (await env.messages.history(alice, tid)).messages[0].body == "indeed"


async def test_threads_in_direct_conversations_follow_the_pair(services: ServiceEnv) -> None:
    env = services
    _, alice = await env.user()
    _, bob = await env.user()
    _, carol = await env.user()
    dm = (await env.messages.open_direct(alice, bob.user_id)).conversation.id
    root = (await env.messages.send(alice, dm, "psst", "d-root")).message
    tid = f"thread:{root.id}"
    await env.watch(user_topic(bob.user_id))
    await env.messages.send(bob, tid, "yes?", "d-1")
    assert [
        e.data["conversation"] for e in env.seen("message.thread", user_topic(bob.user_id))
    ] == [dm]
    with fails(NotFound, "conversation_not_found"):
        await env.messages.history(carol, tid)
    await env.messages.block(bob, alice.user_id)
    with fails(Forbidden, "blocked"):  # a block covers the pair's threads too
        await env.messages.send(alice, tid, "hello?", "d-2")
    notes = f"self:{alice.user_id}"
    mine = (await env.messages.send(alice, notes, "todo", "d-3")).message
    assert (await env.messages.send(alice, f"thread:{mine.id}", "sub", "d-4")).message.seq == 1
    with fails(NotFound, "conversation_not_found"):
        await env.messages.history(bob, f"thread:{mine.id}")
