"""The load generator's bookkeeping, without sockets: who got which message, latencies."""

from __future__ import annotations

import math
import random

from nodechat.bench.histogram import Histogram
from nodechat.bench.tally import DUPLICATE, NEW, OTHER, Seen, Tally, missing_for


def test_a_second_delivery_to_one_connection_is_a_duplicate() -> None:
    tally = Tally()
    a: dict[str, Seen] = {}
    b: dict[str, Seen] = {}
    tally.join(a, "ch_1", 10)
    tally.join(b, "ch_1", 10)
    assert tally.record(a, "ch_1", 11) == NEW
    assert tally.record(b, "ch_1", 11) == NEW  # another connection: not a duplicate
    assert tally.record(a, "ch_1", 11) == DUPLICATE
    assert tally.record(a, "ch_1", 10) == OTHER  # before the run
    assert tally.record(a, "ch_2", 1) == OTHER  # not a member
    assert (tally.duplicates, tally.others) == (1, 2)
    settled = tally.settle({"ch_1": [11]})
    assert (settled.expected, settled.delivered, settled.missing) == (2, 2, 0)


def test_acked_messages_a_member_lacks_are_missing() -> None:
    tally = Tally()
    conns: list[dict[str, Seen]] = [{} for _ in range(3)]
    for seen in conns:
        tally.join(seen, "ch_1", 0)
    for seq in range(1, 101):
        for i, seen in enumerate(conns):
            if not (i == 2 and seq in (7, 50)):  # connection 2 misses two messages
                tally.record(seen, "ch_1", seq)
    acked = {"ch_1": list(range(1, 101)), "ch_other": [1, 2]}
    settled = tally.settle(acked)
    assert (settled.expected, settled.delivered, settled.missing) == (300, 298, 2)
    assert [missing_for(seen, acked) for seen in conns] == [0, 0, 2]
    assert tally.settle({"ch_1": [101]}).missing == 3  # acked, seen by nobody yet


def test_a_member_that_joined_at_an_older_seq_rebases_the_counts() -> None:
    tally = Tally()
    late: dict[str, Seen] = {}
    early: dict[str, Seen] = {}
    tally.join(late, "ch_1", 5)
    tally.record(late, "ch_1", 6)
    tally.join(early, "ch_1", 2)
    tally.record(early, "ch_1", 6)
    tally.record(early, "ch_1", 3)
    assert tally.settle({"ch_1": [6]}).delivered == 2
    assert tally.settle({"ch_1": [3]}).delivered == 1


def test_histogram_percentiles_are_within_one_percent_and_merge() -> None:
    rng = random.Random(7)
    values = [rng.expovariate(1 / 0.005) for _ in range(20_000)]
    first, second = Histogram(), Histogram()
    for i, v in enumerate(values):
        (first if i % 2 else second).add(v)
    first.merge(Histogram.load(second.dump()))
    ordered = sorted(values)
    for p in (50, 95, 99):
        exact = ordered[math.ceil(p / 100 * len(ordered)) - 1]
        assert exact <= first.percentile(p) <= exact * 1.0101
    assert first.count == 20_000 and first.max == max(values)
    assert first.summary_ms()["max"] == round(max(values) * 1000, 3)
    empty = Histogram().summary_ms()
    assert empty == {"count": 0, "p50": None, "p95": None, "p99": None, "max": None}
