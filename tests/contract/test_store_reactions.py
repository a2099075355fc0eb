"""Contract: emoji reactions on messages, on every store backend."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from nodechat.errors import Conflict, NotFound
from nodechat.models import Conversation, ConversationKind, Reaction, direct_conversation_id
from nodechat.storage import Store
from nodechat.storage.base import ReactionChange
from nodechat.storage.mongo.engine import Db
from tests.store_upgrades import (
    mongo_indexes,
    mongo_upgrade,
    postgres_upgrade,
    set_layout_version,
    sqlite_upgrade,
)

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


async def _old_message_takes_a_reaction(store: Store) -> None:
    assert await _react(store, "msg_old", "👍", "usr_b") == ReactionChange(1, True)


async def test_sqlite_database_before_reactions_is_migrated(tmp_path: Path) -> None:
    def old_rows(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO conversations (id, kind, user_a, user_b, last_seq)"
            " VALUES (?, 'direct', 'usr_a', 'usr_b', 1)",
            (DM,),
        )
        conn.execute(
            "INSERT INTO messages (id, conversation_id, seq, author_id, body, nonce, created_at)"
            " VALUES ('msg_old', ?, 1, 'usr_a', 'hi', 'n1', ?)",
            (DM, T0),
        )

    # the schema as it was before reactions
    await sqlite_upgrade(tmp_path / "old.db", 3, _old_message_takes_a_reaction, old_rows)


async def test_postgresql_database_before_reactions_is_migrated() -> None:
    def old_rows(conn: psycopg.Connection[Any]) -> None:
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

    await postgres_upgrade(3, _old_message_takes_a_reaction, old_rows)


async def test_mongodb_layout_before_reactions_is_upgraded(tmp_path: Path) -> None:
    def downgrade(db: Db) -> None:  # as a database written before reactions
        set_layout_version(db, 2)
        db["reactions"].drop()

    async def check(store: Store) -> None:
        assert "message_id_1_emoji_1_user_id_1" in await mongo_indexes(store, "reactions")
        mid = await _message(store)
        await _react(store, mid, "👍", "usr_b")
        assert await _react(store, mid, "👍", "usr_b") == ReactionChange(1, False)  # unique index

    await mongo_upgrade(tmp_path, downgrade, check)
