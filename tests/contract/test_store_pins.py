"""Contract: pinned messages, on every store backend."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import psycopg
import pytest

from nodechat.errors import Conflict, NotFound
from nodechat.models import Pin
from nodechat.storage import Store
from nodechat.storage.postgres import open_postgres
from nodechat.storage.postgres.schema import MIGRATIONS as POSTGRES_MIGRATIONS
from nodechat.storage.postgres.schema import migrate as postgres_migrate
from nodechat.storage.sqlite import open_sqlite
from nodechat.storage.sqlite.engine import _migrate as _sqlite_migrate
from nodechat.storage.sqlite.schema import MIGRATIONS as SQLITE_MIGRATIONS
from tests.contract.test_store_groups import make_group
from tests.contract.test_store_messages import DM, T0, make_dm, post
from tests.postgres_databases import create_database, drop_database


def pin(n: int, *, at: int | None = None, by: str = "usr_a", conversation: str = DM) -> Pin:
    return Pin(conversation, f"msg_{n:04d}", by, T0 + 1000 + (n if at is None else at))


async def test_pin_list_newest_first_with_the_message(store: Store) -> None:
    await make_dm(store)
    for n in (1, 2, 3):
        await post(store, n)
    for n, at in ((2, 10), (1, 20), (3, 5)):
        result = await store.messages.pin(pin(n, at=at), limit=50)
        assert result.created and result.pin == pin(n, at=at)
    listed = await store.messages.list_pins(DM)
    assert [e.message.id for e in listed] == ["msg_0001", "msg_0002", "msg_0003"]
    first = listed[0]
    assert first.pin == pin(1, at=20)
    assert first.message == await store.messages.get_message("msg_0001")
    assert first.to_dict()["message"]["body"] == "body 1"
    assert first.to_dict()["pinned_by"] == "usr_a"


async def test_pinning_twice_keeps_the_first_pin(store: Store) -> None:
    await make_dm(store)
    await post(store, 1)
    await store.messages.pin(pin(1, at=1), limit=50)
    again = await store.messages.pin(pin(1, at=9, by="usr_b"), limit=50)
    assert not again.created
    assert again.pin == pin(1, at=1)
    assert [e.pin for e in await store.messages.list_pins(DM)] == [pin(1, at=1)]


async def test_unpin_returns_the_pin_once(store: Store) -> None:
    await make_dm(store)
    await post(store, 1)
    await store.messages.pin(pin(1), limit=50)
    assert await store.messages.unpin("msg_0001") == pin(1)
    assert await store.messages.unpin("msg_0001") is None
    assert await store.messages.unpin("msg_none") is None
    assert await store.messages.list_pins(DM) == []


async def test_pin_refuses_missing_deleted_and_foreign_messages(store: Store) -> None:
    await make_dm(store)
    await make_dm(store, "usr_a", "usr_c")
    await post(store, 1)
    await post(store, 2)
    with pytest.raises(NotFound):
        await store.messages.pin(pin(9), limit=50)
    with pytest.raises(NotFound):  # msg_0001 belongs to DM, not to dm:usr_a:usr_c
        await store.messages.pin(pin(1, conversation="dm:usr_a:usr_c"), limit=50)
    await store.messages.delete_message("msg_0002", T0 + 50)
    with pytest.raises(NotFound):
        await store.messages.pin(pin(2), limit=50)
    assert await store.messages.list_pins(DM) == []


async def test_a_deleted_message_leaves_the_list(store: Store) -> None:
    await make_dm(store)
    await post(store, 1)
    await post(store, 2)
    await store.messages.pin(pin(1), limit=50)
    await store.messages.pin(pin(2), limit=50)
    await store.messages.delete_message("msg_0001", T0 + 50)
    assert [e.message.id for e in await store.messages.list_pins(DM)] == ["msg_0002"]


async def test_limit_per_conversation(store: Store) -> None:
    await make_dm(store)
    await make_dm(store, "usr_a", "usr_c")
    for n in (1, 2, 3):
        await post(store, n)
    other = await store.messages.append(
        "dm:usr_a:usr_c",
        message_id="msg_other",
        author_id="usr_a",
        body="x",
        nonce="other",
        reply_to=None,
        now=T0,
    )
    await store.messages.pin(pin(1), limit=2)
    await store.messages.pin(pin(2), limit=2)
    with pytest.raises(Conflict) as refused:
        await store.messages.pin(pin(3), limit=2)
    assert refused.value.code == "too_many_pins"
    assert not (await store.messages.pin(pin(2), limit=2)).created  # a repeat is no new pin
    # another conversation has its own count
    mine = Pin("dm:usr_a:usr_c", other.message.id, "usr_a", T0)
    assert (await store.messages.pin(mine, limit=2)).created
    await store.messages.unpin("msg_0001")
    assert (await store.messages.pin(pin(3), limit=2)).created


async def test_concurrent_pins_of_one_message_store_one(store: Store) -> None:
    await make_dm(store)
    await post(store, 1)
    results = await asyncio.gather(*(store.messages.pin(pin(1, at=i), limit=50) for i in range(5)))
    assert sum(r.created for r in results) == 1
    assert len({r.pin for r in results}) == 1
    assert len(await store.messages.list_pins(DM)) == 1


async def test_deleting_a_channel_drops_its_pins(store: Store) -> None:
    await make_group(store)
    await store.messages.append(
        "chn_general",
        message_id="msg_1",
        author_id="usr_owner",
        body="hi",
        nonce="n1",
        reply_to=None,
        now=T0,
    )
    await store.messages.pin(Pin("chn_general", "msg_1", "usr_owner", T0), limit=50)
    await store.groups.delete_channel("chn_general")
    assert await store.messages.list_pins("chn_general") == []
    assert await store.count_rows("pins") == 0


# -- existing databases get the pins table ------------------------------------


async def _pin_after_upgrade(store: Store) -> None:
    try:
        await make_dm(store)
        await post(store, 1)
        assert (await store.messages.pin(pin(1), limit=50)).created
        assert [e.message.id for e in await store.messages.list_pins(DM)] == ["msg_0001"]
    finally:
        await store.close()


async def test_sqlite_database_of_schema_3_gains_pins(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        _sqlite_migrate(conn, SQLITE_MIGRATIONS[:3])  # a database made before pins
    finally:
        conn.close()
    await _pin_after_upgrade(open_sqlite(path))


async def test_postgres_database_of_schema_3_gains_pins() -> None:
    url = create_database()
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            assert postgres_migrate(conn, POSTGRES_MIGRATIONS[:3]) == [1, 2, 3]
        await _pin_after_upgrade(open_postgres(url))
    finally:
        drop_database(url)
