"""The fan-out fast path (:meth:`Session.take_next`) decides as :meth:`Session.receive`.

The hub hands each recipient of a ``message.created`` to ``take_next`` first and
to ``receive`` only when it declines. For any sequence of live messages, of
gaps, duplicates, threads, fresh channels and holds, a session fed that way
must queue the same frames, follow the same seqs and ask for the same actions
as one fed through ``receive`` alone.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from nodechat.bus import Event
from nodechat.models import Identity
from nodechat.protocol.framing import text_frame
from nodechat.protocol.session import Session

ME = Identity("u_me", "s_me")
READY = text_frame(b'{"type":"reply","id":"a","data":{}}')
CONVERSATIONS = ("c", "d", "dm:u_a:u_me", "thread:m1")

steps = st.lists(
    st.one_of(
        st.tuples(st.just("live"), st.sampled_from(CONVERSATIONS), st.integers(1, 8)),
        st.tuples(st.just("timer"), st.just(""), st.just(0)),
    ),
    max_size=40,
)


def started() -> Session:
    session = Session()
    session.begin(ME)
    session.start(READY, {"c": 1, "dm:u_a:u_me": 0})
    return session


def live(conversation: str, seq: int) -> tuple[Event, bytes]:
    event = Event("message.created", {"conversation": conversation, "seq": seq})
    return event, text_frame(event.frame)


def feed(session: Session, plan: list[tuple[str, str, int]], fast: bool) -> list[object]:
    taken: list[object] = []
    for kind, conversation, seq in plan:
        if kind == "timer":
            if any(type(a).__name__ == "ArmTimer" for a in taken):
                session.timer_expired()
        else:
            event, frame = live(conversation, seq)
            if not (fast and session.take_next(conversation, seq, frame)):
                session.receive(event, frame)
        taken += session.actions
        session.actions = []
    return taken


@settings(max_examples=300)
@given(steps)
def test_take_next_decides_as_receive(plan: list[tuple[str, str, int]]) -> None:
    general, fast = started(), started()
    general_actions = feed(general, plan, fast=False)
    fast_actions = feed(fast, plan, fast=True)
    assert fast.outgoing == general.outgoing
    assert fast.seen == general.seen
    assert fast.fresh == general.fresh
    assert fast.held == general.held
    assert [type(a) for a in fast_actions] == [type(a) for a in general_actions]


def test_take_next_takes_the_common_case_and_declines_the_rest() -> None:
    session = started()
    _, frame = live("c", 2)
    assert session.take_next("c", 2, frame)  # the next one of a followed conversation
    assert session.outgoing[-1] == frame and session.seen["c"] == 2
    assert not session.take_next("c", 2, frame)  # a duplicate: receive drops it
    assert not session.take_next("c", 4, frame)  # a gap: receive holds and arms a timer
    assert not session.take_next("thread:m1", 1, frame)  # not followed yet
    held = Session()
    held.begin(ME)  # starting: live events are held
    assert not held.take_next("c", 1, frame)
