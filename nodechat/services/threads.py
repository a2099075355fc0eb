"""Threads: the replies under one message, kept as a conversation of their own.

A thread's id is ``thread:<root message id>``; it is opened by the first
``message.send`` to that id and from then on is an ordinary conversation (its
own gap-free seq, history, read marker and replay). Who may read or post in it
is decided by its root's conversation (the parent): the rules here find the
root and hand the parent to the message service's own checks, and the
thread's events go to the parent's topics, so no subscription is per thread.
A thread message cannot start a thread (``thread_nested``); a deleted root keeps
its thread readable and open to replies, but a new thread cannot start under it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, replace

from nodechat.bus import Event
from nodechat.errors import InvalidRequest, NotFound
from nodechat.models import (
    THREAD_PREFIX,
    Conversation,
    ConversationKind,
    Identity,
    Message,
    Role,
    ThreadSummary,
    thread_conversation_id,
    thread_root_id,
)
from nodechat.storage.base import MessageStore, Store

MAX_PARENTS_KNOWN = 10_000  # thread -> parent ids remembered (they never change)


@dataclass(frozen=True, slots=True)
class ConversationAccess:
    """A conversation the caller may read, the topics of its audience, the caller's role."""

    conversation: Conversation
    topics: tuple[str, ...]
    role: Role | None = None  # the caller's role for channel conversations


def _no_thread() -> NotFound:
    return NotFound("no such conversation", code="conversation_not_found")


def _nested() -> InvalidRequest:
    return InvalidRequest(
        "a thread message cannot start a thread", code="thread_nested", field="conversation"
    )


async def thread_root(messages: MessageStore, conversation_id: str) -> Message:
    """The root message of a thread id; ``conversation_not_found`` if there is none.
    (Whether it may be a root is said only once the caller may read it: see
    :func:`refuse_nested`.)"""
    root_id = thread_root_id(conversation_id)
    root = await messages.get_message(root_id) if root_id is not None else None
    if root is None:
        raise _no_thread()
    return root


def refuse_nested(root: Message) -> None:
    """``thread_nested`` if the root is itself a thread message."""
    if thread_root_id(root.conversation_id) is not None:
        raise _nested()


def virtual_thread(conversation_id: str, parent: Conversation) -> Conversation:
    """A thread nobody has replied to yet, as readers see it: empty, at seq 0."""
    return Conversation(
        conversation_id, ConversationKind.THREAD, parent.group_id, parent_id=parent.id
    )


async def open_thread(
    messages: MessageStore, conversation_id: str, root: Message, parent: Conversation
) -> Conversation:
    """The stored thread, created on its first reply (never under a deleted root)."""
    found = await messages.get_conversation(conversation_id)
    if found is not None:
        return found
    if root.deleted:
        raise NotFound("no such message", code="message_not_found")
    return await messages.ensure_conversation(virtual_thread(conversation_id, parent))


def thread_event(message: Message, parent_id: str) -> Event:
    """``message.thread``: the root's new summary, for the parent conversation.

    The summary is the new message's own seq and time: the thread's count and
    last activity as of that append (a client keeps the highest count it saw,
    since two replies' events may arrive in either order).
    """
    root_id = thread_root_id(message.conversation_id) or ""
    summary = ThreadSummary(message.conversation_id, message.seq, message.created_at)
    return Event(
        "message.thread",
        {"conversation": parent_id, "message_id": root_id, "thread": summary.to_dict()},
    )


async def with_threads(store: Store, messages: list[Message], viewer_id: str) -> list[Message]:
    """The messages with the summaries of the threads under them (with the viewer's
    unread count); thread messages have none."""
    ids = {
        thread_conversation_id(m.id): m.id
        for m in messages
        if thread_root_id(m.conversation_id) is None
    }
    if not ids:
        return messages
    found = await store.threads.summaries(list(ids))
    if not found:
        return messages
    unread = await store.messages.unread_counts(viewer_id, list(found))
    by_root = {
        ids[cid]: replace(summary, unread=unread.get(cid, 0)) for cid, summary in found.items()
    }
    return [replace(m, thread=by_root[m.id]) if m.id in by_root else m for m in messages]


class ThreadRules(ABC):
    """The message service's thread half: access through the root's conversation, the
    first reply opening the thread, the summary event (mixed into LocalMessageService)."""

    _messages: MessageStore
    _parents: dict[str, str]  # stored thread -> its parent conversation

    @abstractmethod
    async def _access(self, identity: Identity, conversation_id: str) -> ConversationAccess:
        """Who may read and post in a conversation (the message service decides)."""

    @abstractmethod
    async def _send_topics(self, identity: Identity, conversation_id: str) -> tuple[str, ...]:
        """The bus topics a conversation's events go to (the message service's rule)."""

    def _remember_parent(self, thread_id: str, parent_id: str) -> None:
        if len(self._parents) >= MAX_PARENTS_KNOWN:
            self._parents.clear()  # cheap to refill: one read per thread
        self._parents[thread_id] = parent_id

    async def _thread_access(self, identity: Identity, conversation_id: str) -> ConversationAccess:
        """A thread is readable by whoever may read its root's conversation."""
        root = await thread_root(self._messages, conversation_id)
        parent = await self._access(identity, root.conversation_id)
        refuse_nested(root)  # only now: an outsider learns nothing of the message
        conversation = await self._messages.get_conversation(conversation_id)
        if conversation is None:
            conversation = virtual_thread(conversation_id, parent.conversation)
        else:
            self._remember_parent(conversation_id, parent.conversation.id)
        return ConversationAccess(conversation, parent.topics, parent.role)

    async def _thread_send_topics(
        self, identity: Identity, conversation_id: str
    ) -> tuple[str, ...]:
        """Who may post in the root's conversation may reply; the first reply opens it."""
        root = await thread_root(self._messages, conversation_id)
        topics = await self._send_topics(identity, root.conversation_id)
        refuse_nested(root)
        if conversation_id not in self._parents:
            parent = await self._messages.get_conversation(root.conversation_id)
            if parent is None:
                raise _no_thread()
            await open_thread(self._messages, conversation_id, root, parent)
            self._remember_parent(conversation_id, parent.id)
        return topics

    async def _thread_event(self, message: Message) -> Event | None:
        """The root's new summary when ``message`` is a thread reply, else None."""
        if not message.conversation_id.startswith(THREAD_PREFIX):
            return None
        parent = self._parents.get(message.conversation_id)
        if parent is None:
            parent = (await thread_root(self._messages, message.conversation_id)).conversation_id
        return thread_event(message, parent)
