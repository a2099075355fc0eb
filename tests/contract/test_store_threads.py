"""Contract: thread conversations and their summaries, on every store backend."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from nodechat.errors import NotFound
from nodechat.models import Conversation, ConversationKind, ThreadSummary
from nodechat.storage import Store
from nodechat.storage.mongo import indexes as mongo_layout
from nodechat.storage.mongo.engine import Db
from nodechat.storage.postgres import schema as postgres_schema
from nodechat.storage.sqlite.schema import MIGRATIONS as SQLITE_MIGRATIONS
from tests.contract.test_store_groups import G, make_group
from tests.contract.test_store_messages import DM, T0, make_dm, post
from tests.store_upgrades import (
    mongo_indexes,
    mongo_upgrade,
    postgres_upgrade,
    set_layout_version,
    sqlite_upgrade,
)

# the index of the migration that adds conversations.parent_id
SQLITE_BEFORE = next(i for i, script in enumerate(SQLITE_MIGRATIONS) if "parent_id" in script)
POSTGRES_BEFORE = next(
    i for i, script in enumerate(postgres_schema.MIGRATIONS) if "parent_id" in script
)


def thread(root: str, parent: str, group_id: str | None = None) -> Conversation:
    return Conversation(f"thread:{root}", ConversationKind.THREAD, group_id, parent_id=parent)


async def reply(store: Store, root: str, n: int, *, now: int | None = None) -> int:
    result = await store.messages.append(
        f"thread:{root}",
        message_id=f"rep_{root}_{n}",
        author_id="usr_b",
        body=f"reply {n}",
        nonce=f"rep-{root}-{n}",
        reply_to=None,
        now=T0 + 100 + n if now is None else now,
    )
    return result.message.seq


async def test_a_thread_is_a_conversation_with_its_parent(store: Store) -> None:
    await make_dm(store)
    await post(store, 1)
    opened = await store.messages.ensure_conversation(thread("msg_0001", DM))
    assert opened.kind is ConversationKind.THREAD and opened.parent_id == DM
    assert opened.last_seq == 0
    assert await store.messages.get_conversation("thread:msg_0001") == opened
    again = await store.messages.ensure_conversation(thread("msg_0001", DM))
    assert again == opened  # opening twice keeps the first
    # a thread is not one of the user's direct conversations
    assert [c.id for c in await store.messages.list_direct("usr_a")] == [DM]


async def test_thread_ids_lists_the_threads_under_given_conversations(store: Store) -> None:
    await make_dm(store)
    await post(store, 1)
    await post(store, 2)
    assert await store.threads.thread_ids([DM]) == []
    await store.messages.ensure_conversation(thread("msg_0001", DM))
    await store.messages.ensure_conversation(thread("msg_0002", DM))
    assert sorted(await store.threads.thread_ids([DM, "dm:none"])) == [
        "thread:msg_0001",
        "thread:msg_0002",
    ]
    assert await store.threads.thread_ids(["dm:none"]) == []
    assert await store.threads.thread_ids([]) == []


async def test_thread_seqs_are_their_own_and_gap_free(store: Store) -> None:
    await make_dm(store)
    await post(store, 1)
    await store.messages.ensure_conversation(thread("msg_0001", DM))
    seqs = await asyncio.gather(*(reply(store, "msg_0001", n) for n in range(1, 6)))
    assert sorted(seqs) == [1, 2, 3, 4, 5]
    assert (await store.messages.last_seqs([DM, "thread:msg_0001"])) == {
        DM: 1,
        "thread:msg_0001": 5,
    }
    page = await store.messages.history("thread:msg_0001", before=4, limit=2)
    assert [m.seq for m in page] == [3, 2]
    after = await store.messages.history("thread:msg_0001", after=3, limit=10)
    assert [m.seq for m in after] == [4, 5]


async def test_summary_counts_replies_and_their_last_time(store: Store) -> None:
    await make_dm(store)
    await post(store, 1)
    await post(store, 2)
    await store.messages.ensure_conversation(thread("msg_0001", DM))
    await store.messages.ensure_conversation(thread("msg_0002", DM))  # opened, no reply yet
    for n, at in ((1, T0 + 500), (2, T0 + 900)):
        await reply(store, "msg_0001", n, now=at)
    found = await store.threads.summaries(["thread:msg_0001", "thread:msg_0002", "thread:none", DM])
    assert found == {"thread:msg_0001": ThreadSummary("thread:msg_0001", 2, T0 + 900)}
    assert await store.threads.summaries([]) == {}


async def test_thread_unread_and_markers_reuse_the_conversation_machinery(store: Store) -> None:
    await make_dm(store)
    await post(store, 1)
    await store.messages.ensure_conversation(thread("msg_0001", DM))
    for n in (1, 2, 3):
        await reply(store, "msg_0001", n)
    tid = "thread:msg_0001"
    assert await store.messages.unread_counts("usr_a", [tid]) == {tid: 3}
    assert await store.messages.set_read_marker("usr_a", tid, 2) == 2
    assert await store.messages.unread_counts("usr_a", [tid]) == {tid: 1}
    assert await store.messages.read_markers("usr_a", [tid, DM]) == {tid: 2, DM: 0}


async def test_a_deleted_root_keeps_its_thread(store: Store) -> None:
    await make_dm(store)
    await post(store, 1)
    await store.messages.ensure_conversation(thread("msg_0001", DM))
    await reply(store, "msg_0001", 1)
    await store.messages.delete_message("msg_0001", T0 + 50)
    assert [m.body for m in await store.messages.history("thread:msg_0001")] == ["reply 1"]
    assert (await store.threads.summaries(["thread:msg_0001"]))["thread:msg_0001"].count == 1


async def test_a_thread_of_a_missing_parent_is_refused(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.messages.ensure_conversation(thread("msg_x", "dm:usr_x:usr_y"))
    assert await store.messages.get_conversation("thread:msg_x") is None


async def test_deleting_a_channel_takes_its_threads(store: Store) -> None:
    await make_group(store)
    await store.messages.append(
        "chn_general",
        message_id="msg_root",
        author_id="usr_owner",
        body="hi",
        nonce="n1",
        reply_to=None,
        now=T0,
    )
    await store.messages.ensure_conversation(thread("msg_root", "chn_general", G))
    await reply(store, "msg_root", 1)
    await store.groups.delete_channel("chn_general")
    assert await store.messages.get_conversation("thread:msg_root") is None
    assert await store.messages.history("thread:msg_root") == []
    assert await store.threads.summaries(["thread:msg_root"]) == {}


async def test_deleting_a_group_takes_its_threads(store: Store) -> None:
    await make_group(store)
    await store.messages.append(
        "chn_random",
        message_id="msg_root",
        author_id="usr_owner",
        body="hi",
        nonce="n1",
        reply_to=None,
        now=T0,
    )
    await store.messages.ensure_conversation(thread("msg_root", "chn_random", G))
    await reply(store, "msg_root", 1)
    await store.groups.delete_group(G)
    assert await store.messages.get_conversation("thread:msg_root") is None
    assert await store.count_rows("messages") == 0


# -- existing databases get the threads column --------------------------------


async def _thread_after_upgrade(store: Store) -> None:
    await make_dm(store)
    await post(store, 1)
    opened = await store.messages.ensure_conversation(thread("msg_0001", DM))
    assert opened.parent_id == DM
    await reply(store, "msg_0001", 1)
    assert (await store.threads.summaries(["thread:msg_0001"]))["thread:msg_0001"].count == 1
    old = await store.messages.get_conversation(DM)
    assert old is not None and old.parent_id is None


async def test_sqlite_database_before_threads_is_migrated(tmp_path: Path) -> None:
    await sqlite_upgrade(tmp_path / "chat.db", SQLITE_BEFORE, _thread_after_upgrade)


async def test_postgresql_database_before_threads_is_migrated() -> None:
    await postgres_upgrade(POSTGRES_BEFORE, _thread_after_upgrade)


async def test_mongodb_layout_before_threads_is_upgraded(tmp_path: Path) -> None:
    def downgrade(db: Db) -> None:  # as a database written before threads
        set_layout_version(db, mongo_layout.LAYOUT_VERSION - 1)
        db["conversations"].drop_index("parent_id_1")

    async def check(store: Store) -> None:
        assert "parent_id_1" in await mongo_indexes(store, "conversations")
        await _thread_after_upgrade(store)

    await mongo_upgrade(tmp_path, downgrade, check)
