"""Contract: uploaded files' metadata, on every store backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodechat.errors import NotFound, TooLarge
from nodechat.models import Conversation, ConversationKind, FileRecord, direct_conversation_id
from nodechat.storage import Store
from nodechat.storage.files import FileUsage
from nodechat.storage.mongo import indexes as mongo_layout
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
DM = direct_conversation_id("usr_a", "usr_b")
QUOTA = 1000


def _file(n: int, owner: str = "usr_a", size: int = 100) -> FileRecord:
    return FileRecord(f"f_{n:022d}", owner, f"file{n}.txt", size, "ab" * 32, "text/plain", T0 + n)


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


async def test_create_get_list_and_usage(store: Store) -> None:
    for n in (1, 2):
        await store.files.create_file(_file(n), quota=QUOTA)
    await store.files.create_file(_file(3, owner="usr_b", size=7), quota=QUOTA)
    assert await store.files.get_file(_file(1).id) == _file(1)
    assert await store.files.get_file("f_" + "9" * 22) is None
    assert [f.id for f in await store.files.list_files("usr_a")] == [_file(2).id, _file(1).id]
    assert await store.files.usage("usr_a") == FileUsage(2, 200)
    assert await store.files.usage("usr_b") == FileUsage(1, 7)
    assert await store.files.usage("usr_c") == FileUsage(0, 0)


async def test_quota_refuses_and_stores_nothing(store: Store) -> None:
    await store.files.create_file(_file(1, size=900), quota=QUOTA)
    await store.files.create_file(_file(2, size=100), quota=QUOTA)  # exactly the quota
    with pytest.raises(TooLarge) as caught:
        await store.files.create_file(_file(3, size=1), quota=QUOTA)
    assert caught.value.code == "quota_exceeded"
    assert await store.files.get_file(_file(3).id) is None
    assert await store.files.usage("usr_a") == FileUsage(2, 1000)
    await store.files.create_file(_file(4, owner="usr_b", size=1), quota=QUOTA)  # per user


async def test_attach_all_or_none_and_only_the_owners(store: Store) -> None:
    mid = await _message(store)
    for n in (1, 2):
        await store.files.create_file(_file(n), quota=QUOTA)
    await store.files.create_file(_file(3, owner="usr_b"), quota=QUOTA)
    with pytest.raises(NotFound) as caught:  # usr_b's file: nothing is attached
        await store.files.attach_files([_file(1).id, _file(3).id], "usr_a", mid, DM)
    assert caught.value.code == "file_not_found"
    assert (await store.files.get_file(_file(1).id)) == _file(1)
    attached = await store.files.attach_files([_file(2).id, _file(1).id], "usr_a", mid, DM)
    assert [f.id for f in attached] == [_file(2).id, _file(1).id]
    assert all(f.message_id == mid and f.conversation_id == DM for f in attached)
    other = await _message(store, 2)
    with pytest.raises(NotFound):  # attached already
        await store.files.attach_files([_file(1).id], "usr_a", other, DM)
    found = await store.files.attachments([mid, other])
    assert list(found) == [mid]
    assert [f.id for f in found[mid]] == [_file(1).id, _file(2).id]  # upload order
    assert await store.files.attachments([]) == {}


async def test_stale_released_and_delete(store: Store) -> None:
    mid = await _message(store)
    for n in (1, 2, 3):
        await store.files.create_file(_file(n), quota=QUOTA)
    await store.files.attach_files([_file(1).id], "usr_a", mid, DM)
    # only file 2 is unattached and older than T0 + 3
    assert [f.id for f in await store.files.stale_files(T0 + 3)] == [_file(2).id]
    assert await store.files.release_message(mid) == 1
    released = await store.files.get_file(_file(1).id)
    assert released is not None and released.released and not released.attachable
    assert [f.id for f in await store.files.stale_files(T0)] == [_file(1).id]
    with pytest.raises(NotFound):  # a released file is never attached again
        await store.files.attach_files([_file(1).id], "usr_a", mid, DM)
    assert await store.files.delete_file(_file(1).id)
    assert not await store.files.delete_file(_file(1).id)
    assert await store.files.usage("usr_a") == FileUsage(2, 200)


async def test_portable_rows_round_trip(store: Store) -> None:
    mid = await _message(store)
    await store.files.create_file(_file(1), quota=QUOTA)
    await store.files.create_file(_file(2), quota=QUOTA)
    await store.files.attach_files([_file(2).id], "usr_a", mid, DM)
    rows = await store.export_rows("files")
    assert [r["id"] for r in rows] == [_file(1).id, _file(2).id]
    assert rows[1]["message_id"] == mid and rows[1]["released"] is False
    assert await store.import_rows("files", rows) == 0  # already there
    assert await store.count_rows("files") == 2


async def test_sqlite_database_before_files_is_migrated(tmp_path: Path) -> None:
    await sqlite_upgrade(tmp_path / "old.db", len(MIGRATIONS) - 1, _file_is_kept)


async def _file_is_kept(store: Store) -> None:
    await store.files.create_file(_file(1), quota=QUOTA)
    assert await store.files.usage("usr_a") == FileUsage(1, 100)


async def test_postgresql_database_before_files_is_migrated() -> None:
    await postgres_upgrade(len(postgres_schema.MIGRATIONS) - 1, _file_is_kept)


async def test_mongodb_layout_before_files_is_upgraded(tmp_path: Path) -> None:
    def downgrade(db: Db) -> None:  # as a database written before files
        set_layout_version(db, mongo_layout.LAYOUT_VERSION - 1)
        db["files"].drop()

    async def check(store: Store) -> None:
        names = await mongo_indexes(store, "files")
        assert "owner_id_1_created_at_1" in names and "message_id_1" in names

    await mongo_upgrade(tmp_path, downgrade, check)


async def test_detach_undoes_a_claim(store: Store) -> None:
    await store.files.create_file(_file(1), quota=QUOTA)
    # a send claims the file for the message id it is about to append
    await store.files.attach_files([_file(1).id], "usr_a", "msg_unsent", DM)
    assert await store.files.stale_files(T0 + 10) == []
    assert await store.files.detach_message("msg_unsent") == 1
    assert (await store.files.get_file(_file(1).id)) == _file(1)  # attachable again
