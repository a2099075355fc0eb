"""The session protocol with no sockets: phases, exactly-once and in-order delivery,
holding while a session starts, resume, seq gaps and their grace, backfills,
catching up after a bus outage, revocation and presence repeats.

Each test feeds a :class:`Session` what a transport would (ops, the session
start, bus events, timer expiries, store replays) and reads what it decided:
the frames in ``outgoing`` and the ``actions``.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from nodechat.bus import Event
from nodechat.errors import Conflict, Unauthenticated
from nodechat.models import Identity, Message
from nodechat.protocol.framing import text_frame
from nodechat.protocol.session import (
    CLOSE_REVOKED,
    GAP_GRACE,
    TO_LATEST,
    ArmTimer,
    Backfill,
    CancelTimer,
    Close,
    Phase,
    Session,
    Verdict,
)

ME = Identity("u_me", "s_me")
READY = text_frame(b'{"type":"reply","id":"a","data":{}}')


def live(conversation: str, seq: int) -> Event:
    return Event("message.created", {"conversation": conversation, "seq": seq})


def stored(conversation: str, seq: int) -> Message:
    return Message(f"m{seq}", conversation, seq, "u_other", f"body {seq}", f"n{seq}", 1000 + seq)


def frames(session: Session) -> list[dict[str, Any]]:
    """Drain and decode the session's outgoing frames."""
    out = []
    for frame in session.outgoing:
        size, start = (frame[1], 2) if frame[1] < 126 else (int.from_bytes(frame[2:4], "big"), 4)
        assert len(frame) == start + size
        out.append(orjson.loads(frame[start:]))
    session.outgoing.clear()
    return out


def seqs(session: Session) -> list[tuple[str, int]]:
    """Drain the outgoing message events as (conversation, seq)."""
    return [
        (f["data"]["conversation"], f["data"]["seq"])
        for f in frames(session)
        if f.get("event") == "message.created"
    ]


def actions(session: Session) -> list[object]:
    taken, session.actions = session.actions, []
    return taken


def started(positions: dict[str, int] | None = None) -> Session:
    session = Session()
    session.begin(ME)
    session.start(READY, positions if positions is not None else {"c": 1})
    frames(session)  # the ready reply
    return session


# -- phases ------------------------------------------------------------------------


def test_only_public_ops_before_authentication() -> None:
    session = Session()
    for op in ("auth.login", "auth.register", "auth.refresh", "auth.authenticate", "ping"):
        session.check_op(op)
    with pytest.raises(Unauthenticated):
        session.check_op("message.send")
    session.begin(ME)
    assert session.phase is Phase.READY
    session.check_op("message.send")
    with pytest.raises(Conflict):
        session.check_op("auth.authenticate")


def test_an_aborted_start_forgets_everything_and_delivers_nothing() -> None:
    session = Session()
    session.begin(ME)
    session.receive(live("c", 1))
    session.abort()
    assert session.phase is Phase.UNAUTHENTICATED and session.identity is None
    assert not session.held and session.seen == {} and session.outgoing == []
    session.receive(live("c", 2))  # not a session any more: nothing goes out
    assert session.outgoing == []


def test_a_closed_session_sends_and_asks_for_nothing() -> None:
    session = started()
    session.close()
    session.receive(live("c", 2))
    session.catch_up()
    assert session.outgoing == [] and actions(session) == []


# -- the exactly-once filter ---------------------------------------------------------


def test_admit_delivers_in_order_and_drops_duplicates() -> None:
    session = Session()
    session.advance("c", 3)
    assert session.admit("c", 3) is Verdict.DUPLICATE
    assert session.admit("c", 4) is Verdict.DELIVER
    assert session.admit("c", 4) is Verdict.DUPLICATE
    assert session.admit("c", 6) is Verdict.GAP
    assert session.seen["c"] == 4  # a gap does not move the cursor
    assert session.admit("new", 1) is Verdict.DELIVER  # a conversation first seen live
    assert session.admit("later", 9) is Verdict.GAP  # its start may still be on the way
    assert session.seen["later"] == 0 and "later" in session.fresh
    assert session.admit("dm:a:b", 3) is Verdict.GAP  # opened after the snapshot: from 0
    assert session.seen["dm:a:b"] == 0 and "dm:a:b" not in session.fresh


def test_advance_never_moves_back() -> None:
    session = Session()
    session.advance("c", 5)
    session.advance("c", 2)
    assert session.seen["c"] == 5
    session.forget(["c"])
    assert "c" not in session.seen


def test_live_messages_in_order_go_straight_out_and_repeats_are_dropped() -> None:
    session = started()
    for seq in (2, 3, 3, 2, 4):
        session.receive(live("c", seq))
    assert seqs(session) == [("c", 2), ("c", 3), ("c", 4)]
    assert actions(session) == []


def test_the_shared_frame_is_sent_as_given() -> None:
    session = started()
    event = live("c", 2)
    shared = text_frame(event.frame)
    session.receive(event, shared)
    assert session.outgoing == [shared] and session.outgoing[0] is shared


# -- starting and resuming -------------------------------------------------------------


def test_the_snapshot_goes_first_then_the_replay_then_what_arrived_meanwhile() -> None:
    session = Session()
    session.begin(ME)  # subscribed: live events from now on are held
    session.receive(live("c", 4))  # also in the replay
    session.receive(live("c", 5))  # newer than the replay
    session.receive(live("d", 8))
    assert session.outgoing == [] and session.held
    session.start(READY, {"c": 4, "d": 7}, [stored("c", 3), stored("c", 4)])
    out = frames(session)
    assert out[0]["type"] == "reply"
    assert [(f["data"]["conversation"], f["data"]["seq"]) for f in out[1:]] == [
        ("c", 3),
        ("c", 4),
        ("c", 5),
        ("d", 8),
    ]
    assert not session.held and actions(session) == []


def test_an_event_that_overtook_its_predecessor_while_starting_waits_for_it() -> None:
    session = Session()
    session.begin(ME)
    session.receive(live("c", 6))  # 5 is still on its way from another node
    session.start(READY, {"c": 4})
    assert seqs(session) == [] and actions(session) == [ArmTimer(GAP_GRACE)]
    session.receive(live("c", 5))
    assert seqs(session) == [("c", 5), ("c", 6)]
    assert actions(session) == [CancelTimer()] and not session.held


def test_a_presence_the_snapshot_showed_is_not_repeated() -> None:
    session = Session()
    session.begin(ME)
    session.presence.add_peers(["u_a", "u_b"])
    session.start(READY, {}, presence={"u_a": "online", "u_b": "offline"})
    frames(session)
    for user, status in (("u_a", "online"), ("u_b", "offline"), ("u_b", "online")):
        session.receive(Event("presence", {"user_id": user, "status": status}))
    session.receive(Event("presence", {"user_id": "u_b", "status": "online"}))
    assert [(f["data"]["user_id"], f["data"]["status"]) for f in frames(session)] == [
        ("u_b", "online")
    ]


# -- gaps --------------------------------------------------------------------------


def test_reordered_events_are_put_back_in_order_without_the_store() -> None:
    session = started()
    session.receive(live("c", 3))  # 2 is still on its way from another node
    session.receive(live("c", 4))
    assert seqs(session) == [] and session.held
    assert actions(session) == [ArmTimer(GAP_GRACE)]
    session.receive(live("c", 2))
    assert seqs(session) == [("c", 2), ("c", 3), ("c", 4)] and not session.held
    assert actions(session) == [CancelTimer()]  # no store read
    session.timer_expired()  # a late expiry of the cancelled timer changes nothing
    session.receive(live("c", 5))
    assert seqs(session) == [("c", 5)] and actions(session) == []


def test_a_real_gap_is_read_from_the_store_after_the_grace() -> None:
    session = started()
    session.receive(live("c", 4))
    assert actions(session) == [ArmTimer(GAP_GRACE)]
    session.timer_expired()
    assert actions(session) == [Backfill("c", 1, 3)] and session.held
    session.receive(live("c", 5))  # arrives while the store is read: held behind the gap
    session.backfilled("c", [stored("c", 2), stored("c", 3)])
    assert seqs(session) == [("c", 2), ("c", 3), ("c", 4), ("c", 5)]
    assert not session.held


def test_messages_the_store_and_the_bus_both_bring_go_out_once() -> None:
    session = started()
    session.receive(live("c", 3))
    session.timer_expired()
    assert actions(session) == [ArmTimer(GAP_GRACE), Backfill("c", 1, 2)]
    session.receive(live("c", 2))  # the bus brought it after all, during the read
    session.backfilled("c", [stored("c", 2), stored("c", 3)])
    assert seqs(session) == [("c", 2), ("c", 3)]


def test_a_gap_older_than_the_store_replays_asks_the_client_to_reload() -> None:
    session = started()
    session.receive(live("c", 900))
    session.timer_expired()
    assert actions(session) == [ArmTimer(GAP_GRACE), Backfill("c", 1, 899)]
    session.backfilled("c", [], too_old=900)
    out = frames(session)
    assert out[0]["event"] == "resync.required"
    assert out[0]["data"] == {"conversation": "c", "last_seq": 900}
    assert len(out) == 1  # 900 itself is covered by the reload
    session.receive(live("c", 901))
    assert seqs(session) == [("c", 901)]


def test_a_failed_store_read_is_tried_again_and_skips_nothing() -> None:
    session = started()
    session.receive(live("c", 3))
    session.receive(live("d", 1))
    session.timer_expired()
    actions(session)
    session.backfill_failed("c")  # the store is down: the gap is still there
    assert seqs(session) == [] and session.held
    assert actions(session) == [ArmTimer(GAP_GRACE)]
    session.timer_expired()
    assert actions(session) == [Backfill("c", 1, 2)]
    session.backfilled("c", [stored("c", 2)])
    assert seqs(session) == [("c", 2), ("c", 3), ("d", 1)] and not session.held


def test_a_conversation_first_seen_live_keeps_its_first_messages() -> None:
    session = started()
    for seq in (2, 1, 3):  # 2 overtook 1 on the way from two different nodes
        session.receive(live("n", seq))
    assert seqs(session) == [("n", 1), ("n", 2), ("n", 3)] and not session.held


def test_a_conversation_joined_midway_starts_where_it_is() -> None:
    session = started()
    session.receive(live("old", 41))
    session.timer_expired()
    assert actions(session) == [ArmTimer(GAP_GRACE)]  # no history replay for it
    assert seqs(session) == [("old", 41)]
    session.receive(live("old", 42))
    assert seqs(session) == [("old", 42)]


def test_a_direct_conversation_opened_after_the_snapshot_is_filled_from_the_store() -> None:
    """Its start cannot predate the session: a late first message is a gap from 0."""
    session = started()
    session.receive(live("dm:a:b", 3))
    session.timer_expired()
    assert actions(session) == [ArmTimer(GAP_GRACE), Backfill("dm:a:b", 0, 2)]
    session.backfilled("dm:a:b", [stored("dm:a:b", 1), stored("dm:a:b", 2)])
    assert seqs(session) == [("dm:a:b", 1), ("dm:a:b", 2), ("dm:a:b", 3)]


def test_a_second_gap_found_while_releasing_holds_the_rest_behind_it() -> None:
    session = started({"c": 1, "d": 1})
    session.receive(live("c", 3))
    session.receive(live("d", 3))  # a gap of its own, behind c's
    session.receive(live("d", 4))
    session.timer_expired()
    actions(session)
    session.backfilled("c", [stored("c", 2)])
    assert seqs(session) == [("c", 2), ("c", 3)]
    assert session.held and actions(session) == [ArmTimer(GAP_GRACE)]
    session.timer_expired()
    assert actions(session) == [Backfill("d", 1, 2)]
    session.backfilled("d", [stored("d", 2)])
    assert seqs(session) == [("d", 2), ("d", 3), ("d", 4)] and not session.held


def test_a_joined_groups_channels_are_read_from_where_they_stood_at_the_join() -> None:
    """Messages sent after the join but before this node subscribed the session to the
    group reach it from the store; nothing from before the join does."""
    session = started()
    session.joined({"g1": 7, "g2": 0, "c": 0})  # "c" is tracked past its head: left alone
    session.catch_up_on(["g1", "g2"])
    assert actions(session) == [Backfill("g1", 7, TO_LATEST)] and session.held
    session.receive(live("g1", 10))  # live by now: held behind the reads
    session.backfilled("g1", [stored("g1", 8), stored("g1", 9)])
    assert actions(session) == [Backfill("g2", 0, TO_LATEST)]
    session.backfilled("g2", [stored("g2", 1)])
    assert seqs(session) == [("g1", 8), ("g1", 9), ("g2", 1), ("g1", 10)]
    assert not session.held and session.seen["c"] == 1


def test_a_rejoined_channel_starts_at_the_new_join_not_where_the_last_membership_ended() -> None:
    """Left at seq 2, rejoined at 5: 3-5 were sent while the user was no member."""
    session = started({"c": 2})
    session.joined({"c": 5})
    session.catch_up_on(["c"])
    assert actions(session) == [Backfill("c", 5, TO_LATEST)]
    session.backfilled("c", [stored("c", 6)])
    assert seqs(session) == [("c", 6)] and not session.held


def test_a_join_while_a_gap_is_being_filled_queues_its_reads_behind() -> None:
    session = started({"c": 1})
    session.receive(live("c", 3))
    session.timer_expired()
    assert actions(session) == [ArmTimer(GAP_GRACE), Backfill("c", 1, 2)]
    session.joined({"g": 4})
    session.catch_up_on(["g"])
    assert actions(session) == []  # one read at a time
    session.backfilled("c", [stored("c", 2)])
    assert actions(session) == [Backfill("g", 4, TO_LATEST)]
    session.backfilled("g", [stored("g", 5)])
    assert seqs(session) == [("c", 2), ("g", 5), ("c", 3)] and not session.held


# -- catching up after a bus outage ----------------------------------------------------


def test_catching_up_reads_every_conversation_and_fills_the_tail_gap() -> None:
    """Messages lost at the tail are revealed by no later message: a bus outage is
    the signal, and every tracked conversation is read to the latest."""
    session = started({"c": 5, "d": 2})
    session.catch_up()
    assert actions(session) == [Backfill("c", 5, TO_LATEST)] and session.held
    session.receive(live("c", 8))  # live again: held until the reads are done
    session.backfilled("c", [stored("c", 6), stored("c", 7)])
    assert actions(session) == [Backfill("d", 2, TO_LATEST)]
    session.backfilled("d", [])
    assert seqs(session) == [("c", 6), ("c", 7), ("c", 8)] and not session.held


def test_a_session_already_holding_is_not_caught_up_twice() -> None:
    session = Session()
    session.begin(ME)  # starting: its snapshot must go out first
    session.catch_up()
    assert actions(session) == []
    session = started()
    session.receive(live("c", 3))
    session.timer_expired()
    actions(session)
    session.catch_up()  # filling a gap already reads the store
    assert actions(session) == []


# -- revocation --------------------------------------------------------------------------


def test_a_revocation_closes_only_the_sessions_it_names() -> None:
    session = started()
    session.receive(Event("session.revoked", {"session_ids": ["s_other"]}))
    assert actions(session) == [] and session.phase is Phase.READY
    session.receive(Event("session.revoked", {"session_ids": ["s_other", ME.session_id]}))
    assert actions(session) == [Close(CLOSE_REVOKED, "session revoked")]
    assert session.phase is Phase.CLOSED and session.outgoing == []


def test_a_revocation_of_every_session_closes_this_one() -> None:
    session = started()
    session.receive(Event("session.revoked", {"user_id": ME.user_id}))
    assert actions(session) == [Close(CLOSE_REVOKED, "session revoked")]
