"""The message role is SIGKILLed between a commit and its acks, under a steady send load.

A split deployment on PostgreSQL; the message role reaches it through a proxy
(tests/e2e/pg_proxy.py) that swallows the server's answer to one COMMIT. The
test lets sends queue up behind a lock on the channel's row, so that commit is
of a batch of many sends: it is durable, and the role, still waiting for the
answer, is killed with more sends queued behind it and in flight. It is restarted on its address; every
client retries each un-acked nonce until acked. Then every acked message is
stored once under its nonce with the seq of its ack (a retry of a committed
send returns the original's seq, ``duplicate``), seqs are gap-free, and every
connected member's live stream has every stored message once, in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from tests.e2e.channel_load import Sender, check_channel, setup_channel, wait_for
from tests.e2e.cluster import start_split
from tests.e2e.pg_proxy import CommitHolder
from tests.postgres_databases import create_database, drop_database

SENDERS = 6
PAUSE = 0.02  # seconds between one sender's sends: about 300 sends/s in all
AFTER_RESTART = 25  # sends each sender starts once the role is back
HELD_AT_LEAST = 10  # messages in the commit whose answer is held


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database for the whole cluster; dropped afterwards."""
    url = create_database()
    yield url
    drop_database(url)


def stored_nonces(postgres_url: str, channel: str) -> dict[tuple[str, str], int]:
    """(author, nonce) -> seq of every message the database has committed, read directly."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        found = conn.execute(
            "SELECT author_id, nonce, seq FROM messages WHERE conversation_id = %s", (channel,)
        ).fetchall()
    return {(author, nonce): seq for author, nonce, seq in found}


def through(url: str, port: int) -> str:
    """``url`` by way of 127.0.0.1:``port``, without TLS (the proxy reads the answers)."""
    parts = urlsplit(url)
    user = parts.netloc.rpartition("@")[0]
    query = "&".join(q for q in (parts.query, "sslmode=disable") if q)
    return parts._replace(netloc=f"{user}@127.0.0.1:{port}", query=query).geturl()


async def test_message_role_killed_between_commit_and_ack(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    server = urlsplit(postgres_url)
    proxy = CommitHolder(server.hostname or "127.0.0.1", server.port or 5432)
    proxied = through(postgres_url, proxy.start())
    cluster = start_split(
        tmp_path / "data",
        redis=redis_url,
        store=postgres_url,
        role_env={"message": {"NODECHAT_STORE": proxied}},
    )
    senders: list[Sender] = []
    owner = None
    try:
        nodes = [cluster.socket("socket1"), cluster.socket("socket2")]
        channel, senders, owner = await setup_channel(nodes, SENDERS)
        watcher = owner  # a member on socket1 that only reads; the senders read too
        restarted = asyncio.Event()
        load = asyncio.gather(*(s.run(PAUSE, restarted, AFTER_RESTART) for s in senders))

        def acked() -> int:
            return sum(len(s.sends) - s.in_flight() for s in senders)

        def in_flight() -> int:
            return sum(s.in_flight() for s in senders)

        await wait_for(lambda: acked() >= 60, "the first acks")
        # Lock the channel's row: the writer's batch blocks on it, and each connection's
        # next sends pile up behind its blocked ones, to travel as one group (docs/
        # architecture.md, pipelined sends) once the lock goes. A commit of such a group
        # is the one whose answer is held.
        async with await psycopg.AsyncConnection.connect(postgres_url) as lock:
            await lock.execute("SELECT 1 FROM conversations WHERE id = %s FOR UPDATE", (channel,))
            await wait_for(
                lambda: all(s.in_flight() >= 2 * HELD_AT_LEAST for s in senders),
                "sends piling up behind the locked row",
            )
            proxy.hold_commit(rows=HELD_AT_LEAST)
        await wait_for(proxy.committed.is_set, "a commit the message role never hears of")
        await wait_for(lambda: in_flight() >= 150, "sends queued behind the held commit")
        cluster.procs["message"].kill()
        at_kill = stored_nonces(postgres_url, channel)
        refused = sum(s.refused["service_unavailable"] for s in senders)
        await wait_for(
            lambda: sum(s.refused["service_unavailable"] for s in senders) > refused,
            "a send refused as service_unavailable while the role is down",
        )
        cluster.restart("message")  # the real store now, no proxy
        restarted.set()
        await asyncio.wait_for(load, 120)

        stored = await check_channel(senders, [watcher], owner)

        # Sends committed before the kill and acked only by a retry: the held batch at
        # least. Each retry must have found the original (duplicate, same seq).
        retried_stored = 0
        for sender in senders:
            for send in sender.sends.values():
                seq = at_kill.get((sender.user_id, send.nonce))
                if seq is None:
                    continue
                assert send.ack is not None and send.ack["seq"] == seq, (send, seq)
                if send.attempts > 1:
                    assert send.ack["duplicate"], f"{send.nonce} stored again by a retry"
                    retried_stored += 1
        retried = sum(s.attempts > 1 for sender in senders for s in sender.sends.values())
        print(
            f"{len(stored)} messages; {len(at_kill)} committed at the kill, "
            f"{proxy.held_rows} of them in the commit never answered; "
            f"{retried} sends retried, {retried_stored} of them already stored"
        )
        # The held commit makes this window certain: none of its sends was acked.
        assert proxy.held_rows >= HELD_AT_LEAST
        assert retried_stored >= proxy.held_rows, "a send of the held commit was acked"
        for proc in cluster.procs.values():
            assert proc.popen.poll() is None, f"{proc.name} died:\n{''.join(proc.log)}"
            assert "Traceback" not in "".join(proc.log), f"{proc.name}:\n{''.join(proc.log)}"
    finally:
        for client in [*(s.client for s in senders), *([owner] if owner else [])]:
            await client.close()
        cluster.stop()
        proxy.close()
