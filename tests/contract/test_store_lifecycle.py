"""Contract: durability across close and reopen; opening a store by URL."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nodechat.errors import InvalidRequest, Unavailable
from nodechat.models import (
    AuthSession,
    Channel,
    ChannelKind,
    Group,
    Member,
    Role,
    User,
)
from nodechat.storage import Store, open_store
from nodechat.storage.sqlite import SqliteStore, open_sqlite
from nodechat.storage.sqlite.engine import _migrate
from nodechat.storage.sqlite.schema import MIGRATIONS

StoreOpener = Callable[[], Store]  # the conftest fixture's type

T0 = 1_700_000_000_000


async def test_data_survives_close_and_reopen(store_opener: StoreOpener) -> None:
    first = store_opener()
    try:
        await first.accounts.create_user(
            User(
                id="usr_a", username="a", email="a@x.org", display_name="A", about="", created_at=T0
            ),
            "hash",
        )
        await first.accounts.create_session(
            AuthSession(id="ses_1", user_id="usr_a", created_at=T0, expires_at=T0 + 10_000),
            "r1",
            T0 + 10_000,
        )
        await first.groups.create_group(
            Group(id="grp_1", name="g", description="", owner_id="usr_a", created_at=T0),
            Member(group_id="grp_1", user_id="usr_a", role=Role.OWNER, joined_at=T0),
            [
                Channel(
                    id="chn_1",
                    group_id="grp_1",
                    name="general",
                    kind=ChannelKind.TEXT,
                    position=0,
                    created_at=T0,
                )
            ],
        )
        appended = await first.messages.append(
            "chn_1",
            message_id="msg_1",
            author_id="usr_a",
            body="kept",
            nonce="n",
            reply_to=None,
            now=T0,
        )
        await first.messages.set_read_marker("usr_a", "chn_1", 1)
    finally:
        await first.close()

    with pytest.raises(Unavailable):  # a closed store refuses writes
        await first.messages.block("usr_a", "usr_b", T0)

    second = store_opener()
    try:
        assert (await second.accounts.find_user("A")) is not None
        assert await second.accounts.get_session("ses_1") is not None
        assert await second.groups.get_member("grp_1", "usr_a") is not None
        assert await second.messages.get_message("msg_1") == appended.message
        assert (await second.messages.get_conversation("chn_1")).last_seq == 1  # type: ignore[union-attr]
        assert await second.messages.read_markers("usr_a", ["chn_1"]) == {"chn_1": 1}
        following = await second.messages.append(
            "chn_1",
            message_id="msg_2",
            author_id="usr_a",
            body="next",
            nonce="n2",
            reply_to=None,
            now=T0,
        )
        assert following.message.seq == 2
    finally:
        await second.close()


async def test_close_is_idempotent_and_describes(store: Store) -> None:
    assert store.describe()
    await store.close()
    await store.close()


# -- SQLite specifics ------------------------------------------------------


def _user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
        return version
    finally:
        conn.close()


async def test_sqlite_migrations_apply_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "chat.db"
    caplog.set_level(logging.INFO, logger="nodechat.storage.sqlite.engine")
    store = open_sqlite(path)
    await store.close()
    applied = [r for r in caplog.records if "applying schema migration" in r.getMessage()]
    assert len(applied) == len(MIGRATIONS)
    assert _user_version(path) == len(MIGRATIONS)

    caplog.clear()
    store = open_sqlite(path)
    await store.close()
    assert not [r for r in caplog.records if "applying schema migration" in r.getMessage()]
    assert _user_version(path) == len(MIGRATIONS)


class _StaleFirstRead(sqlite3.Connection):
    """A connection whose first look at user_version comes before another process
    migrated the file (as when the auth, group and message roles start together)."""

    looked = False

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "PRAGMA user_version" and not self.looked:
            self.looked = True
            return super().execute("SELECT 0")
        return super().execute(sql, *args)


async def test_sqlite_roles_migrating_one_new_file_at_once_do_not_collide(
    tmp_path: Path,
) -> None:
    path = tmp_path / "chat.db"
    await open_sqlite(path).close()  # the role that got there first
    late = sqlite3.connect(path, isolation_level=None, factory=_StaleFirstRead)
    try:
        _migrate(late, MIGRATIONS)  # thought it was version 0: must not re-create tables
    finally:
        late.close()
    assert _user_version(path) == len(MIGRATIONS)


async def test_sqlite_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    await open_sqlite(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(Unavailable) as err:
        open_sqlite(path)
    assert err.value.code == "schema_too_new"


async def test_open_store_sqlite_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    absolute = tmp_path / "abs" / "chat.db"
    store = open_store(f"sqlite:///{absolute}")  # four slashes: an absolute path
    try:
        assert isinstance(store, SqliteStore)
        assert str(absolute) in store.describe()
    finally:
        await store.close()
    assert absolute.exists()

    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///rel/chat.db")
    await store.close()
    assert (tmp_path / "rel" / "chat.db").exists()


@pytest.mark.parametrize(
    "url",
    [
        "mysql://user:secret@localhost/chat",
        "sqlite://chat.db",
        "sqlite:///",
        "sqlite:///:memory:",
        "chat.db",
        "",
    ],
)
def test_open_store_rejects_other_urls(url: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        open_store(url)
    assert err.value.code == "bad_config"
    assert "sqlite:///" in err.value.message
    assert "secret" not in err.value.message


def test_open_store_names_the_planned_backends() -> None:
    with pytest.raises(InvalidRequest) as err:
        open_store("mysql://localhost/chat")
    assert "mongodb://" in err.value.message and "postgresql://" in err.value.message
