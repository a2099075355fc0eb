"""Who got which message: the bookkeeping behind "lost" and "duplicated", with no I/O.

Every connection keeps, per channel it is a member of (its ready snapshot
says which), one byte per seq after the channel's ``last_seq`` at
authentication: a second delivery of a seq to the same connection is a
duplicate. A worker counts the distinct deliveries of each seq over its
connections; once the acks of every worker are known, a message acked with
seq ``s`` in channel ``c`` should have reached each member connection, so the
deliveries it lacks are lost. The counts stay in the worker: only the acked
seqs travel there, and only sums travel back.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

NEW, DUPLICATE, OTHER = 0, 1, 2


class Seen:
    """One connection's deliveries in one conversation: a byte per seq after ``base``."""

    __slots__ = ("base", "bits")

    def __init__(self, base: int) -> None:
        self.base = base
        self.bits = bytearray()

    def mark(self, seq: int) -> int:
        """``NEW`` the first time, ``DUPLICATE`` after; ``OTHER`` for a seq at or before
        the base (a message older than the run, e.g. a replay)."""
        i = seq - self.base - 1
        if i < 0:
            return OTHER
        bits = self.bits
        if i >= len(bits):
            bits.extend(bytes(max(i + 1 - len(bits), len(bits))))
        if bits[i]:
            return DUPLICATE
        bits[i] = 1
        return NEW

    def has(self, seq: int) -> bool:
        """Whether ``seq`` was delivered."""
        i = seq - self.base - 1
        return 0 <= i < len(self.bits) and bool(self.bits[i])


@dataclass(frozen=True, slots=True)
class Settled:
    """A worker's share of the delivery check."""

    expected: int  # acked messages times this worker's member connections
    delivered: int  # distinct deliveries of acked messages
    missing: int  # expected - delivered, per message and never below zero


class Tally:
    """A worker's distinct deliveries per conversation and seq."""

    def __init__(self) -> None:
        self.members: Counter[str] = Counter()
        self.bases: dict[str, int] = {}
        self.counts: dict[str, array[int]] = {}
        self.duplicates = 0
        self.others = 0  # deliveries of messages older than the run or in untracked conversations

    def join(self, seen: dict[str, Seen], conversation: str, last_seq: int) -> None:
        """A connection that should get ``conversation``'s messages after ``last_seq``."""
        seen[conversation] = Seen(last_seq)
        self.members[conversation] += 1
        base = self.bases.get(conversation)
        if base is None or last_seq < base:
            self._rebase(conversation, last_seq)

    def _rebase(self, conversation: str, base: int) -> None:
        old = self.bases.get(conversation)
        counts = self.counts.get(conversation, array("I"))
        if old is not None and counts:
            counts = array("I", bytes(4 * (old - base))) + counts
        self.bases[conversation] = base
        self.counts[conversation] = counts

    def record(self, seen: Mapping[str, Seen], conversation: str, seq: int) -> int:
        """One delivery to a connection: ``NEW``, ``DUPLICATE`` or ``OTHER``."""
        mine = seen.get(conversation)
        if mine is None:
            self.others += 1
            return OTHER
        outcome = mine.mark(seq)
        if outcome == NEW:
            counts = self.counts[conversation]
            i = seq - self.bases[conversation] - 1
            if i >= len(counts):
                counts.extend(bytes(4 * max(i + 1 - len(counts), len(counts))))
            counts[i] += 1
        elif outcome == DUPLICATE:
            self.duplicates += 1
        else:
            self.others += 1
        return outcome

    def settle(self, acked: Mapping[str, Sequence[int]]) -> Settled:
        """How many deliveries of the acked messages this worker expected, got and lacks."""
        expected = delivered = missing = 0
        for conversation, seqs in acked.items():
            members = self.members.get(conversation, 0)
            if not members:
                continue
            counts = self.counts[conversation]
            base = self.bases[conversation]
            for seq in seqs:
                i = seq - base - 1
                got = counts[i] if 0 <= i < len(counts) else 0
                expected += members
                delivered += got
                missing += max(0, members - got)
        return Settled(expected, delivered, missing)


def missing_for(seen: Mapping[str, Seen], acked: Mapping[str, Iterable[int]]) -> int:
    """How many acked messages one connection should have got and did not."""
    return sum(
        1
        for conversation, mine in seen.items()
        for seq in acked.get(conversation, ())
        if not mine.has(seq)
    )
