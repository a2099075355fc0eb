"""Contract: full-text search (SearchStore) on every backend with a text engine.

mongomock has no ``$text``: the MongoDB search runs against a real server only
(``mongodb-real``, when NODECHAT_TEST_MONGO_URL is set); on mongomock the tests
check that the text index is part of the layout.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from nodechat.models import Conversation, ConversationKind, direct_conversation_id
from nodechat.storage import Store
from nodechat.storage.base import SearchQuery
from nodechat.storage.mongo.engine import Db
from nodechat.storage.postgres import schema as postgres_schema
from nodechat.storage.sqlite.schema import MIGRATIONS
from tests.store_upgrades import (
    mongo_indexes,
    mongo_upgrade,
    postgres_upgrade,
    set_layout_version,
    sqlite_upgrade,
)

T0 = 1_700_000_000_000
AB = direct_conversation_id("usr_a", "usr_b")
AC = direct_conversation_id("usr_a", "usr_c")
BC = direct_conversation_id("usr_b", "usr_c")
ALL = (AB, AC, BC)
# the schema versions before search, wherever the search migration lands in the list
SQLITE_BEFORE = next(i for i, script in enumerate(MIGRATIONS) if "messages_fts" in script)
POSTGRES_BEFORE = next(
    i for i, script in enumerate(postgres_schema.MIGRATIONS) if "body_tsv" in script
)


@pytest.fixture
def text_store(store: Store, request: pytest.FixtureRequest) -> Store:
    """The store, unless it is mongomock (no ``$text``)."""
    if request.node.callspec.params["store_opener"] == "mongodb":
        pytest.skip("mongomock has no $text; see the mongodb-real backend")
    return store


async def _conversations(store: Store) -> None:
    for cid in ALL:
        _, a, b = cid.split(":")
        await store.messages.ensure_conversation(
            Conversation(cid, ConversationKind.DIRECT, participants=(a, b))
        )


async def _say(store: Store, cid: str, n: int, body: str, author: str = "usr_a") -> str:
    result = await store.messages.append(
        cid,
        message_id=f"msg_{n:04d}",
        author_id=author,
        body=body,
        nonce=f"nonce-{n}",
        reply_to=None,
        now=T0 + n,
    )
    return result.message.id


async def _ids(
    store: Store, *terms: str, offset: int = 0, limit: int = 50, **kw: object
) -> list[str]:
    conversations = kw.pop("conversations", ALL)
    query = SearchQuery(tuple(terms), tuple(conversations), **kw)  # type: ignore[arg-type]
    return [m.id for m in await store.search.search(query, offset=offset, limit=limit)]


async def test_every_term_must_match_and_only_given_conversations(text_store: Store) -> None:
    store = text_store
    await _conversations(store)
    await _say(store, AB, 1, "the quick brown fox")
    await _say(store, AB, 2, "a lazy dog")
    await _say(store, AC, 3, "the Quick red fox jumps")
    await _say(store, BC, 4, "quick fox in a conversation usr_a cannot read", "usr_b")
    assert set(await _ids(store, "quick", "fox", conversations=(AB, AC))) == {
        "msg_0001",
        "msg_0003",
    }
    assert await _ids(store, "quick", "dog") == []
    assert await _ids(store, "QUICK", conversations=(AC,)) == ["msg_0003"]
    assert await _ids(store, "fox", conversations=()) == []
    assert await _ids(store, "fo") == []  # whole words, no prefixes


async def test_rank_then_newest_first_and_offset_paging(text_store: Store) -> None:
    store = text_store
    await _conversations(store)
    await _say(store, AB, 1, "deploy")
    await _say(store, AB, 2, "we talked about the deploy and then about lunch and more")
    await _say(store, AB, 3, "deploy")
    await _say(store, AB, 4, "deploy")
    found = await _ids(store, "deploy")
    # the short ones rank above the long one; equal ranks come newest first
    assert found == ["msg_0004", "msg_0003", "msg_0001", "msg_0002"]
    pages = [await _ids(store, "deploy", offset=o, limit=2) for o in (0, 2, 4)]
    assert pages == [found[:2], found[2:], []]


async def test_author_and_time_filters(text_store: Store) -> None:
    store = text_store
    await _conversations(store)
    await _say(store, AB, 1, "release notes", "usr_a")
    await _say(store, AB, 2, "release day", "usr_b")
    await _say(store, AB, 3, "release party", "usr_a")
    assert set(await _ids(store, "release", author_id="usr_a")) == {"msg_0001", "msg_0003"}
    assert set(await _ids(store, "release", before=T0 + 3)) == {"msg_0001", "msg_0002"}
    assert set(await _ids(store, "release", after=T0 + 1)) == {"msg_0002", "msg_0003"}
    assert await _ids(store, "release", after=T0 + 1, before=T0 + 3, author_id="usr_b") == [
        "msg_0002"
    ]


async def test_edits_reindex_and_deleted_messages_never_match(text_store: Store) -> None:
    store = text_store
    await _conversations(store)
    await _say(store, AB, 1, "meet at the harbour")
    await _say(store, AB, 2, "harbour again")
    await store.messages.edit_message("msg_0001", "meet at the station", T0 + 10)
    assert await _ids(store, "harbour") == ["msg_0002"]
    assert await _ids(store, "station") == ["msg_0001"]
    await store.messages.delete_message("msg_0002", T0 + 11)
    assert await _ids(store, "harbour") == []
    assert await _ids(store, "again") == []


async def test_unicode_and_hostile_terms(text_store: Store) -> None:
    store = text_store
    await _conversations(store)
    await _say(store, AB, 1, "Café au lait, naïve façade")
    await _say(store, AB, 2, "東京 へ 行く")
    await _say(store, AB, 3, "NEAR the end: a * b - c")
    assert await _ids(store, "café") == ["msg_0001"]
    assert await _ids(store, "東京") == ["msg_0002"]
    assert await _ids(store, "near") == ["msg_0003"]
    # whatever reaches the store as a term is a word to look for, never syntax
    for term in ['"', 'a"b', "*", "-", ":", "NEAR(", "^", "(", "AND", "OR", "NOT", "\\", "'"]:
        assert isinstance(await _ids(store, term), list)


async def test_sqlite_database_before_search_gets_searchable_history(tmp_path: Path) -> None:
    def old_rows(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO conversations (id, kind, user_a, user_b, last_seq)"
            " VALUES (?, 'direct', 'usr_a', 'usr_b', 2)",
            (AB,),
        )
        conn.executemany(
            "INSERT INTO messages (id, conversation_id, seq, author_id, body, nonce, created_at,"
            " deleted) VALUES (?, ?, ?, 'usr_a', ?, ?, ?, ?)",
            [
                ("msg_old", AB, 1, "an old lighthouse", "n1", T0, 0),
                ("msg_gone", AB, 2, "", "n2", T0 + 1, 1),
            ],
        )

    async def check(store: Store) -> None:
        assert await _ids(store, "lighthouse") == ["msg_old"]
        await _say(store, AB, 3, "a new lighthouse")
        assert set(await _ids(store, "lighthouse")) == {"msg_old", "msg_0003"}

    await sqlite_upgrade(tmp_path / "old.db", SQLITE_BEFORE, check, old_rows)


async def test_postgresql_database_before_search_gets_searchable_history() -> None:
    def old_rows(conn: psycopg.Connection[Any]) -> None:
        conn.execute(
            "INSERT INTO conversations (id, kind, user_a, user_b, last_seq)"
            " VALUES (%s, 'direct', 'usr_a', 'usr_b', 1)",
            (AB,),
        )
        conn.execute(
            "INSERT INTO messages (id, conversation_id, seq, author_id, body, nonce,"
            " created_at, deleted) VALUES ('msg_old', %s, 1, 'usr_a', 'an old lighthouse',"
            " 'n1', %s, FALSE)",
            (AB, T0),
        )

    async def check(store: Store) -> None:
        assert await _ids(store, "lighthouse") == ["msg_old"]

    await postgres_upgrade(POSTGRES_BEFORE, check, old_rows)


async def test_mongodb_layout_before_search_gets_the_text_index(tmp_path: Path) -> None:
    def downgrade(db: Db) -> None:  # as a database written before search
        set_layout_version(db, 3)
        db["messages"].drop_index("body_text")

    async def check(store: Store) -> None:
        assert "body_text" in await mongo_indexes(store, "messages")

    await mongo_upgrade(tmp_path, downgrade, check)


async def test_imported_messages_are_searchable(text_store: Store) -> None:
    """``admin migrate`` writes through import_rows: the index must follow it too."""
    store = text_store
    await store.import_rows(
        "conversations",
        [
            {
                "id": AB,
                "kind": "direct",
                "group_id": None,
                "user_a": "usr_a",
                "user_b": "usr_b",
                "last_seq": 2,
                "parent_id": None,
            }
        ],
    )
    row = {"conversation_id": AB, "author_id": "usr_a", "reply_to": None, "edited_at": None}
    await store.import_rows(
        "messages",
        [
            {
                **row,
                "id": "msg_in",
                "seq": 1,
                "body": "imported orchard",
                "nonce": "i1",
                "created_at": T0,
                "deleted": False,
            },
            {
                **row,
                "id": "msg_del",
                "seq": 2,
                "body": "",
                "nonce": "i2",
                "created_at": T0 + 1,
                "deleted": True,
            },
        ],
    )
    assert await _ids(store, "orchard") == ["msg_in"]


async def test_only_the_newest_window_of_matches_is_ranked(text_store: Store) -> None:
    store = text_store
    await _conversations(store)
    await _say(store, AB, 1, "apple")  # the best match, but the oldest
    await _say(store, AB, 2, "apple pie with cream and sugar on top")
    await _say(store, AC, 3, "apple crumble with cream and custard")
    await _say(store, AB, 4, "apple tart with cream and more apples")
    store.search.window = 2
    # the newest two that pass the filters, ranked; the oldest is out of the window
    assert set(await _ids(store, "apple")) == {"msg_0003", "msg_0004"}
    assert set(await _ids(store, "apple", conversations=(AB,))) == {"msg_0002", "msg_0004"}
    assert await _ids(store, "apple", before=T0 + 2) == ["msg_0001"]
    store.search.window = 10
    assert (await _ids(store, "apple"))[0] == "msg_0001"
