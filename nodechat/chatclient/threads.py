"""Threads in the client's state: opening one, the root's summary, keeping them across
reconnects (protocol §4.9, "Threads").

A thread is a :class:`Conversation` of kind ``thread`` in ``ChatState.conversations``
(so history, sending, read markers and resume work on it as on any conversation),
left out of the sidebar; its root message carries a :class:`ThreadInfo`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nodechat.chatclient.records import Change, Conversation, Message, ThreadInfo

if TYPE_CHECKING:
    from nodechat.chatclient.state import ChatState

THREAD_PREFIX = "thread:"


def thread_id(root_id: str) -> str:
    """The thread conversation under a message."""
    return THREAD_PREFIX + root_id


def root_of(state: ChatState, conv: Conversation) -> Message | None:
    """A thread's root message, if its conversation has it loaded."""
    parent = state.conversations.get(conv.parent or "")
    return parent.find(conv.id[len(THREAD_PREFIX) :]) if parent is not None else None


def open_thread(state: ChatState, parent_id: str, root_id: str) -> tuple[str, Change]:
    """Track the thread under ``root_id`` (a message of ``parent_id``); its id."""
    tid = thread_id(root_id)
    conv = state.conversations.get(tid)
    parent = state.conversations.get(parent_id)
    if conv is None:
        conv = Conversation(id=tid, kind="thread", parent=parent_id)
        root = parent.find(root_id) if parent is not None else None
        if root is not None and root.thread is not None:
            conv.last_seq = root.thread.count
        state.conversations[tid] = conv
    conv.parent = parent_id
    if parent is not None:
        conv.group_id = parent.group_id
    return tid, Change(conversations={tid})


def on_message_thread(state: ChatState, data: dict[str, Any]) -> Change:
    """``message.thread``: the root's new reply count and last activity (the highest
    count wins: two replies' events may arrive in either order)."""
    parent_id, root_id = str(data["conversation"]), str(data["message_id"])
    summary = ThreadInfo.from_wire(data["thread"])
    conv = state.conversations.get(summary.conversation)
    if conv is not None and conv.parent is None:
        conv.parent = parent_id
    parent = state.conversations.get(parent_id)
    root = parent.find(root_id) if parent is not None else None
    if root is None:
        return Change()
    known = root.thread
    if known is not None and known.count >= summary.count:
        return Change()
    unread = known.unread if known is not None else 0
    if conv is not None:
        unread = conv.unread  # counted from the thread's own messages as they arrived
    root.thread = ThreadInfo(summary.conversation, summary.count, summary.last_at, unread)
    return Change(conversations={parent_id})


def after_read(state: ChatState, conv: Conversation) -> set[str]:
    """A thread's marker moved: its root shows the thread's unread count now."""
    root = root_of(state, conv) if conv.kind == "thread" else None
    if root is None or root.thread is None:
        return set()
    root.thread.unread = conv.unread
    return {conv.parent or ""}


def keep_threads(
    old: dict[str, Conversation], new: dict[str, Conversation], resume: dict[str, Any]
) -> set[str]:
    """After a snapshot (which has no threads): keep the threads known before whose
    resume entry does not say ``not_found``, and whose parent is still there; the ids of
    those whose cache was discarded (``too_old``)."""
    reload: set[str] = set()
    for cid, conv in old.items():
        if conv.kind != "thread" or conv.parent not in new:
            continue
        entry = resume.get(cid)
        if isinstance(entry, dict) and entry.get("not_found"):
            continue
        if isinstance(entry, dict) and entry.get("too_old"):
            conv.messages, conv.has_more, conv.loaded = [], True, False
            reload.add(cid)
        new[cid] = conv
    return reload


def keep_thread(known: Message | None, message: Message) -> None:
    """Events carry no thread summary: keep the one known for the message."""
    if known is not None and message.thread is None:
        message.thread = known.thread
