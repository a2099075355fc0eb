"""Contract: emoji reactions on messages, on every store backend."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import psycopg
import pytest

from nodechat.errors import Conflict, NotFound
from nodechat.models import Conversation, ConversationKind, Reaction, direct_conversation_id
from nodechat.storage import Store
from nodechat.storage.base import ReactionChange
from nodechat.storage.mongo import indexes as mongo_layout
from nodechat.storage.mongo import open_mongo
from nodechat.storage.mongo.engine import Db
from nodechat.storage.postgres import open_postgres
from nodechat.storage.postgres import schema as postgres_schema
from nodechat.storage.sqlite import open_sqlite
from nodechat.storage.sqlite.engine import Database
from nodechat.storage.sqlite.schema import MIGRATIONS
from tests import mongo_databases
from tests.postgres_databases import create_database, drop_database

T0 = 1_700_000_000_000
DM = direct_conversation_id("usr_a", "usr_b")
LIMIT = 20


async def _message(store: Store, n: int = 1) -> str:
    await store.messages.ensure_conversation(
        Conversation(DM, ConversationKind.DIRECT, participants=("usr_a", "usr_b"))
    )
    result = await store.messages.append(
        DM,
        message_id=f"msg_{n:04d}",
        author_id="usr_a",
        body=f"body {n}",
        nonce=f"nonce-{n}",
        reply_to=None,
        now=T0 + n,
    )
    return result.message.id


async def _react(store: Store, mid: str, emoji: str, user: str, at: int = 0) -> ReactionChange:
    return await store.reactions.add_reaction(mid, emoji, user, T0 + at, max_distinct=LIMIT)


async def test_add_counts_and_repeats_change_nothing(store: Store) -> None:
    mid = await _message(store)
    assert await _react(store, mid, "👍", "usr_a") == ReactionChange(1, True)
    assert await _react(store, mid, "👍", "usr_b") == ReactionChange(2, True)
    assert await _react(store, mid, "👍", "usr_b") == ReactionChange(2, False)
    assert await _react(store, mid, ":tada:", "usr_b", 5) == ReactionChange(1, True)


async def test_summaries_per_viewer_in_first_use_order(store: Store) -> None:
    first, second = await _message(store, 1), await _message(store, 2)
    await _react(store, first, "🎉", "usr_b", 1)
    await _react(store, first, "👍", "usr_a", 2)
    await _react(store, first, "👍", "usr_b", 3)
    await _react(store, second, "😀", "usr_a", 4)
    seen_by_a = await store.reactions.reactions([first, second, "msg_none"], "usr_a")
    assert seen_by_a == {
        first: (Reaction("🎉", 1, False), Reaction("👍", 2, True)),
        second: (Reaction("😀", 1, True),),
    }
    seen_by_b = await store.reactions.reactions([first], "usr_b")
    assert seen_by_b == {first: (Reaction("🎉", 1, True), Reaction("👍", 2, True))}
    assert await store.reactions.reactions([], "usr_a") == {}


async def test_remove_is_idempotent(store: Store) -> None:
    mid = await _message(store)
    await _react(store, mid, "👍", "usr_a")
    await _react(store, mid, "👍", "usr_b")
    assert await store.reactions.remove_reaction(mid, "👍", "usr_a") == ReactionChange(1, True)
    assert await store.reactions.remove_reaction(mid, "👍", "usr_a") == ReactionChange(1, False)
    assert await store.reactions.remove_reaction(mid, "🎉", "usr_a") == ReactionChange(0, False)
    assert await store.reactions.reactions([mid], "usr_a") == {mid: (Reaction("👍", 1, False),)}
    await store.reactions.remove_reaction(mid, "👍", "usr_b")
    assert await store.reactions.reactions([mid], "usr_a") == {}


async def test_distinct_emoji_limit(store: Store) -> None:
    mid = await _message(store)
    for i in range(LIMIT):
        await _react(store, mid, f":e{i:02d}:", "usr_a", i)
    with pytest.raises(Conflict) as refused:
        await _react(store, mid, ":one_more:", "usr_b")
    assert refused.value.code == "too_many_reactions"
    # an emoji already there still takes more people
    assert await _react(store, mid, ":e00:", "usr_b") == ReactionChange(2, True)
    assert len((await store.reactions.reactions([mid], "usr_a"))[mid]) == LIMIT


async def test_concurrent_new_emoji_never_pass_the_limit(store: Store) -> None:
    mid = await _message(store)
    for i in range(LIMIT - 1):
        await _react(store, mid, f":e{i:02d}:", "usr_a", i)
    outcomes = await asyncio.gather(
        *(_react(store, mid, f":race{i}:", "usr_b") for i in range(5)), return_exceptions=True
    )
    assert sum(isinstance(o, ReactionChange) for o in outcomes) <= 1
    assert all(isinstance(o, ReactionChange | Conflict) for o in outcomes)
    assert len((await store.reactions.reactions([mid], "usr_a"))[mid]) <= LIMIT


async def test_missing_and_deleted_messages_refused(store: Store) -> None:
    with pytest.raises(NotFound) as missing:
        await _react(store, "msg_none", "👍", "usr_a")
    assert missing.value.code == "message_not_found"
    mid = await _message(store)
    await _react(store, mid, "👍", "usr_b")
    await store.messages.delete_message(mid, T0 + 100)
    assert await store.reactions.reactions([mid], "usr_b") == {}  # removed with the message
    with pytest.raises(Conflict) as deleted:
        await _react(store, mid, "👍", "usr_a")
    assert deleted.value.code == "message_deleted"
    assert await store.count_rows("reactions") == 0


async def test_reactions_are_portable_rows(store: Store) -> None:
    mid = await _message(store)
    await _react(store, mid, "👍", "usr_b", 1)
    await _react(store, mid, "🎉", "usr_a", 2)
    rows = await store.export_rows("reactions")
    assert rows == [  # key order: U+1F389 before U+1F44D
        {"message_id": mid, "emoji": "🎉", "user_id": "usr_a", "created_at": T0 + 2},
        {"message_id": mid, "emoji": "👍", "user_id": "usr_b", "created_at": T0 + 1},
    ]
    assert await store.import_rows("reactions", rows) == 0  # already there
    assert await store.count_rows("reactions") == 2
    page = await store.export_rows("reactions", after=(mid, "🎉", "usr_a"))
    assert [r["emoji"] for r in page] == ["👍"]


async def test_sqlite_database_before_reactions_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = Database(path, MIGRATIONS[:3])  # the schema as it was before reactions
    await old.write(
        lambda conn: conn.execute(
            "INSERT INTO conversations (id, kind, user_a, user_b, last_seq)"
            " VALUES (?, 'direct', 'usr_a', 'usr_b', 1)",
            (DM,),
        )
    )
    await old.write(
        lambda conn: conn.execute(
            "INSERT INTO messages (id, conversation_id, seq, author_id, body, nonce, created_at)"
            " VALUES ('msg_old', ?, 1, 'usr_a', 'hi', 'n1', ?)",
            (DM, T0),
        )
    )
    await old.close()
    store = open_sqlite(path)
    try:
        assert await _react(store, "msg_old", "👍", "usr_b") == ReactionChange(1, True)
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    finally:
        conn.close()


async def test_postgresql_database_before_reactions_is_migrated() -> None:
    url = create_database()
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            postgres_schema.migrate(conn, postgres_schema.MIGRATIONS[:3])
            conn.execute(
                "INSERT INTO conversations (id, kind, user_a, user_b, last_seq)"
                " VALUES (%s, 'direct', 'usr_a', 'usr_b', 1)",
                (DM,),
            )
            conn.execute(
                "INSERT INTO messages (id, conversation_id, seq, author_id, body, nonce,"
                " created_at, deleted) VALUES ('msg_old', %s, 1, 'usr_a', 'hi', 'n1', %s, FALSE)",
                (DM, T0),
            )
        store = open_postgres(url)
        try:
            assert await _react(store, "msg_old", "👍", "usr_b") == ReactionChange(1, True)
        finally:
            await store.close()
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
            assert row is not None and row[0] == len(postgres_schema.MIGRATIONS)
    finally:
        drop_database(url)


async def test_mongodb_layout_before_reactions_is_upgraded(tmp_path: Path) -> None:
    client = mongo_databases.mock_client(tmp_path)
    store = open_mongo(mongo_databases.MOCK_URL, client=client)
    try:

        def downgrade(db: Db) -> None:  # as a database written before reactions
            db["meta"].update_one({"_id": "layout"}, {"$set": {"version": 2}})
            db["reactions"].drop()

        await store.engine.run(downgrade)
    finally:
        await store.close()
    store = open_mongo(mongo_databases.MOCK_URL, client=client)
    try:

        def layout(db: Db) -> tuple[int, list[str]]:
            meta = db["meta"].find_one({"_id": "layout"})
            return int(meta["version"]), list(db["reactions"].index_information())

        version, names = await store.engine.run(layout)
        assert version == mongo_layout.LAYOUT_VERSION
        assert "message_id_1_emoji_1_user_id_1" in names
        mid = await _message(store)
        await _react(store, mid, "👍", "usr_b")
        assert await _react(store, mid, "👍", "usr_b") == ReactionChange(1, False)  # unique index
    finally:
        await store.close()
