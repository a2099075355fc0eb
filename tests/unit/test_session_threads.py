"""The session protocol and threads: a thread first seen live, its gaps, its resume."""

from __future__ import annotations

from nodechat.protocol.session import ArmTimer, Backfill, Session
from tests.unit.test_session_protocol import ME, READY, actions, live, seqs, started, stored


def test_a_thread_first_seen_live_starts_where_it_is_then_is_gap_free() -> None:
    session = started()
    session.receive(live("thread:m1", 5))  # no hold: the client reads the rest by history
    assert seqs(session) == [("thread:m1", 5)]
    assert actions(session) == []
    session.receive(live("thread:m1", 5))  # a duplicate
    session.receive(live("thread:m1", 7))  # a gap: held for its grace, then read
    assert seqs(session) == []
    assert actions(session) == [ArmTimer(0.05)]
    session.timer_expired()
    assert actions(session) == [Backfill("thread:m1", 5, 6)]
    session.backfilled("thread:m1", [stored("thread:m1", 6)])
    assert seqs(session) == [("thread:m1", 6), ("thread:m1", 7)]


def test_a_resumed_thread_continues_from_its_position() -> None:
    session = Session()
    session.begin(ME)
    session.receive(live("thread:m1", 4))  # held while starting
    session.start(READY, {"c": 1, "thread:m1": 3}, [stored("thread:m1", 3)])
    assert seqs(session) == [("thread:m1", 3), ("thread:m1", 4)]
    session.catch_up()  # a bus outage reads every tracked conversation, threads too
    assert actions(session) == [Backfill("c", 1, -1)]  # one read at a time
    session.backfilled("c", [])
    assert actions(session) == [Backfill("thread:m1", 4, -1)]
