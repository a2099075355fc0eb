#!/usr/bin/env python3
"""Full-text search latency: ``SearchStore.search`` over a large message table.

Builds ``--messages`` messages (default 1,000,000) over ``--conversations``
conversations (default 200) straight through the backend's engine (SQLite
``executemany`` in one transaction, the FTS5 triggers indexing as they go;
PostgreSQL ``COPY`` with the GIN index dropped and rebuilt after, as a bulk load
would), then times ``--queries`` searches of each kind, each over the
``--readable`` conversations (default 50) a caller may read, 20 results a page:

* ``common``: one of the 10 most frequent words;
* ``rare``: a word of frequency rank 5,000-20,000 (a few dozen messages);
* ``two words``: two words of rank 50-500, both required;
* ``author``: a common word, only one author's messages;
* ``one conversation``: a common word in one conversation;
* ``page 5``: a common word, the fifth page (offset 80).

Bodies are 3-25 words drawn from a Zipf-like vocabulary of 20,000 synthetic
words (s = 1.1), authors from 500 users. Prints p50/p99 per kind.

    python benchmarks/search.py --store sqlite:////tmp/search-bench/chat.db
    createdb search_bench && python benchmarks/search.py \\
        --store postgresql://postgres@127.0.0.1:5432/search_bench

The target must be empty (a new SQLite file, a fresh PostgreSQL database).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator
from itertools import accumulate

import psycopg

from nodechat.models import direct_conversation_id
from nodechat.storage import open_store
from nodechat.storage.base import SearchQuery

T0 = 1_700_000_000_000
VOCABULARY = 20_000
AUTHORS = 500
_SYLLABLES = [c + v for c in "bcdfghjklmnprstvz" for v in "aeiou"]


def vocabulary(rng: random.Random) -> list[str]:
    """VOCABULARY distinct pronounceable words, most frequent first."""
    words: dict[str, None] = {}
    while len(words) < VOCABULARY:
        words.setdefault("".join(rng.choices(_SYLLABLES, k=rng.randint(2, 4))), None)
    return list(words)


def conversation_ids(count: int) -> list[str]:
    """The benchmark's conversation ids (direct conversations)."""
    return [direct_conversation_id(f"u{i}a", f"u{i}b") for i in range(count)]


def messages(
    args: argparse.Namespace, words: list[str], rng: random.Random
) -> Iterator[tuple[object, ...]]:
    """``(id, conversation_id, seq, author_id, body, nonce, created_at)`` rows."""
    weights = list(accumulate(1 / (rank + 1) ** 1.1 for rank in range(len(words))))
    conversations = conversation_ids(args.conversations)
    seqs = [0] * len(conversations)
    for n in range(args.messages):
        c = rng.randrange(len(conversations))
        seqs[c] += 1
        body = " ".join(rng.choices(words, cum_weights=weights, k=rng.randint(3, 25)))
        author = f"u{rng.randrange(AUTHORS)}"
        yield (f"m{n:08d}", conversations[c], seqs[c], author, body, f"n{n}", T0 + n * 1000)


def load_sqlite(path: str, args: argparse.Namespace, rows: Iterator[tuple[object, ...]]) -> None:
    """Insert the conversations and messages in one transaction (triggers index them)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for i, cid in enumerate(conversation_ids(args.conversations)):
        conn.execute(
            "INSERT INTO conversations (id, kind, user_a, user_b, last_seq)"
            " VALUES (?, 'direct', ?, ?, 0)",
            (cid, f"u{i}a", f"u{i}b"),
        )
    conn.executemany(
        "INSERT INTO messages (id, conversation_id, seq, author_id, body, nonce, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def load_postgres(url: str, args: argparse.Namespace, rows: Iterator[tuple[object, ...]]) -> None:
    """COPY the messages with the GIN index dropped, then build it (a bulk load)."""
    with psycopg.connect(url, autocommit=True) as conn:
        for i, cid in enumerate(conversation_ids(args.conversations)):
            conn.execute(
                "INSERT INTO conversations (id, kind, user_a, user_b, last_seq)"
                " VALUES (%s, 'direct', %s, %s, 0)",
                (cid, f"u{i}a", f"u{i}b"),
            )
        conn.execute("DROP INDEX messages_body_tsv")
        with conn.cursor() as cur:
            copy_sql = (
                "COPY messages (id, conversation_id, seq, author_id, body, nonce, created_at)"
                " FROM STDIN"
            )
            with cur.copy(copy_sql) as copy:
                buffer = io.StringIO()
                for n, row in enumerate(rows, 1):
                    buffer.write("\t".join(str(v) for v in row) + "\n")
                    if n % 50_000 == 0:
                        copy.write(buffer.getvalue())
                        buffer = io.StringIO()
                copy.write(buffer.getvalue())
        conn.execute("SET maintenance_work_mem = '256MB'")
        conn.execute("CREATE INDEX messages_body_tsv ON messages USING GIN (body_tsv)")
        conn.execute("VACUUM ANALYZE messages")


def query_kinds(
    args: argparse.Namespace, words: list[str], readable: tuple[str, ...]
) -> dict[str, Callable[[random.Random], tuple[SearchQuery, int]]]:
    """Per kind, a maker of one (query, offset)."""

    def common(rng: random.Random) -> str:
        return words[rng.randrange(10)]

    return {
        "common": lambda rng: (SearchQuery((common(rng),), readable), 0),
        "rare": lambda rng: (SearchQuery((words[rng.randrange(5_000, 20_000)],), readable), 0),
        "two words": lambda rng: (
            SearchQuery((words[rng.randrange(50, 500)], words[rng.randrange(50, 500)]), readable),
            0,
        ),
        "author": lambda rng: (
            SearchQuery((common(rng),), readable, author_id=f"u{rng.randrange(AUTHORS)}"),
            0,
        ),
        "one conversation": lambda rng: (
            SearchQuery((common(rng),), (rng.choice(readable),)),
            0,
        ),
        "page 5": lambda rng: (SearchQuery((common(rng),), readable), 80),
    }


async def measure(url: str, args: argparse.Namespace, words: list[str]) -> None:
    """Run the queries and print p50/p99 per kind."""
    rng = random.Random(args.seed + 1)
    readable = tuple(rng.sample(conversation_ids(args.conversations), args.readable))
    store = open_store(url)
    try:
        for kind, make in query_kinds(args, words, readable).items():
            times: list[float] = []
            found = 0
            for i in range(args.queries + 5):
                query, offset = make(rng)
                start = time.perf_counter()
                page = await store.search.search(query, offset=offset, limit=20)
                elapsed = (time.perf_counter() - start) * 1000
                if i >= 5:  # the first few warm the caches
                    times.append(elapsed)
                    found += len(page)
            times.sort()
            p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
            print(
                f"{kind:>17}: p50 {statistics.median(times):8.2f} ms   p99 {p99:8.2f} ms"
                f"   ({len(times)} queries, {found / len(times):.1f} results each)",
                flush=True,
            )
    finally:
        await store.close()


def main() -> None:
    """Build the data set, then measure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", required=True, help="sqlite:///PATH or postgresql://...")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--readable", type=int, default=50)
    parser.add_argument("--queries", type=int, default=100, help="per kind")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument(
        "--no-load", action="store_true", help="measure a store this script filled before"
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    words = vocabulary(rng)
    if args.no_load:  # same seed, same vocabulary: the words the queries draw are there
        asyncio.run(measure(args.store, args, words))
        return

    asyncio.run(open_store(args.store).close())  # creates and migrates the schema
    start = time.monotonic()
    rows = messages(args, words, rng)
    if args.store.startswith("sqlite:"):
        load_sqlite(args.store.removeprefix("sqlite://"), args, rows)
    else:
        load_postgres(args.store, args, rows)
    print(f"loaded {args.messages:,} messages in {time.monotonic() - start:.0f} s", flush=True)
    asyncio.run(measure(args.store, args, words))


if __name__ == "__main__":
    main()
