"""message.search behaves the same locally and over gRPC, and never leaks.

Runs in both modes of ``service_env`` (local services, and the Remote* clients of a
real gRPC server). The membership tests: an outsider and a kicked member find
nothing of a group, and cannot name one of its channels as the conversation filter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from nodechat.errors import ChatError, InvalidRequest, NotFound
from nodechat.models import Identity, self_conversation_id
from nodechat.services.api import SearchPage, SearchRequest
from nodechat.services.search import MAX_LIMIT
from tests.contract.service_env import MODES, ServiceEnv, open_services

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=MODES)
async def services(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ServiceEnv]:
    """The role interfaces, local or over gRPC."""
    async with open_services(request.param, tmp_path) as env:
        yield env


@contextmanager
def fails(cls: type[ChatError], code: str, **details: Any) -> Iterator[None]:
    """The block raises exactly ``cls`` with ``code`` (and these details)."""
    with pytest.raises(ChatError) as info:
        yield
    assert type(info.value) is cls, f"{type(info.value).__name__}: {info.value.to_dict()}"
    assert info.value.code == code
    for key, value in details.items():
        assert info.value.details[key] == value


async def _group(env: ServiceEnv, owner: Identity, *members: Identity) -> tuple[str, str]:
    view = await env.groups.create_group(owner, "Book club", "we read")
    for who in members:
        invite = await env.groups.create_invite(owner, view.group.id)
        await env.groups.join(who, invite.code)
    return view.group.id, view.channels[0].id


async def _search(env: ServiceEnv, who: Identity, text: str, **kw: Any) -> SearchPage:
    return await env.messages.search(who, SearchRequest(text, **kw))


def _bodies(page: SearchPage) -> list[str]:
    return [hit.message.body for hit in page.hits]


async def test_search_finds_across_channels_dms_and_notes(services: ServiceEnv) -> None:
    env = services
    _, alice = await env.user()
    _, bob = await env.user()
    _, channel = await _group(env, alice, bob)
    dm = (await env.messages.open_direct(alice, bob.user_id)).conversation.id
    notes = self_conversation_id(alice.user_id)
    await env.messages.send(bob, channel, "the meeting is at noon", "n1")
    await env.messages.send(bob, dm, "about the meeting tomorrow", "n2")
    await env.messages.send(alice, notes, "meeting notes for myself", "n3")
    await env.messages.send(alice, channel, "lunch anyone?", "n4")

    page = await _search(env, alice, "Meeting")
    assert sorted(_bodies(page)) == [
        "about the meeting tomorrow",
        "meeting notes for myself",
        "the meeting is at noon",
    ]
    assert {hit.message.conversation_id for hit in page.hits} == {channel, dm, notes}
    assert page.next_cursor is None
    hit = next(h for h in page.hits if h.message.conversation_id == channel)
    ((start, end),) = hit.highlights
    assert hit.snippet[start:end] == "meeting"
    # Bob cannot read Alice's notes
    assert sorted(_bodies(await _search(env, bob, "meeting"))) == [
        "about the meeting tomorrow",
        "the meeting is at noon",
    ]


async def test_filters_by_conversation_author_and_time(services: ServiceEnv) -> None:
    env = services
    _, alice = await env.user()
    _, bob = await env.user()
    _, channel = await _group(env, alice, bob)
    dm = (await env.messages.open_direct(alice, bob.user_id)).conversation.id
    first = (await env.messages.send(alice, channel, "release one", "n1")).message
    second = (await env.messages.send(bob, channel, "release two", "n2")).message
    await env.messages.send(bob, dm, "release three", "n3")

    assert sorted(_bodies(await _search(env, alice, "release", conversation_id=channel))) == [
        "release one",
        "release two",
    ]
    only_bob = await _search(env, alice, "release", author_id=bob.user_id)
    assert sorted(_bodies(only_bob)) == ["release three", "release two"]
    before = await _search(env, alice, "release", before=second.created_at)
    assert {h.message.id for h in before.hits} <= {first.id}
    after = await _search(env, alice, "release", after=first.created_at - 1)
    assert first.id in {h.message.id for h in after.hits}


async def test_cursor_pages_are_disjoint_and_complete(services: ServiceEnv) -> None:
    env = services
    _, alice = await env.user()
    notes = self_conversation_id(alice.user_id)
    for i in range(7):
        await env.messages.send(alice, notes, f"todo item {i}", f"n{i}")
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await _search(env, alice, "todo", cursor=cursor, limit=3)
        seen.extend(h.message.id for h in page.hits)
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
        # a message sent between pages does not shift them (the cursor holds the time)
        await env.messages.send(alice, notes, f"todo later {pages}", f"later{pages}")
    assert pages == 3 and len(seen) == 7 == len(set(seen))


async def test_edits_and_deletes_show_in_results(services: ServiceEnv) -> None:
    env = services
    _, alice = await env.user()
    notes = self_conversation_id(alice.user_id)
    kept = (await env.messages.send(alice, notes, "buy milk", "n1")).message
    gone = (await env.messages.send(alice, notes, "buy bread", "n2")).message
    await env.messages.edit(alice, kept.id, "buy oat milk")
    await env.messages.delete(alice, gone.id)
    page = await _search(env, alice, "buy")
    assert [(h.message.id, h.message.body) for h in page.hits] == [(kept.id, "buy oat milk")]
    assert (await _search(env, alice, "bread")).hits == []


async def test_outsider_and_kicked_member_find_nothing(services: ServiceEnv) -> None:
    env = services
    _, alice = await env.user()
    _, bob = await env.user()
    _, mallory = await env.user()
    gid, channel = await _group(env, alice, bob)
    await env.messages.send(alice, channel, "the secret plan", "n1")
    assert len((await _search(env, bob, "secret")).hits) == 1

    await env.groups.kick(alice, gid, bob.user_id)
    for who in (bob, mallory):
        assert (await _search(env, who, "secret")).hits == []
        with fails(NotFound, "conversation_not_found"):
            await _search(env, who, "secret", conversation_id=channel)
    # a conversation that does not exist answers the same
    with fails(NotFound, "conversation_not_found"):
        await _search(env, mallory, "secret", conversation_id="ch_nonexistent")


async def test_bad_requests_get_stable_codes(services: ServiceEnv) -> None:
    env = services
    _, alice = await env.user()
    await env.messages.send(alice, self_conversation_id(alice.user_id), "a * b", "n1")
    for empty in ("", "   ", '"" * - : ()', "_"):
        with fails(InvalidRequest, "invalid_query", field="query"):
            await _search(env, alice, empty)
    with fails(InvalidRequest, "invalid_query"):
        await _search(env, alice, " ".join(f"w{i}" for i in range(17)))
    for limit in (0, MAX_LIMIT + 1):
        with fails(InvalidRequest, "invalid_request", field="limit"):
            await _search(env, alice, "a", limit=limit)
    for cursor in ("x", "1", "-1.5", "².1", "1000.5", "1.2.3"):
        with fails(InvalidRequest, "invalid_cursor", field="cursor"):
            await _search(env, alice, "a", cursor=cursor)
    with fails(InvalidRequest, "invalid_request", field="before"):
        await _search(env, alice, "a", before=-1)
    # hostile text is only words: no engine syntax error, whatever it holds
    for text in ['"a', "a NEAR b", "a*", "-a", "a:b", "NEAR(a b)", "a OR b", "^a", "b'a"]:
        assert isinstance((await _search(env, alice, text)).hits, list)
    assert len((await _search(env, alice, '"A" *')).hits) == 1


async def test_thread_replies_are_found_by_who_may_read_the_parent(services: ServiceEnv) -> None:
    env = services
    _, alice = await env.user()
    _, bob = await env.user()
    _, mallory = await env.user()
    gid, channel = await _group(env, alice, bob)
    root = (await env.messages.send(alice, channel, "who brings the kettle", "n1")).message
    thread = f"thread:{root.id}"
    await env.messages.send(bob, thread, "I bring the kettle", "r1")
    dm = (await env.messages.open_direct(alice, bob.user_id)).conversation.id
    dm_root = (await env.messages.send(alice, dm, "our kettle", "n2")).message
    await env.messages.send(bob, f"thread:{dm_root.id}", "the kettle is broken", "r2")

    page = await _search(env, alice, "kettle")
    assert {hit.message.conversation_id for hit in page.hits} == {
        channel,
        thread,
        dm,
        f"thread:{dm_root.id}",
    }
    # a channel's filter covers its threads; a thread's filter only the thread
    in_channel = await _search(env, alice, "kettle", conversation_id=channel)
    assert sorted(_bodies(in_channel)) == ["I bring the kettle", "who brings the kettle"]
    assert _bodies(await _search(env, alice, "kettle", conversation_id=thread)) == [
        "I bring the kettle"
    ]

    await env.groups.kick(alice, gid, bob.user_id)
    assert {h.message.conversation_id for h in (await _search(env, bob, "kettle")).hits} == {
        dm,
        f"thread:{dm_root.id}",
    }
    for who in (bob, mallory):
        with fails(NotFound, "conversation_not_found"):
            await _search(env, who, "kettle", conversation_id=thread)
    assert (await _search(env, mallory, "kettle")).hits == []
