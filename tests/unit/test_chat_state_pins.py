"""The client's state keeps each conversation's pins from pin.list and the pin events."""

from __future__ import annotations

from typing import Any

from nodechat.chatclient import ChatState
from tests.unit.test_chat_state import BOB, CH, ME, snapshot


def message(n: int, conversation: str = CH) -> dict[str, Any]:
    return {
        "id": f"m_{n}",
        "conversation": conversation,
        "seq": n,
        "author_id": BOB,
        "body": f"body {n}",
        "created_at": 1000 + n,
    }


def pinned(n: int, at: int) -> dict[str, Any]:
    return {"message": message(n), "pinned_by": ME, "pinned_at": at}


def ready() -> ChatState:
    state = ChatState()
    state.apply_snapshot(snapshot())
    return state


def test_pin_list_then_events_keep_the_newest_pin_first() -> None:
    state = ready()
    change = state.set_pins(CH, [pinned(2, 20), pinned(1, 10)])
    conv = state.conversations[CH]
    assert change.conversations == {CH} and conv.pins_loaded
    assert [p.message.id for p in conv.pins] == ["m_2", "m_1"]

    data = {"conversation": CH, "message_id": "m_3", "by": BOB, "pinned_at": 30}
    change = state.apply_event("message.pinned", {**data, "message": message(3)}, 0.0)
    assert change.conversations == {CH}
    assert [p.message.id for p in conv.pins] == ["m_3", "m_2", "m_1"]
    assert conv.pins[0].pinned_by == BOB and conv.pinned("m_3")
    # a repeat replaces, never duplicates
    state.apply_event("message.pinned", {**data, "message": message(3)}, 0.0)
    assert len(conv.pins) == 3

    gone = {"conversation": CH, "message_id": "m_2", "by": ME, "unpinned_at": 40}
    assert state.apply_event("message.unpinned", gone, 0.0).conversations == {CH}
    assert [p.message.id for p in conv.pins] == ["m_3", "m_1"] and not conv.pinned("m_2")
    assert state.apply_event("message.unpinned", gone, 0.0).conversations == set()


def test_pin_events_of_unknown_conversations_or_malformed_change_nothing() -> None:
    state = ready()
    other = {"conversation": "ch_x", "message_id": "m_1", "by": BOB, "pinned_at": 1}
    assert (
        state.apply_event("message.pinned", {**other, "message": message(1)}, 0.0).conversations
        == set()
    )
    assert state.apply_event("message.pinned", {"conversation": CH}, 0.0).conversations == set()
    assert state.set_pins("ch_x", [pinned(1, 1)]).conversations == set()
