"""Session state: phase rules and the exactly-once, in-order message filter."""

from __future__ import annotations

import pytest

from nodechat.errors import Conflict, Unauthenticated
from nodechat.models import Identity
from nodechat.protocol.session import Phase, SessionState, Verdict


def test_only_public_ops_before_authentication() -> None:
    state = SessionState()
    for op in ("auth.login", "auth.register", "auth.refresh", "auth.authenticate", "ping"):
        state.check_op(op)
    with pytest.raises(Unauthenticated):
        state.check_op("message.send")
    state.authenticated(Identity("u", "s"))
    assert state.phase is Phase.READY
    state.check_op("message.send")
    with pytest.raises(Conflict):
        state.check_op("auth.authenticate")


def test_admit_delivers_in_order_and_drops_duplicates() -> None:
    state = SessionState()
    state.advance("c", 3)
    assert state.admit("c", 3) is Verdict.DUPLICATE
    assert state.admit("c", 4) is Verdict.DELIVER
    assert state.admit("c", 4) is Verdict.DUPLICATE
    assert state.admit("c", 6) is Verdict.GAP
    assert state.seen["c"] == 4  # a gap does not move the cursor
    assert state.admit("new", 1) is Verdict.DELIVER  # a conversation first seen live
    assert state.admit("later", 9) is Verdict.GAP  # its start may still be on the way
    assert state.seen["later"] == 0 and "later" in state.fresh
    assert state.admit("dm:a:b", 3) is Verdict.GAP  # opened after the snapshot: from 0
    assert state.seen["dm:a:b"] == 0 and "dm:a:b" not in state.fresh


def test_advance_never_moves_back() -> None:
    state = SessionState()
    state.advance("c", 5)
    state.advance("c", 2)
    assert state.seen["c"] == 5
    state.forget(["c"])
    assert "c" not in state.seen
