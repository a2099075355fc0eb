"""Contract: conversations, messages, read markers and blocks."""

from __future__ import annotations

import asyncio

import pytest

from nodechat.errors import Conflict, NotFound
from nodechat.models import (
    Conversation,
    ConversationKind,
    Message,
    direct_conversation_id,
    self_conversation_id,
)
from nodechat.storage import AppendResult, Store
from nodechat.storage.base import NewMessage

T0 = 1_700_000_000_000
DM = direct_conversation_id("usr_a", "usr_b")


async def make_dm(store: Store, a: str = "usr_a", b: str = "usr_b") -> Conversation:
    return await store.messages.ensure_conversation(
        Conversation(
            id=direct_conversation_id(a, b), kind=ConversationKind.DIRECT, participants=(b, a)
        )
    )


async def post(
    store: Store, n: int, *, author: str = "usr_a", conversation: str = DM, nonce: str | None = None
) -> AppendResult:
    return await store.messages.append(
        conversation,
        message_id=f"msg_{n:04d}",
        author_id=author,
        body=f"body {n}",
        nonce=nonce if nonce is not None else f"nonce-{n}",
        reply_to=None,
        now=T0 + n,
    )


async def test_ensure_direct_conversation_is_idempotent(store: Store) -> None:
    created = await make_dm(store, "usr_b", "usr_a")
    assert created == Conversation(
        id=DM, kind=ConversationKind.DIRECT, participants=("usr_a", "usr_b"), last_seq=0
    )
    await post(store, 1)
    again = await make_dm(store)
    assert again.last_seq == 1  # the stored row, not the argument
    assert await store.messages.get_conversation(DM) == again
    assert await store.messages.get_conversation("dm:nobody") is None


async def test_ensure_self_conversation(store: Store) -> None:
    sid = self_conversation_id("usr_a")
    stored = await store.messages.ensure_conversation(
        Conversation(id=sid, kind=ConversationKind.SELF, participants=("usr_a",))
    )
    assert stored == Conversation(id=sid, kind=ConversationKind.SELF, participants=("usr_a",))
    assert await store.messages.list_direct("usr_a") == []


async def test_list_direct_and_last_seqs(store: Store) -> None:
    await make_dm(store, "usr_a", "usr_b")
    await make_dm(store, "usr_c", "usr_a")
    await make_dm(store, "usr_b", "usr_c")
    ids = {c.id for c in await store.messages.list_direct("usr_a")}
    assert ids == {DM, direct_conversation_id("usr_a", "usr_c")}
    assert all(len(c.participants) == 2 for c in await store.messages.list_direct("usr_a"))
    await post(store, 1)
    await post(store, 2)
    assert await store.messages.last_seqs([DM, direct_conversation_id("usr_b", "usr_c"), "x"]) == {
        DM: 2,
        direct_conversation_id("usr_b", "usr_c"): 0,
    }
    assert await store.messages.last_seqs([]) == {}


async def test_append_assigns_seqs_and_is_idempotent_on_nonce(store: Store) -> None:
    await make_dm(store)
    first = await post(store, 1)
    assert first.created and first.message.seq == 1
    assert first.message.body == "body 1" and first.message.created_at == T0 + 1
    assert await store.messages.get_message("msg_0001") == first.message
    second = await post(store, 2)
    assert second.created and second.message.seq == 2

    repeat = await store.messages.append(
        DM,
        message_id="msg_other",
        author_id="usr_a",
        body="changed",
        nonce="nonce-1",
        reply_to=None,
        now=T0 + 9,
    )
    assert repeat == AppendResult(first.message, created=False)
    assert await store.messages.get_message("msg_other") is None
    assert (await store.messages.get_conversation(DM)).last_seq == 2  # type: ignore[union-attr]

    # The same nonce from another author is a different message.
    other = await post(store, 3, author="usr_b", nonce="nonce-1")
    assert other.created and other.message.seq == 3

    reply = await store.messages.append(
        DM, message_id="msg_r", author_id="usr_b", body="re", nonce="r", reply_to="msg_0001", now=T0
    )
    assert (await store.messages.get_message("msg_r")).reply_to == "msg_0001"  # type: ignore[union-attr]
    assert reply.message.reply_to == "msg_0001"


async def test_append_to_missing_conversation(store: Store) -> None:
    with pytest.raises(NotFound) as err:
        await post(store, 1, conversation="dm:ghost")
    assert err.value.code == "conversation_not_found"
    assert await store.messages.count_messages() == 0


async def test_concurrent_appends_get_gap_free_seqs(store: Store) -> None:
    await make_dm(store)
    results = await asyncio.gather(*(post(store, n) for n in range(300)))
    assert all(r.created for r in results)
    assert sorted(r.message.seq for r in results) == list(range(1, 301))
    stored = await store.messages.history(DM, limit=1000)
    assert sorted(m.seq for m in stored) == list(range(1, 301))
    assert {m.id: m.seq for m in stored} == {r.message.id: r.message.seq for r in results}
    assert (await store.messages.get_conversation(DM)).last_seq == 300  # type: ignore[union-attr]


async def test_concurrent_repeats_of_one_nonce_store_one_message(store: Store) -> None:
    await make_dm(store)
    results = await asyncio.gather(
        *(
            store.messages.append(
                DM,
                message_id=f"msg_{n}",
                author_id="usr_a",
                body="once",
                nonce="the-nonce",
                reply_to=None,
                now=T0,
            )
            for n in range(50)
        )
    )
    assert sum(r.created for r in results) == 1
    assert len({r.message.id for r in results}) == 1
    assert {r.message.seq for r in results} == {1}
    assert await store.messages.count_messages() == 1
    assert (await store.messages.get_conversation(DM)).last_seq == 1  # type: ignore[union-attr]


async def test_edit_and_delete_message(store: Store) -> None:
    await make_dm(store)
    await post(store, 1)
    edited = await store.messages.edit_message("msg_0001", "new body", T0 + 100)
    assert (edited.body, edited.edited_at, edited.seq) == ("new body", T0 + 100, 1)
    assert await store.messages.get_message("msg_0001") == edited

    deleted = await store.messages.delete_message("msg_0001", T0 + 200)
    assert deleted.deleted and deleted.body == "" and deleted.seq == 1
    assert await store.messages.get_message("msg_0001") == deleted
    assert (await store.messages.delete_message("msg_0001", T0 + 300)).deleted
    with pytest.raises(Conflict):
        await store.messages.edit_message("msg_0001", "resurrect", T0 + 400)
    assert (await store.messages.get_message("msg_0001")).body == ""  # type: ignore[union-attr]
    assert await store.messages.count_messages() == 1  # the seq stays: no gap

    with pytest.raises(NotFound):
        await store.messages.edit_message("msg_ghost", "x", T0)
    with pytest.raises(NotFound):
        await store.messages.delete_message("msg_ghost", T0)


async def test_history_directions_and_limits(store: Store) -> None:
    await make_dm(store)
    for n in range(1, 11):
        await post(store, n)
    await make_dm(store, "usr_a", "usr_z")
    await post(store, 99, conversation=direct_conversation_id("usr_a", "usr_z"))

    def seqs(messages: list[Message]) -> list[int]:
        return [m.seq for m in messages]

    assert seqs(await store.messages.history(DM)) == list(range(10, 0, -1))
    assert seqs(await store.messages.history(DM, limit=3)) == [10, 9, 8]
    assert seqs(await store.messages.history(DM, before=4)) == [3, 2, 1]
    assert seqs(await store.messages.history(DM, before=8, limit=2)) == [7, 6]
    assert seqs(await store.messages.history(DM, after=7)) == [8, 9, 10]
    assert seqs(await store.messages.history(DM, after=2, limit=3)) == [3, 4, 5]
    assert seqs(await store.messages.history(DM, after=0, limit=2)) == [1, 2]
    assert await store.messages.history(DM, after=10) == []
    assert await store.messages.history(DM, before=1) == []
    assert await store.messages.history("dm:ghost") == []


async def test_read_markers_only_move_forward(store: Store) -> None:
    await make_dm(store)
    assert await store.messages.set_read_marker("usr_a", DM, 5) == 5
    assert await store.messages.set_read_marker("usr_a", DM, 3) == 5
    assert await store.messages.set_read_marker("usr_a", DM, 7) == 7
    assert await store.messages.set_read_marker("usr_b", DM, 1) == 1
    assert await store.messages.read_markers("usr_a", [DM, "dm:other"]) == {DM: 7, "dm:other": 0}
    assert await store.messages.read_markers("usr_c", [DM]) == {DM: 0}
    assert await store.messages.read_markers("usr_a", []) == {}


async def test_unread_counts(store: Store) -> None:
    await make_dm(store)
    other = (await make_dm(store, "usr_a", "usr_c")).id
    quiet = (await make_dm(store, "usr_a", "usr_d")).id
    for n in range(1, 6):  # seqs 1..5: b, a, b, a, b
        await post(store, n, author="usr_b" if n % 2 else "usr_a")
    for n in range(6, 9):
        await post(store, n, author="usr_c", conversation=other)

    counts = await store.messages.unread_counts("usr_a", [DM, other, quiet, "dm:ghost"])
    assert counts == {DM: 3, other: 3, quiet: 0, "dm:ghost": 0}

    await store.messages.delete_message("msg_0005", T0)  # seq 5, by usr_b
    await store.messages.set_read_marker("usr_a", DM, 1)
    await store.messages.set_read_marker("usr_a", other, 2)
    assert await store.messages.unread_counts("usr_a", [DM, other]) == {DM: 1, other: 1}
    # usr_b sees usr_a's two messages; their own never count.
    assert await store.messages.unread_counts("usr_b", [DM]) == {DM: 2}
    assert await store.messages.unread_counts("usr_a", []) == {}


async def test_block_unblock_is_symmetric_check(store: Store) -> None:
    assert not await store.messages.is_blocked("usr_a", "usr_b")
    await store.messages.block("usr_a", "usr_b", T0)
    await store.messages.block("usr_a", "usr_b", T0 + 1)  # idempotent
    assert await store.messages.is_blocked("usr_a", "usr_b")
    assert await store.messages.is_blocked("usr_b", "usr_a")
    assert not await store.messages.is_blocked("usr_a", "usr_c")
    await store.messages.unblock("usr_b", "usr_a")  # not the blocker: no effect
    assert await store.messages.is_blocked("usr_b", "usr_a")
    await store.messages.unblock("usr_a", "usr_b")
    await store.messages.unblock("usr_a", "usr_b")  # idempotent
    assert not await store.messages.is_blocked("usr_a", "usr_b")


async def test_count_messages(store: Store) -> None:
    assert await store.messages.count_messages() == 0
    await make_dm(store)
    for n in range(4):
        await post(store, n)
    assert await store.messages.count_messages() == 4


async def test_ordered_appends_keep_call_order_in_one_commit(store: Store) -> None:
    """Stores that claim ``ordered_appends`` store appends in call order, unawaited."""
    await make_dm(store)
    appends = [asyncio.ensure_future(post(store, n)) for n in range(1, 41)]
    results = await asyncio.gather(*appends)
    seqs = [r.message.seq for r in results]
    if store.messages.ordered_appends:
        assert seqs == list(range(1, 41))
    else:  # no order is promised, but still gap-free
        assert sorted(seqs) == list(range(1, 41))


async def test_count_messages_by_day(store: Store) -> None:
    day = 86_400_000
    start = (T0 // day) * day  # midnight UTC of T0's day
    first = start // day
    await make_dm(store)
    times = [start, start + day - 1, start + day, start + 3 * day + 5, start + 9 * day]
    for n, at in enumerate(times):
        await store.messages.append(
            DM,
            message_id=f"msg_{n:04d}",
            author_id="usr_a",
            body=f"body {n}",
            nonce=f"nonce-{n}",
            reply_to=None,
            now=at,
        )
    await store.messages.delete_message("msg_0001", start + 9 * day)  # deleted ones count too
    assert await store.messages.count_messages_by_day(start, start + 9 * day) == {
        first: 2,
        first + 1: 1,
        first + 3: 1,
    }  # `until` is exclusive, empty days absent
    assert await store.messages.count_messages_by_day(start + 1, start + day + 1) == {
        first: 1,
        first + 1: 1,
    }
    assert await store.messages.count_messages_by_day(start + 10 * day, start + 11 * day) == {}


async def test_append_many_answers_each_item_in_order(store: Store) -> None:
    await make_dm(store)
    await post(store, 1)  # nonce-1 exists; msg_0001 is taken

    def new(n: int, **over: str) -> NewMessage:
        fields = {
            "conversation_id": DM,
            "message_id": f"mm_{n:04d}",
            "author_id": "usr_a",
            "body": f"many {n}",
            "nonce": f"many-{n}",
        } | over
        return NewMessage(reply_to=None, now=T0 + n, **fields)  # type: ignore[arg-type]

    items = [new(n) for n in range(10)]
    items[3] = new(3, conversation_id="dm:usr_x:usr_y")  # no such conversation
    items[5] = new(5, nonce="nonce-1")  # a retry of the stored message 1
    items[7] = new(7, message_id="msg_0001")  # an id that is taken
    results = await store.messages.append_many(items)

    assert isinstance(results[3], NotFound)
    assert isinstance(results[7], Conflict)
    again = results[5]
    assert isinstance(again, AppendResult) and not again.created and again.message.seq == 1
    made = [r for i, r in enumerate(results) if i not in (3, 5, 7)]
    assert all(isinstance(r, AppendResult) and r.created for r in made)
    assert [r.message.seq for r in made if isinstance(r, AppendResult)] == list(range(2, 9))
    # the failed items left nothing behind: no seq was used up, no row written
    assert (await store.messages.get_conversation(DM)).last_seq == 8  # type: ignore[union-attr]
    assert await store.messages.get_message("mm_0007") is None
    assert await store.messages.append_many([]) == []
