"""The client's state follows threads: the root's summary from history and events, the
thread's own messages and unread count, and threads kept across a reconnect."""

from __future__ import annotations

from typing import Any

from nodechat.chatclient import ChatState
from nodechat.chatclient.threads import open_thread
from tests.unit.test_chat_state import BOB, CH, snapshot
from tests.unit.test_chat_state_pins import message, ready

TID = "thread:m_1"


def summary(count: int, last_at: int = 5000) -> dict[str, Any]:
    return {
        "conversation": CH,
        "message_id": "m_1",
        "thread": {"conversation": TID, "count": count, "last_at": last_at},
    }


def with_root() -> ChatState:
    state = ready()
    root = {**message(1), "thread": {"conversation": TID, "count": 2, "last_at": 4000, "unread": 1}}
    state.add_history(CH, [root, message(2)], False, older=False)
    return state


def test_history_carries_the_summary_and_events_raise_the_count() -> None:
    state = with_root()
    root = state.conversations[CH].find("m_1")
    assert root is not None and root.thread is not None
    assert (root.thread.count, root.thread.last_at, root.thread.unread) == (2, 4000, 1)
    change = state.apply_event("message.thread", summary(3, 6000), 0.0)
    assert change.conversations == {CH}
    assert (root.thread.count, root.thread.last_at) == (3, 6000)
    assert state.apply_event("message.thread", summary(2, 5000), 0.0).conversations == set()
    assert root.thread.count == 3  # a late, older summary changes nothing
    edited = {**message(1), "body": "changed"}  # events carry no summary: it is kept
    state.apply_event("message.edited", edited, 0.0)
    kept = state.conversations[CH].find("m_1")
    assert kept is not None and kept.thread is not None and kept.thread.count == 3


def test_an_opened_thread_is_a_conversation_outside_the_sidebar() -> None:
    state = with_root()
    tid, change = open_thread(state, CH, "m_1")
    assert tid == TID and change.conversations == {TID}
    conv = state.conversations[TID]
    assert conv.kind == "thread" and conv.parent == CH and conv.last_seq == 2
    assert state.title(TID).startswith("thread in ")
    assert TID not in state.ordered()
    assert all(e.conversation != TID for e in state.sidebar())
    state.add_history(TID, [message(1, TID), message(2, TID)], False, older=False)
    state.apply_event("message.created", {**message(3, TID), "author_id": BOB}, 0.0)
    assert [m.seq for m in conv.messages] == [1, 2, 3] and conv.unread == 1
    state.set_read(TID, 3)
    root = state.conversations[CH].find("m_1")
    assert conv.unread == 0 and root is not None and root.thread is not None
    assert root.thread.unread == 0


def test_a_reply_seen_live_makes_the_thread_known_and_resumable() -> None:
    state = ready()
    state.apply_event("message.created", message(4, TID), 0.0)
    state.apply_event("message.thread", summary(4), 0.0)
    assert state.conversations[TID].kind == "thread"
    assert state.conversations[TID].parent == CH
    assert state.resume_points()[TID] == 4
    # a reconnect's snapshot has no threads: the known ones stay, unless gone
    state.apply_snapshot({**snapshot(), "resume": {TID: {"replayed": 0, "last_seq": 4}}})
    assert TID in state.conversations
    state.apply_snapshot({**snapshot(), "resume": {TID: {"not_found": True}}})
    assert TID not in state.conversations
