"""Local MessageService: the message path from authorization to durable store to bus.

Conversation ids: a channel's id (``ch_…``), ``dm:<a>:<b>`` for a direct pair
(ids sorted), ``self:<user>`` for notes to self, ``thread:<message id>`` for the
thread under a message (services/threads.py). A caller who may not read a
conversation gets ``NotFound``, never a hint that it exists.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial

from nodechat.bus import (
    Bus,
    Event,
    group_topic,
    publish_many_quietly,
    publish_quietly,
    user_topic,
)
from nodechat.errors import (
    ChatError,
    Conflict,
    Forbidden,
    InternalError,
    InvalidRequest,
    NotFound,
    settle,
)
from nodechat.models import (
    THREAD_PREFIX,
    Attachment,
    Conversation,
    ConversationKind,
    ConversationState,
    Identity,
    Message,
    Pin,
    PinnedMessage,
    Role,
    direct_conversation_id,
    new_id,
    now_ms,
    self_conversation_id,
)
from nodechat.services.api import (
    HistoryPage,
    MessageService,
    ReactionResult,
    ReplayResult,
    SearchPage,
    SearchRequest,
    SendItem,
    SendOutcome,
    SendResult,
)
from nodechat.services.attachments import check_attachments, retried_send, with_attachments
from nodechat.services.reactions import apply_reaction, check_emoji, with_reactions
from nodechat.services.search import search as search_messages
from nodechat.services.threads import ConversationAccess, ThreadRules, with_threads
from nodechat.storage.base import AppendResult, NewMessage, Store

MAX_BODY = 4000
MAX_NONCE = 64
MAX_HISTORY = 100
MAX_PINS = 50  # pins per conversation (docs/protocol.md, Pins)


_Access = ConversationAccess


def _not_found() -> NotFound:
    return NotFound("no such conversation", code="conversation_not_found")


def _unpinned_event(pin: Pin, by: str, now: int) -> Event:
    return Event(
        "message.unpinned",
        {
            "conversation": pin.conversation_id,
            "message_id": pin.message_id,
            "by": by,
            "unpinned_at": now,
        },
    )


def check_body(body: str) -> str:
    """A message body: 1-4000 characters, not only white space."""
    if not body.strip() or len(body) > MAX_BODY:
        raise InvalidRequest(
            f"body must be 1-{MAX_BODY} characters and not blank", code="invalid_body", field="body"
        )
    return body


def _check_fields(item: SendItem) -> None:
    check_body(item.body)
    check_attachments(item.attachments)
    if not 1 <= len(item.nonce) <= MAX_NONCE:
        raise InvalidRequest(
            f"nonce must be 1-{MAX_NONCE} characters", code="invalid_nonce", field="nonce"
        )


class LocalMessageService(ThreadRules, MessageService):
    """MessageService over a store; publishes created/edited/deleted events on the bus."""

    def __init__(self, store: Store, bus: Bus, *, clock: Callable[[], int] = now_ms) -> None:
        self._store = store
        self._messages = store.messages
        self._groups = store.groups
        self._bus = bus
        self._clock = clock
        self._parents: dict[str, str] = {}  # stored thread -> its parent conversation

    async def _access(self, identity: Identity, conversation_id: str) -> _Access:
        uid = identity.user_id
        if conversation_id.startswith(THREAD_PREFIX):
            return await self._thread_access(identity, conversation_id)
        if conversation_id.startswith("dm:"):
            parts = conversation_id.split(":")
            if len(parts) != 3 or uid not in parts[1:]:
                raise _not_found()
            conversation = await self._messages.get_conversation(conversation_id)
            if conversation is None:
                raise _not_found()
            return _Access(conversation, (user_topic(parts[1]), user_topic(parts[2])))
        if conversation_id.startswith("self:"):
            if conversation_id != self_conversation_id(uid):
                raise _not_found()
            conversation = await self._messages.get_conversation(conversation_id)
            if conversation is None:  # created on first use; a read suffices after that
                conversation = await self._messages.ensure_conversation(
                    Conversation(conversation_id, ConversationKind.SELF, participants=(uid,))
                )
            return _Access(conversation, (user_topic(uid),))
        channel = await self._groups.get_channel(conversation_id)
        if channel is None:
            raise _not_found()
        member = await self._groups.get_member(channel.group_id, uid)
        if member is None:
            raise _not_found()
        conversation = await self._messages.get_conversation(conversation_id)
        if conversation is None:
            raise _not_found()
        return _Access(conversation, (group_topic(channel.group_id),), member.role)

    async def _publish(self, access: _Access, event: Event) -> None:
        for topic in access.topics:
            await publish_quietly(self._bus, topic, event)

    async def _own_message(self, identity: Identity, message_id: str) -> tuple[Message, _Access]:
        message = await self._messages.get_message(message_id)
        if message is None:
            raise NotFound("no such message", code="message_not_found")
        try:
            access = await self._access(identity, message.conversation_id)
        except NotFound:
            raise NotFound("no such message", code="message_not_found") from None
        return message, access

    async def send(
        self,
        identity: Identity,
        conversation_id: str,
        body: str,
        nonce: str,
        reply_to: str | None = None,
        attachments: Sequence[str] = (),
    ) -> SendResult:
        item = SendItem(identity, conversation_id, body, nonce, reply_to, tuple(attachments))
        return await self._store_one(item, await self._check_send(item))

    async def send_many(self, items: Sequence[SendItem]) -> list[SendOutcome]:
        """Check the items (one author's items to one conversation once), then store
        them with ``MessageStore.append_many``, which keeps each conversation's
        items in order, and publish what was created in seq order.
        """
        if len(items) == 1 or any(i.attachments for i in items):
            # nothing to overlap, or files to claim per message: the plain path, in order
            return await MessageService.send_many(self, items)
        checked = await self._check_many(items)
        outcomes: list[SendOutcome] = [InternalError("send not run")] * len(items)
        now = self._clock()
        todo: list[tuple[int, tuple[str, ...]]] = []
        for i, checked_topics in enumerate(checked):
            if isinstance(checked_topics, ChatError):
                outcomes[i] = checked_topics
            else:
                todo.append((i, checked_topics))
        new = [
            NewMessage(
                items[i].conversation_id,
                new_id("m"),
                items[i].identity.user_id,
                items[i].body,
                items[i].nonce,
                items[i].reply_to,
                now,
            )
            for i, _ in todo
        ]
        appended = await self._messages.append_many(new)
        events: list[tuple[str, Event]] = []  # published together: one bundle per topic
        for (i, topics), result in zip(todo, appended, strict=True):
            item = items[i]
            if isinstance(result, NotFound) and item.conversation_id == self_conversation_id(
                item.identity.user_id
            ):
                # notes to self exist from their first use
                outcomes[i] = await settle(self._store_one(item, topics))
                continue
            if isinstance(result, NotFound):
                outcomes[i] = _not_found()
            elif isinstance(result, ChatError):
                outcomes[i] = result
            else:
                if result.created:
                    event = Event("message.created", result.message.to_dict())
                    events += ((topic, event) for topic in topics)
                    summary = await self._thread_event(result.message)
                    if summary is not None:
                        events += ((topic, summary) for topic in topics)
                outcomes[i] = SendResult(result.message, result.created)
        await publish_many_quietly(self._bus, events)
        return outcomes

    async def _check_many(self, items: Sequence[SendItem]) -> list[tuple[str, ...] | ChatError]:
        """Each item's topics, or why it may not be sent. One author's items to one
        conversation are authorized once (the usual pipelined group)."""
        checked: list[tuple[str, ...] | ChatError] = [InternalError("unchecked")] * len(items)
        same: dict[tuple[str, str], list[int]] = {}
        for i, item in enumerate(items):
            try:
                _check_fields(item)
            except ChatError as exc:
                checked[i] = exc
                continue
            same.setdefault((item.identity.user_id, item.conversation_id), []).append(i)

        async def authorize(indexes: list[int]) -> None:
            first = items[indexes[0]]
            try:
                topics = await self._send_topics(first.identity, first.conversation_id)
            except ChatError as exc:
                for i in indexes:
                    checked[i] = exc
                return
            for i in indexes:
                try:
                    await self._check_reply(items[i])
                    checked[i] = topics
                except ChatError as exc:
                    checked[i] = exc

        await asyncio.gather(*(authorize(indexes) for indexes in same.values()))
        return checked

    async def _check_send(self, item: SendItem) -> tuple[str, ...]:
        """Validate a send and authorize it; the topics that hear of it."""
        _check_fields(item)
        topics = await self._send_topics(item.identity, item.conversation_id)
        await self._check_reply(item)
        return topics

    async def _check_reply(self, item: SendItem) -> None:
        if item.reply_to is not None:
            target = await self._messages.get_message(item.reply_to)
            if target is None or target.conversation_id != item.conversation_id:
                raise InvalidRequest(
                    "reply_to must name a message of this conversation",
                    code="invalid_reply",
                    field="reply_to",
                )

    async def _store_one(self, item: SendItem, topics: tuple[str, ...]) -> SendResult:
        """Append a checked send, then publish it."""
        identity, conversation_id = item.identity, item.conversation_id
        message_id, now = new_id("m"), self._clock()

        async def append() -> AppendResult:
            return await self._messages.append(
                conversation_id,
                message_id=message_id,
                author_id=identity.user_id,
                body=item.body,
                nonce=item.nonce,
                reply_to=item.reply_to,
                now=now,
            )

        files = self._store.files
        attached: tuple[Attachment, ...] = ()
        if item.attachments:
            try:
                records = await files.attach_files(
                    item.attachments, identity.user_id, message_id, conversation_id
                )
            except NotFound:
                earlier = await retried_send(
                    files, self._messages, item.attachments, identity.user_id, item.nonce
                )
                if earlier is None:
                    raise
                return SendResult(earlier, False)
            attached = tuple(r.attachment() for r in records)
        try:
            try:
                result = await append()
            except NotFound:
                if conversation_id != self_conversation_id(identity.user_id):
                    raise _not_found() from None
                # notes to self exist from their first use
                await self._messages.ensure_conversation(
                    Conversation(
                        conversation_id, ConversationKind.SELF, participants=(identity.user_id,)
                    )
                )
                result = await append()
        except BaseException:
            if attached:
                await files.detach_message(message_id)
            raise
        if attached and result.created:
            result = AppendResult(replace(result.message, attachments=attached), True)
        elif attached:  # the nonce was used already: that message stands, the files stay free
            await files.detach_message(message_id)
            (message,) = await with_attachments(files, [result.message])
            result = AppendResult(message, False)
        return await self._announce(item, topics, result)

    async def _announce(
        self, item: SendItem, topics: tuple[str, ...], result: AppendResult
    ) -> SendResult:
        """Publish a newly stored message (a repeated nonce publishes nothing); the ack."""
        if result.created:
            event = Event("message.created", result.message.to_dict())
            summary = await self._thread_event(result.message)
            for topic in topics:
                await publish_quietly(self._bus, topic, event)
                if summary is not None:
                    await publish_quietly(self._bus, topic, summary)
        return SendResult(result.message, result.created)

    async def _send_topics(self, identity: Identity, conversation_id: str) -> tuple[str, ...]:
        """Check that the caller may post here; the topics that hear of it.

        The hot path: a direct or self conversation's id says who is in it, so no
        read is needed (the append itself fails for a conversation never opened).
        """
        uid = identity.user_id
        if conversation_id.startswith("dm:"):
            parts = conversation_id.split(":")
            if len(parts) != 3 or uid not in parts[1:]:
                raise _not_found()
            if await self._messages.is_blocked(parts[1], parts[2]):
                raise Forbidden("you cannot message this user", code="blocked")
            return (user_topic(parts[1]), user_topic(parts[2]))
        if conversation_id == self_conversation_id(uid):
            return (user_topic(uid),)
        if conversation_id.startswith(THREAD_PREFIX):
            return await self._thread_send_topics(identity, conversation_id)
        return (await self._access(identity, conversation_id)).topics

    async def edit(self, identity: Identity, message_id: str, body: str) -> Message:
        check_body(body)
        message, access = await self._own_message(identity, message_id)
        if message.author_id != identity.user_id:
            raise Forbidden("you may only edit your own messages")
        if message.deleted:
            raise NotFound("no such message", code="message_not_found")
        edited = await self._messages.edit_message(message_id, body, self._clock())
        (edited,) = await with_attachments(self._store.files, [edited])
        await self._publish(access, Event("message.edited", edited.to_dict()))
        return edited

    async def delete(self, identity: Identity, message_id: str) -> Message:
        message, access = await self._own_message(identity, message_id)
        moderator = access.role is not None and access.role.rank >= Role.ADMIN.rank
        if message.author_id != identity.user_id and not moderator:
            raise Forbidden("you may only delete your own messages")
        if message.deleted:
            return message
        deleted = await self._messages.delete_message(message_id, self._clock())
        await self._store.files.release_message(message_id)  # collected next (attachments.py)
        await self._publish(
            access,
            Event(
                "message.deleted",
                {"id": deleted.id, "conversation": deleted.conversation_id, "seq": deleted.seq},
            ),
        )
        unpinned = await self._messages.unpin(message_id)  # a deleted message leaves the pins
        if unpinned is not None:
            await self._publish(access, _unpinned_event(unpinned, identity.user_id, self._clock()))
        return deleted

    async def _pinnable(self, identity: Identity, message_id: str) -> tuple[Message, _Access]:
        """The message and its conversation if the caller may pin there: in a channel an
        owner or admin, in a direct or self conversation a participant."""
        message, access = await self._own_message(identity, message_id)
        if access.role is not None and access.role.rank < Role.ADMIN.rank:
            raise Forbidden("only the owner or an admin may pin messages here")
        return message, access

    async def pin(self, identity: Identity, message_id: str) -> PinnedMessage:
        message, access = await self._pinnable(identity, message_id)
        if message.deleted:
            raise NotFound("no such message", code="message_not_found")
        wanted = Pin(message.conversation_id, message.id, identity.user_id, self._clock())
        result = await self._messages.pin(wanted, limit=MAX_PINS)
        if result.created:
            stored = result.pin
            await self._publish(
                access,
                Event(
                    "message.pinned",
                    {
                        "conversation": stored.conversation_id,
                        "message_id": stored.message_id,
                        "by": stored.pinned_by,
                        "pinned_at": stored.pinned_at,
                        "message": message.to_dict(),
                    },
                ),
            )
        return PinnedMessage(message, result.pin)

    async def unpin(self, identity: Identity, message_id: str) -> Message:
        message, access = await self._pinnable(identity, message_id)
        removed = await self._messages.unpin(message_id)
        if removed is not None:
            await self._publish(access, _unpinned_event(removed, identity.user_id, self._clock()))
        return message

    async def pins(self, identity: Identity, conversation_id: str) -> list[PinnedMessage]:
        await self._access(identity, conversation_id)
        pins = await self._messages.list_pins(conversation_id)
        shown = await with_attachments(self._store.files, [p.message for p in pins])
        return [replace(p, message=m) for p, m in zip(pins, shown, strict=True)]

    async def react(self, identity: Identity, message_id: str, emoji: str) -> ReactionResult:
        return await self._reaction(identity, message_id, emoji, add=True)

    async def unreact(self, identity: Identity, message_id: str, emoji: str) -> ReactionResult:
        return await self._reaction(identity, message_id, emoji, add=False)

    async def _reaction(
        self, identity: Identity, message_id: str, emoji: str, *, add: bool
    ) -> ReactionResult:
        check_emoji(emoji)
        message, access = await self._own_message(identity, message_id)
        return await apply_reaction(
            self._store.reactions,
            partial(self._publish, access),
            message,
            identity.user_id,
            emoji,
            add=add,
            now=self._clock(),
        )

    async def history(
        self,
        identity: Identity,
        conversation_id: str,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = 50,
    ) -> HistoryPage:
        if not 1 <= limit <= MAX_HISTORY:
            raise InvalidRequest(f"limit must be 1-{MAX_HISTORY}", field="limit")
        for name, cursor in (("before", before), ("after", after)):
            if cursor is not None and cursor < 0:
                raise InvalidRequest(f"{name} is a seq: 0 or more", field=name)
        await self._access(identity, conversation_id)
        messages = await self._messages.history(
            conversation_id, before=before, after=after, limit=limit + 1
        )
        page = await with_reactions(self._store.reactions, messages[:limit], identity.user_id)
        page = await with_threads(self._store, page, identity.user_id)
        page = await with_attachments(self._store.files, page)
        return HistoryPage(page, len(messages) > limit)

    async def search(self, identity: Identity, request: SearchRequest) -> SearchPage:
        # services/search.py: the readable set, the terms and the cursor
        return await search_messages(self._store, identity, request, self._clock())

    async def replay(
        self, identity: Identity, conversation_id: str, after_seq: int, limit: int
    ) -> ReplayResult:
        access = await self._access(identity, conversation_id)
        last = access.conversation.last_seq
        if last - after_seq > limit:
            return ReplayResult(conversation_id, [], last, too_old=True)
        if last <= after_seq:
            return ReplayResult(conversation_id, [], last)
        messages: list[Message] = []
        cursor = after_seq
        while cursor < last:
            page = await self._messages.history(conversation_id, after=cursor, limit=MAX_HISTORY)
            if not page:
                break
            messages.extend(page)
            cursor = page[-1].seq
        messages = await with_reactions(self._store.reactions, messages, identity.user_id)
        messages = await with_threads(self._store, messages, identity.user_id)
        messages = await with_attachments(self._store.files, messages)
        return ReplayResult(conversation_id, messages, max(last, cursor))

    async def mark_read(self, identity: Identity, conversation_id: str, seq: int) -> int:
        access = await self._access(identity, conversation_id)
        seq = max(0, min(seq, access.conversation.last_seq))
        stored = await self._messages.set_read_marker(identity.user_id, conversation_id, seq)
        await publish_quietly(
            self._bus,
            user_topic(identity.user_id),
            Event(
                "read.updated",
                {"conversation": conversation_id, "seq": stored},
            ),
        )
        return stored

    async def open_direct(self, identity: Identity, user_id: str) -> ConversationState:
        if user_id == identity.user_id:
            raise Conflict("use your notes-to-self conversation for that", code="self_target")
        if await self._store.accounts.get_user(user_id) is None:
            raise NotFound("no such user", code="user_not_found")
        conversation_id = direct_conversation_id(identity.user_id, user_id)
        a, b = sorted((identity.user_id, user_id))
        conversation = await self._messages.ensure_conversation(
            Conversation(conversation_id, ConversationKind.DIRECT, participants=(a, b))
        )
        states = await self._states(identity.user_id, [conversation])
        return states[0]

    async def conversations(self, identity: Identity) -> list[ConversationState]:
        uid = identity.user_id
        found: list[Conversation] = []
        for group_id in await self._groups.member_group_ids(uid):
            for channel in await self._groups.list_channels(group_id):
                found.append(Conversation(channel.id, ConversationKind.CHANNEL, group_id))
        found.extend(await self._messages.list_direct(uid))
        notes = self_conversation_id(uid)
        # a read, not a write: a connect must not wait for a commit. Notes to self are
        # stored from their first use (send, history, read marker: ``_access``), so
        # until then they are listed as they will be created, empty
        mine = await self._messages.get_conversation(notes)
        found.append(mine or Conversation(notes, ConversationKind.SELF, participants=(uid,)))
        return await self._states(uid, found)

    async def _states(self, uid: str, conversations: list[Conversation]) -> list[ConversationState]:
        ids = [c.id for c in conversations]
        last = await self._messages.last_seqs(ids)
        markers = await self._messages.read_markers(uid, ids)
        unread = await self._messages.unread_counts(uid, ids)
        states = []
        for c in conversations:
            peer = None
            if c.kind is ConversationKind.DIRECT:
                peer = next((p for p in c.participants if p != uid), None)
            conversation = Conversation(
                c.id, c.kind, c.group_id, c.participants, last.get(c.id, c.last_seq)
            )
            states.append(
                ConversationState(conversation, markers.get(c.id, 0), unread.get(c.id, 0), peer)
            )
        return states

    async def typing(self, identity: Identity, conversation_id: str) -> None:
        access = await self._access(identity, conversation_id)
        await self._publish(
            access,
            Event(
                "typing",
                {"conversation": conversation_id, "user_id": identity.user_id},
            ),
        )

    async def direct_peer_ids(self, user_id: str) -> list[str]:
        peers = []
        for conversation in await self._messages.list_direct(user_id):
            peers += [p for p in conversation.participants if p != user_id]
        return peers

    async def block(self, identity: Identity, user_id: str) -> None:
        if user_id == identity.user_id:
            raise Conflict("you cannot block yourself", code="self_target")
        if await self._store.accounts.get_user(user_id) is None:
            raise NotFound("no such user", code="user_not_found")
        await self._messages.block(identity.user_id, user_id, self._clock())

    async def unblock(self, identity: Identity, user_id: str) -> None:
        await self._messages.unblock(identity.user_id, user_id)
