"""Opening a store over a database written before a feature: the steps the
contract tests of each feature's migration share.

Each helper makes the old database (the schema's first ``applied`` migrations,
or a layout put back by ``downgrade``), lets the test put old rows in, opens
the current store over it, runs the test's ``check`` on it and then asserts
that the database is at the current version.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psycopg

from nodechat.storage import Store
from nodechat.storage.mongo import indexes as mongo_layout
from nodechat.storage.mongo import open_mongo
from nodechat.storage.mongo.engine import Db
from nodechat.storage.postgres import open_postgres
from nodechat.storage.postgres import schema as postgres_schema
from nodechat.storage.sqlite import open_sqlite
from nodechat.storage.sqlite import schema as sqlite_schema
from nodechat.storage.sqlite.engine import Database
from tests import mongo_databases
from tests.postgres_databases import create_database, drop_database

Check = Callable[[Store], Awaitable[Any]]


async def checked(store: Store, check: Check) -> None:
    """Run ``check`` on ``store``, then close it."""
    try:
        await check(store)
    finally:
        await store.close()


async def sqlite_upgrade(
    path: Path,
    applied: int,
    check: Check,
    old_rows: Callable[[sqlite3.Connection], object] | None = None,
) -> None:
    """A SQLite file at its first ``applied`` migrations (``old_rows`` written into
    it then), opened by the current store and checked."""
    old = Database(path, sqlite_schema.MIGRATIONS[:applied])
    try:
        if old_rows is not None:
            await old.write(old_rows)
    finally:
        await old.close()
    await checked(open_sqlite(path), check)
    conn = sqlite3.connect(path)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        assert version == len(sqlite_schema.MIGRATIONS)
    finally:
        conn.close()


async def postgres_upgrade(
    applied: int,
    check: Check,
    old_rows: Callable[[psycopg.Connection[Any]], object] | None = None,
) -> None:
    """A fresh PostgreSQL database at its first ``applied`` migrations (``old_rows``
    written into it then), opened by the current store and checked."""
    url = create_database()
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            ran = postgres_schema.migrate(conn, postgres_schema.MIGRATIONS[:applied])
            assert ran == list(range(1, applied + 1))
            if old_rows is not None:
                old_rows(conn)
        await checked(open_postgres(url), check)
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
            assert row is not None and row[0] == len(postgres_schema.MIGRATIONS)
    finally:
        drop_database(url)


async def mongo_upgrade(tmp_path: Path, downgrade: Callable[[Db], None], check: Check) -> None:
    """A mongomock database put back by ``downgrade`` to how an older version left
    it, opened again by the current store and checked."""
    client = mongo_databases.mock_client(tmp_path)

    async def run_downgrade(store: Store) -> None:
        await store.engine.run(downgrade)  # type: ignore[attr-defined]

    await checked(open_mongo(mongo_databases.MOCK_URL, client=client), run_downgrade)
    await checked(open_mongo(mongo_databases.MOCK_URL, client=client), check)


async def mongo_indexes(store: Store, collection: str) -> dict[str, Any]:
    """The index information of ``collection``, after asserting the layout is current."""

    def layout(db: Db) -> tuple[int, dict[str, Any]]:
        meta = db["meta"].find_one({"_id": "layout"})
        assert meta is not None
        return int(meta["version"]), dict(db[collection].index_information())

    version, indexes = await store.engine.run(layout)  # type: ignore[attr-defined]
    assert version == mongo_layout.LAYOUT_VERSION
    return dict(indexes)


def set_layout_version(db: Db, version: int) -> None:
    """Mark the database as written by the layout ``version``."""
    db["meta"].update_one({"_id": "layout"}, {"$set": {"version": version}})
