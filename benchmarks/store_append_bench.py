#!/usr/bin/env python3
"""Store-level append throughput: how many durable ``messages.append`` calls per second.

Opens the store at ``--store`` in each of ``--processes`` processes (they share
the database, like message-role replicas), and in each keeps ``--concurrency``
appends in flight, spread over ``--conversations`` direct conversations, for
``--duration`` seconds. Every append is acknowledged only after its commit.
Afterwards it checks that every conversation's seqs are exactly 1..last_seq.

    python benchmarks/store_append_bench.py --store postgresql://postgres@127.0.0.1/bench
    python benchmarks/store_append_bench.py --store sqlite:////tmp/bench.db --processes 1

The database should be empty (a fresh PostgreSQL database, a new SQLite file).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import time

from nodechat.models import Conversation, ConversationKind, direct_conversation_id
from nodechat.storage import open_store


def _conversations(count: int) -> list[str]:
    return [direct_conversation_id(f"u{i}a", f"u{i}b") for i in range(count)]


async def _prepare(url: str, count: int) -> None:
    store = open_store(url)
    for i, cid in enumerate(_conversations(count)):
        await store.messages.ensure_conversation(
            Conversation(cid, ConversationKind.DIRECT, participants=(f"u{i}a", f"u{i}b"))
        )
    await store.close()


async def _load(url: str, worker: int, args: argparse.Namespace) -> int:
    store = open_store(url)
    conversations = _conversations(args.conversations)
    deadline = time.monotonic() + args.duration
    done = 0

    async def sender(n: int) -> None:
        nonlocal done
        i = 0
        while time.monotonic() < deadline:
            cid = conversations[(n + i) % len(conversations)]
            tag = f"w{worker}-s{n}-{i}"
            await store.messages.append(
                cid,
                message_id=f"m-{tag}",
                author_id=f"a{n % 50}",
                body="x" * 100,
                nonce=tag,
                reply_to=None,
                now=0,
            )
            done += 1
            i += 1

    await asyncio.gather(*(sender(n) for n in range(args.concurrency)))
    await store.close()
    return done


def _worker(
    url: str, worker: int, args: argparse.Namespace, out: multiprocessing.Queue[int]
) -> None:
    out.put(asyncio.run(_load(url, worker, args)))


async def _check(url: str, count: int) -> tuple[int, bool]:
    store = open_store(url)
    total, ok = 0, True
    for cid in _conversations(count):
        conversation = await store.messages.get_conversation(cid)
        assert conversation is not None
        seqs: list[int] = []
        after = 0
        while True:
            page = await store.messages.history(cid, after=after, limit=1000)
            seqs += [m.seq for m in page]
            if len(page) < 1000:
                break
            after = page[-1].seq
        ok = ok and seqs == list(range(1, conversation.last_seq + 1))
        total += len(seqs)
    await store.close()
    return total, ok


def main() -> None:
    """Run the benchmark and print appends per second."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    asyncio.run(_prepare(args.store, args.conversations))
    out: multiprocessing.Queue[int] = multiprocessing.Queue()
    procs = [
        multiprocessing.Process(target=_worker, args=(args.store, w, args, out))
        for w in range(args.processes)
    ]
    started = time.monotonic()
    for proc in procs:
        proc.start()
    acked = sum(out.get() for _ in procs)
    for proc in procs:
        proc.join()
    elapsed = time.monotonic() - started
    stored, gap_free = asyncio.run(_check(args.store, args.conversations))
    print(
        f"{acked} appends acked in {elapsed:.1f} s by {args.processes} process(es) x "
        f"{args.concurrency} in flight over {args.conversations} conversations: "
        f"{acked / args.duration:,.0f}/s (cpus: {os.cpu_count()})"
    )
    print(f"stored {stored}, seqs gap-free: {gap_free}")
    raise SystemExit(0 if gap_free and stored == acked else 1)


if __name__ == "__main__":
    main()
