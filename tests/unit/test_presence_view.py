"""A session's presence subscriptions: who it hears, the limit, and what it was told."""

from __future__ import annotations

import orjson
import pytest

from nodechat.bus import Event
from nodechat.errors import InvalidRequest
from nodechat.models import Identity
from nodechat.protocol.presence import MAX_WATCHED, PresenceView
from nodechat.protocol.session import Session


def _told(session: Session) -> list[tuple[str, str]]:
    """Drain the session's outgoing presence frames as (user, status)."""
    out = []
    for frame in session.outgoing:
        data = orjson.loads(frame[2:])["data"]  # small frames: a 2-byte header
        out.append((data["user_id"], data["status"]))
    session.outgoing.clear()
    return out


def test_only_users_the_session_shows_reach_it() -> None:
    session = Session()
    session.begin(Identity("u_me", "s"))
    session.presence.add_peers(["u_peer"])
    session.start(b"ready", {}, presence={"u_peer": "offline"})
    session.outgoing.clear()
    for user in ("u_peer", "u_stranger", "u_later"):
        session.receive(Event("presence", {"user_id": user, "status": "online"}))
    assert _told(session) == [("u_peer", "online")]
    assert session.presence.watch(["u_later"]) == ["u_later"]
    session.presence.answer({"u_later": "online"})
    session.receive(Event("presence", {"user_id": "u_later", "status": "offline"}))
    assert _told(session) == [("u_later", "offline")]
    assert session.presence.unwatch(["u_later"]) == ["u_later"]
    session.receive(Event("presence", {"user_id": "u_later", "status": "online"}))
    assert _told(session) == []


def test_a_change_sent_before_the_subscription_answer_wins_over_the_lookup() -> None:
    view = PresenceView()
    view.watch(["u_a"])
    assert view.admit("u_a", "offline")  # the event came after the lookup said online
    assert view.answer({"u_a": "online"}) == {"u_a": "offline"}


def test_peers_stay_shown_after_unsubscribing_from_everyone() -> None:
    view = PresenceView()
    assert view.add_peers(["u_p", "u_p"]) == ["u_p"]
    assert view.watch(["u_p", "u_w"]) == ["u_w"]  # the peer's topic is already joined
    assert view.unwatch() == ["u_w"]
    assert view.shows("u_p") and not view.shows("u_w")


def test_the_subscription_limit_refuses_the_whole_request() -> None:
    view = PresenceView()
    view.watch([f"u_{i}" for i in range(MAX_WATCHED - 1)])
    with pytest.raises(InvalidRequest) as caught:
        view.watch(["u_x", "u_y"])
    assert caught.value.code == "too_many_subscriptions"
    assert not view.shows("u_x") and len(view.watched) == MAX_WATCHED - 1
    assert view.watch(["u_0", "u_x"]) == ["u_x"]  # repeats do not count twice
