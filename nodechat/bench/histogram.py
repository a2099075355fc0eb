"""A log-bucketed latency histogram: constant memory, mergeable across worker processes.

Like HdrHistogram, it keeps counts per bucket rather than every sample, so a
run with millions of deliveries costs a few kilobytes to record and to send to
the parent. Buckets grow by 1 % (``RATIO``): a percentile is exact to within
1 %, and the maximum is kept exactly.
"""

from __future__ import annotations

import math
from array import array
from typing import Any

RATIO = 1.01
LOWEST = 1e-6  # seconds: everything faster lands in bucket 0
BUCKETS = 2100  # LOWEST * RATIO**2100 is about 1.2 million s
_LOG = math.log(RATIO)


class Histogram:
    """Counts of durations (seconds) by 1 % bucket, plus the exact maximum."""

    def __init__(self) -> None:
        self.counts = array("q", bytes(8 * BUCKETS))
        self.count = 0
        self.max = 0.0

    def add(self, seconds: float) -> None:
        """Record one duration (a negative one counts as zero)."""
        k = 0
        if seconds > LOWEST:
            k = min(int(math.log(seconds / LOWEST) / _LOG) + 1, BUCKETS - 1)
        self.counts[k] += 1
        self.count += 1
        if seconds > self.max:
            self.max = seconds

    def merge(self, other: Histogram) -> None:
        """Add another histogram's counts to this one."""
        for k, n in enumerate(other.counts):
            if n:
                self.counts[k] += n
        self.count += other.count
        self.max = max(self.max, other.max)

    def percentile(self, p: float) -> float:
        """The duration at or below which ``p`` percent of the samples fall (upper edge of
        its bucket, at most the maximum); NaN when empty."""
        if not self.count:
            return math.nan
        rank = max(1, math.ceil(p / 100.0 * self.count))
        seen = 0
        for k, n in enumerate(self.counts):
            seen += n
            if seen >= rank:
                edge = LOWEST * RATIO**k if k else LOWEST
                return min(edge, self.max)
        return self.max

    def summary_ms(self) -> dict[str, Any]:
        """``{count, p50, p95, p99, max}`` in milliseconds (None when empty)."""

        def ms(value: float) -> float | None:
            return None if math.isnan(value) else round(value * 1000.0, 3)

        return {
            "count": self.count,
            "p50": ms(self.percentile(50)),
            "p95": ms(self.percentile(95)),
            "p99": ms(self.percentile(99)),
            "max": ms(self.max) if self.count else None,
        }

    def dump(self) -> tuple[bytes, int, float]:
        """A compact picklable form."""
        return self.counts.tobytes(), self.count, self.max

    @classmethod
    def load(cls, dumped: tuple[bytes, int, float]) -> Histogram:
        """The histogram :meth:`dump` made."""
        made = cls()
        made.counts = array("q")
        made.counts.frombytes(dumped[0])
        made.count, made.max = dumped[1], dumped[2]
        return made
