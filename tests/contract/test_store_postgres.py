"""PostgreSQL specifics: migrations under an advisory lock, several writers on one database,
and errors that say what is wrong (no psycopg exception escapes)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from nodechat.errors import InvalidRequest, Unavailable
from nodechat.models import Conversation, ConversationKind, direct_conversation_id
from nodechat.storage import Store, open_store
from nodechat.storage.postgres import PostgresStore, open_postgres
from nodechat.storage.postgres.engine import Database
from nodechat.storage.postgres.schema import MIGRATIONS
from tests.postgres_databases import POSTGRES_URL, create_database, drop_database

T0 = 1_700_000_000_000
DM = direct_conversation_id("usr_a", "usr_b")
APPLYING = "applying schema migration"


@pytest.fixture
def url() -> Iterator[str]:
    """A fresh, empty database (not migrated yet)."""
    made = create_database()
    yield made
    drop_database(made)


def _versions(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [
            row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY version")
        ]


async def _dm(store: Store) -> None:
    await store.messages.ensure_conversation(
        Conversation(DM, ConversationKind.DIRECT, participants=("usr_a", "usr_b"))
    )


async def test_migrations_apply_once(url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="nodechat.storage.postgres.schema")
    await open_postgres(url).close()
    assert len([r for r in caplog.records if APPLYING in r.getMessage()]) == len(MIGRATIONS)
    caplog.clear()
    await open_postgres(url).close()
    assert not [r for r in caplog.records if APPLYING in r.getMessage()]
    assert _versions(url) == list(range(1, len(MIGRATIONS) + 1))


def test_processes_starting_together_migrate_once(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="nodechat.storage.postgres.schema")
    with ThreadPoolExecutor(6) as pool:  # six connections racing for the advisory lock
        stores = list(pool.map(lambda _: open_postgres(url), range(6)))
    assert len([r for r in caplog.records if APPLYING in r.getMessage()]) == len(MIGRATIONS)
    assert _versions(url) == list(range(1, len(MIGRATIONS) + 1))
    for store in stores:
        asyncio.run(store.close())


def test_refuses_a_newer_schema(url: str) -> None:
    asyncio.run(open_postgres(url).close())
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (len(MIGRATIONS) + 1,))
    with pytest.raises(Unavailable) as err:
        open_postgres(url)
    assert err.value.code == "schema_too_new"


def test_open_store_accepts_both_schemes(url: str) -> None:
    for scheme in ("postgresql://", "postgres://"):
        store = open_store(scheme + url.split("://", 1)[1])
        assert isinstance(store, PostgresStore)
        assert "127.0.0.1:5432/nodechat_test_" in store.describe()
        asyncio.run(store.close())


def test_unreachable_server_fails_at_open_naming_the_host() -> None:
    with pytest.raises(Unavailable) as err:
        open_store("postgresql://nodechat:secret@127.0.0.1:1/chat?connect_timeout=2")
    assert err.value.code == "store_unavailable"
    assert "127.0.0.1:1/chat" in err.value.message
    assert "secret" not in err.value.message


async def test_unreachable_server_fails_at_first_operation() -> None:
    store = PostgresStore(Database("postgresql://postgres@127.0.0.1:1/chat", pool_timeout=1))
    try:
        with pytest.raises(Unavailable) as read_err:
            await store.accounts.get_user("usr_a")
        with pytest.raises(Unavailable) as write_err:
            await store.messages.block("usr_a", "usr_b", T0)
    finally:
        await store.close()
    for err in (read_err, write_err):
        assert err.value.code == "store_unavailable"
        assert "127.0.0.1:1/chat" in err.value.message


async def test_a_read_only_database_is_unavailable_until_writable_again(url: str) -> None:
    store = open_postgres(url)
    name = url.rsplit("/", 1)[1]
    try:
        await _dm(store)
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            # a failover to a standby, or an operator: new sessions take no writes
            admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
        refused = await asyncio.gather(
            store.messages.append(
                DM, message_id="m1", author_id="usr_a", body="x", nonce="n1", reply_to=None, now=T0
            ),
            store.messages.block("usr_a", "usr_b", T0),  # a job, not a pipelined call
            return_exceptions=True,
        )
        assert all(isinstance(err, Unavailable) for err in refused), refused
        assert {err.code for err in refused if isinstance(err, Unavailable)} == {
            "store_unavailable"
        }
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
        # no session is ended this time: the store leaves its read-only one by itself
        result = await store.messages.append(
            DM, message_id="m1", author_id="usr_a", body="x", nonce="n1", reply_to=None, now=T0
        )
        assert result.created and result.message.seq == 1
    finally:
        await store.close()


async def test_closed_store_refuses_reads(url: str) -> None:
    store = open_postgres(url)
    await store.accounts.count_users()
    await store.close()
    with pytest.raises(Unavailable):
        await store.accounts.count_users()


async def test_nul_text_is_an_invalid_request_and_fails_no_one_else(url: str) -> None:
    store = open_postgres(url)
    try:
        await _dm(store)
        good, bad = await asyncio.gather(
            store.messages.append(
                DM,
                message_id="m1",
                author_id="usr_a",
                body="fine",
                nonce="n1",
                reply_to=None,
                now=T0,
            ),
            store.messages.append(
                DM,
                message_id="m2",
                author_id="usr_a",
                body="a\x00b",
                nonce="n2",
                reply_to=None,
                now=T0,
            ),
            return_exceptions=True,
        )
        assert not isinstance(good, BaseException) and good.message.seq == 1
        assert isinstance(bad, InvalidRequest)
        with pytest.raises(InvalidRequest):
            await store.accounts.find_user("a\x00b")
        with pytest.raises(InvalidRequest):
            await store.groups.update_group("g\x00", name="x")
    finally:
        await store.close()


async def test_two_writers_share_one_gap_free_sequence(url: str) -> None:
    one, two = open_postgres(url), open_postgres(url)  # like two message-role replicas
    try:
        await _dm(one)
        results = await asyncio.gather(
            *(
                (one if n % 2 else two).messages.append(
                    DM,
                    message_id=f"m{n}",
                    author_id="usr_a",
                    body=str(n),
                    nonce=f"n{n}",
                    reply_to=None,
                    now=T0,
                )
                for n in range(400)
            )
        )
        assert sorted(r.message.seq for r in results) == list(range(1, 401))
        stored = await two.messages.history(DM, limit=1000)
        assert {m.id: (m.seq, m.body) for m in stored} == {
            r.message.id: (r.message.seq, r.message.body) for r in results
        }
    finally:
        await one.close()
        await two.close()


async def test_a_nonce_repeated_on_two_writers_at_once_is_stored_once(url: str) -> None:
    one, two = open_postgres(url), open_postgres(url)
    try:
        await _dm(one)
        pairs = await asyncio.gather(
            *(
                asyncio.gather(
                    *(
                        store.messages.append(
                            DM,
                            message_id=f"m{n}-{i}",
                            author_id="usr_a",
                            body=str(n),
                            nonce=f"n{n}",
                            reply_to=None,
                            now=T0,
                        )
                        for i, store in enumerate((one, two))
                    )
                )
                for n in range(200)
            )
        )
        for first, second in pairs:
            assert first.message == second.message
            assert first.created != second.created
        assert sorted(p[0].message.seq for p in pairs) == list(range(1, 201))
        conversation = await one.messages.get_conversation(DM)
        assert conversation is not None and conversation.last_seq == 200
        assert await two.messages.count_messages() == 200
    finally:
        await one.close()
        await two.close()


async def test_store_outlives_its_connections_being_killed(url: str) -> None:
    store = open_postgres(url)
    try:
        await _dm(store)
        await store.messages.append(
            DM, message_id="m1", author_id="usr_a", body="before", nonce="n1", reply_to=None, now=T0
        )
        assert await store.messages.count_messages() == 1
        with psycopg.connect(url, autocommit=True) as admin:  # what a server restart does
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
        assert killed is not None and killed[0] >= 2  # the writer's and a reader's
        after = await store.messages.append(
            DM, message_id="m2", author_id="usr_a", body="after", nonce="n2", reply_to=None, now=T0
        )
        assert after.message.seq == 2
        assert await store.messages.count_messages() == 2
    finally:
        await store.close()
