"""The store refuses for a while under a steady send load, then comes back.

A split deployment on PostgreSQL. Two ways a database refuses: it takes no
connections (``ALLOW_CONNECTIONS false``, its sessions terminated: a server
going away), or no writes (``default_transaction_read_only``, its sessions
terminated: a failover to a standby, an operator protecting a full disk); then
it takes them again, without ending the sessions opened meanwhile. Meanwhile every send gets an ack
or a retryable code (store_unavailable, service_unavailable), never another
error and never no answer; no role dies or logs a traceback; nothing is half
written (each stored message has its seq, no seq is spent without a message, a
nonce is stored once). Once the store is back, the retries succeed and every
acked message is stored once, as acked.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from tests.e2e.channel_load import check_channel, setup_channel, wait_for
from tests.e2e.cluster import start_split
from tests.postgres_databases import POSTGRES_URL, create_database, drop_database

SENDERS = 4
PAUSE = 0.02  # seconds between one sender's sends
AFTER_RETURN = 25  # sends each sender starts once the store is back

REFUSE = {
    "closed": 'ALTER DATABASE "{db}" ALLOW_CONNECTIONS false',
    "read_only": 'ALTER DATABASE "{db}" SET default_transaction_read_only = on',
}
RETURN = {
    "closed": 'ALTER DATABASE "{db}" ALLOW_CONNECTIONS true',
    "read_only": 'ALTER DATABASE "{db}" RESET default_transaction_read_only',
}


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database for the whole cluster; dropped afterwards."""
    url = create_database()
    yield url
    drop_database(url)


def administer(statement: str, db: str, *, end_sessions: bool) -> None:
    """Run ``statement`` about database ``db``; with ``end_sessions``, end every session
    on it too, so that the setting applies to every session from now on."""
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(statement.format(db=db))
        if end_sessions:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (db,),
            )


@pytest.mark.parametrize("refusal", ["closed", "read_only"])
async def test_store_refusing_under_load(
    tmp_path: Path, redis_url: str, postgres_url: str, refusal: str
) -> None:
    db = urlsplit(postgres_url).path.lstrip("/")
    cluster = start_split(tmp_path / "data", redis=redis_url, store=postgres_url)
    clients = []
    refusing = False
    try:
        nodes = [cluster.socket("socket1"), cluster.socket("socket2")]
        channel, senders, owner = await setup_channel(nodes, SENDERS)
        clients = [owner, *(s.client for s in senders)]
        back = asyncio.Event()
        load = asyncio.gather(*(s.run(PAUSE, back, AFTER_RETURN) for s in senders))

        def acked() -> int:
            return sum(len(s.sends) - s.in_flight() for s in senders)

        await wait_for(lambda: acked() >= 60, "the first acks")
        administer(REFUSE[refusal], db, end_sessions=True)
        refusing = True
        before = [sum(s.refused.values()) for s in senders]
        await wait_for(
            lambda: (
                any(s.unexpected for s in senders)
                or all(sum(s.refused.values()) > n for s, n in zip(senders, before, strict=True))
            ),
            "every sender refused with a retryable code",
        )
        # Sessions made meanwhile are left as they are: a read-only one stays so, and the
        # store has to leave it by itself.
        administer(RETURN[refusal], db, end_sessions=False)
        refusing = False
        back.set()
        await asyncio.wait_for(load, 120)

        codes = sum((s.refused for s in senders), Counter[str]())
        stored = await check_channel(senders, [owner], owner)
        print(f"{len(stored)} messages; refused while the store was {refusal}: {dict(codes)}")
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT c.last_seq, count(m.id), count(m.seq), max(m.seq)"
                " FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id"
                " WHERE c.id = %s GROUP BY c.last_seq",
                (channel,),
            ).fetchone()
        assert row == (len(stored), len(stored), len(stored), len(stored)), (
            f"last_seq, messages, with a seq, highest seq: {row}"
        )
        for proc in cluster.procs.values():
            assert proc.popen.poll() is None, f"{proc.name} died:\n{''.join(proc.log)}"
            assert "Traceback" not in "".join(proc.log), f"{proc.name}:\n{''.join(proc.log)}"
    finally:
        if refusing:
            administer(RETURN[refusal], db, end_sessions=False)
        for client in clients:
            await client.close()
        cluster.stop()
