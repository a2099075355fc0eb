"""The message role over gRPC, both halves: MessageServicer serves a MessageService,
RemoteMessageService calls it, its sends micro-batched into SendMany (:mod:`.batch`)."""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.empty_pb2 import Empty

from nodechat.config import RpcSettings
from nodechat.errors import ChatError, InvalidRequest, Unauthenticated
from nodechat.models import ConversationState, Identity, Message, PinnedMessage
from nodechat.proto.v1 import common_pb2, messages_pb2
from nodechat.server.grpc import convert as cv
from nodechat.server.grpc.batch import SendBatcher
from nodechat.server.grpc.channel import RpcChannel, build
from nodechat.server.grpc.convert import optional
from nodechat.server.grpc.search import (
    search_page_from_pb,
    search_page_to_pb,
    search_request_from_pb,
    search_request_to_pb,
)
from nodechat.server.grpc.servicing import MISSING_IDENTITY, CallContext
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
    fold,
)

MAX_SEND_BATCH = 1024

SERVICE = "nodechat.v1.MessageService"


class RemoteMessageService(MessageService):
    """:class:`MessageService` over gRPC; concurrent sends share one SendMany call."""

    remote = True

    def __init__(self, target: str, settings: RpcSettings, *, max_batch: int = 256) -> None:
        self.rpc = RpcChannel(target, SERVICE, settings)
        self._batcher = SendBatcher(self._send_many, max_batch=max_batch)

    @property
    def send_many_calls(self) -> int:
        """How many SendMany batches this client has sent."""
        return self._batcher.batches

    async def close(self) -> None:
        """Fail queued sends, finish batches in flight, close the channel."""
        await self._batcher.close()
        await self.rpc.close()

    async def _send_many(
        self, request: messages_pb2.SendManyRequest
    ) -> messages_pb2.SendManyResponse:
        return await self.rpc.call(
            "SendMany", request, messages_pb2.SendManyResponse, idempotent=True
        )

    async def send(
        self,
        identity: Identity,
        conversation_id: str,
        body: str,
        nonce: str,
        reply_to: str | None = None,
        attachments: Sequence[str] = (),
    ) -> SendResult:
        return await self._batcher.send(
            _item(SendItem(identity, conversation_id, body, nonce, reply_to, tuple(attachments)))
        )

    async def send_many(self, items: Sequence[SendItem]) -> list[SendOutcome]:
        """One group in one SendMany batch: the message role stores them in order."""
        return await self._batcher.send_group([_item(i) for i in items])

    async def edit(self, identity: Identity, message_id: str, body: str) -> Message:
        request = build(messages_pb2.EditRequest, message_id=message_id, body=body)
        return cv.message_from_pb(
            await self.rpc.call("Edit", request, common_pb2.Message, identity)
        )

    async def delete(self, identity: Identity, message_id: str) -> Message:
        request = build(messages_pb2.MessageRequest, message_id=message_id)
        return cv.message_from_pb(
            await self.rpc.call("Delete", request, common_pb2.Message, identity)
        )

    async def react(self, identity: Identity, message_id: str, emoji: str) -> ReactionResult:
        return await self._reaction("React", identity, message_id, emoji)

    async def unreact(self, identity: Identity, message_id: str, emoji: str) -> ReactionResult:
        return await self._reaction("Unreact", identity, message_id, emoji)

    async def _reaction(
        self, method: str, identity: Identity, message_id: str, emoji: str
    ) -> ReactionResult:
        request = build(messages_pb2.ReactionRequest, message_id=message_id, emoji=emoji)
        # idempotent: a repeat of either call changes nothing
        r = await self.rpc.call(
            method, request, messages_pb2.ReactionResult, identity, idempotent=True
        )
        return ReactionResult(r.message_id, r.conversation_id, r.emoji, r.count, r.me, r.changed)

    async def history(
        self,
        identity: Identity,
        conversation_id: str,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = 50,
    ) -> HistoryPage:
        request = build(
            messages_pb2.HistoryRequest,
            conversation_id=conversation_id,
            before=before,
            after=after,
            limit=limit,
        )
        reply = await self.rpc.call(
            "History", request, messages_pb2.HistoryPage, identity, batch=True
        )
        return cv.history_page_from_pb(reply)

    async def replay(
        self, identity: Identity, conversation_id: str, after_seq: int, limit: int
    ) -> ReplayResult:
        request = build(
            messages_pb2.ReplayRequest,
            conversation_id=conversation_id,
            after_seq=after_seq,
            limit=limit,
        )
        reply = await self.rpc.call(
            "Replay", request, messages_pb2.ReplayResult, identity, batch=True
        )
        return cv.replay_result_from_pb(reply)

    async def mark_read(self, identity: Identity, conversation_id: str, seq: int) -> int:
        request = build(messages_pb2.MarkReadRequest, conversation_id=conversation_id, seq=seq)
        reply = await self.rpc.call("MarkRead", request, messages_pb2.MarkReadResponse, identity)
        return reply.seq

    async def open_direct(self, identity: Identity, user_id: str) -> ConversationState:
        reply = await self.rpc.call(
            "OpenDirect",
            build(messages_pb2.UserRequest, user_id=user_id),
            common_pb2.ConversationState,
            identity,
        )
        return cv.conversation_state_from_pb(reply)

    async def conversations(self, identity: Identity) -> list[ConversationState]:
        reply = await self.rpc.call(
            "Conversations", Empty(), messages_pb2.ConversationList, identity, batch=True
        )
        return [cv.conversation_state_from_pb(s) for s in reply.conversations]

    async def typing(self, identity: Identity, conversation_id: str) -> None:
        request = build(messages_pb2.ConversationRequest, conversation_id=conversation_id)
        await self.rpc.call("Typing", request, Empty, identity)

    async def direct_peer_ids(self, user_id: str) -> list[str]:
        reply = await self.rpc.call(
            "DirectPeerIds",
            build(messages_pb2.UserRequest, user_id=user_id),
            messages_pb2.DirectPeerIdsResponse,
            batch=True,
        )
        return list(reply.user_ids)

    async def block(self, identity: Identity, user_id: str) -> None:
        await self.rpc.call(
            "Block", build(messages_pb2.UserRequest, user_id=user_id), Empty, identity
        )

    async def unblock(self, identity: Identity, user_id: str) -> None:
        await self.rpc.call(
            "Unblock", build(messages_pb2.UserRequest, user_id=user_id), Empty, identity
        )

    async def pin(self, identity: Identity, message_id: str) -> PinnedMessage:
        request = build(messages_pb2.MessageRequest, message_id=message_id)
        reply = await self.rpc.call(
            "Pin", request, messages_pb2.PinnedMessage, identity, idempotent=True
        )
        return cv.pinned_message_from_pb(reply)

    async def unpin(self, identity: Identity, message_id: str) -> Message:
        request = build(messages_pb2.MessageRequest, message_id=message_id)
        return cv.message_from_pb(
            await self.rpc.call("Unpin", request, common_pb2.Message, identity, idempotent=True)
        )

    async def pins(self, identity: Identity, conversation_id: str) -> list[PinnedMessage]:
        request = build(messages_pb2.ConversationRequest, conversation_id=conversation_id)
        reply = await self.rpc.call("Pins", request, messages_pb2.PinList, identity, batch=True)
        return [cv.pinned_message_from_pb(p) for p in reply.pins]

    async def search(self, identity: Identity, request: SearchRequest) -> SearchPage:
        reply = await self.rpc.call(
            "Search",
            search_request_to_pb(request),
            messages_pb2.SearchPage,
            identity,
            idempotent=True,
        )
        return search_page_from_pb(reply)


def _item(send: SendItem) -> messages_pb2.SendItem:
    return build(
        messages_pb2.SendItem,
        user_id=send.identity.user_id,
        session_id=send.identity.session_id,
        request=build(
            messages_pb2.SendRequest,
            conversation_id=send.conversation_id,
            body=send.body,
            nonce=send.nonce,
            reply_to=send.reply_to,
            attachments=list(send.attachments),
        ),
    )


def _reaction_to_pb(result: ReactionResult) -> messages_pb2.ReactionResult:
    return messages_pb2.ReactionResult(
        message_id=result.message_id,
        conversation_id=result.conversation_id,
        emoji=result.emoji,
        count=result.count,
        me=result.me,
        changed=result.changed,
    )


class MessageServicer:
    """nodechat.v1.MessageService over a :class:`MessageService`."""

    def __init__(self, messages: MessageService) -> None:
        self._messages = messages

    async def send(self, r: messages_pb2.SendRequest, call: CallContext) -> messages_pb2.SendResult:
        """Send."""
        result = await self._messages.send(
            call.me, r.conversation_id, r.body, r.nonce, optional(r, "reply_to")
        )
        return cv.send_result_to_pb(result)

    async def send_many(
        self, r: messages_pb2.SendManyRequest, call: CallContext
    ) -> messages_pb2.SendManyResponse:
        """SendMany: checked concurrently, stored in item order, in shared group commits."""
        if len(r.items) > MAX_SEND_BATCH:
            raise InvalidRequest(
                f"at most {MAX_SEND_BATCH} sends per batch", code="batch_too_large"
            )

        outcomes: list[messages_pb2.SendOutcome | None] = [None] * len(r.items)
        sends: list[SendItem] = []
        positions: list[int] = []
        for i, item in enumerate(r.items):
            if not item.user_id or not item.session_id:
                outcomes[i] = messages_pb2.SendOutcome(
                    error=cv.error_to_pb(
                        Unauthenticated(
                            "a send item needs user_id and session_id", code=MISSING_IDENTITY
                        )
                    )
                )
                continue
            q = item.request
            sends.append(
                SendItem(
                    Identity(item.user_id, item.session_id),
                    q.conversation_id,
                    q.body,
                    q.nonce,
                    optional(q, "reply_to"),
                    tuple(q.attachments),
                )
            )
            positions.append(i)
        results = await fold(self._messages.send_many(sends), len(sends))
        for i, result in zip(positions, results, strict=True):
            if isinstance(result, ChatError):
                outcomes[i] = messages_pb2.SendOutcome(error=cv.error_to_pb(result))
            else:
                outcomes[i] = messages_pb2.SendOutcome(result=cv.send_result_to_pb(result))
        return messages_pb2.SendManyResponse(outcomes=[o for o in outcomes if o is not None])

    async def edit(self, r: messages_pb2.EditRequest, call: CallContext) -> common_pb2.Message:
        """Edit."""
        return cv.message_to_pb(await self._messages.edit(call.me, r.message_id, r.body))

    async def delete(self, r: messages_pb2.MessageRequest, call: CallContext) -> common_pb2.Message:
        """Delete."""
        return cv.message_to_pb(await self._messages.delete(call.me, r.message_id))

    async def react(
        self, r: messages_pb2.ReactionRequest, call: CallContext
    ) -> messages_pb2.ReactionResult:
        """React."""
        return _reaction_to_pb(await self._messages.react(call.me, r.message_id, r.emoji))

    async def unreact(
        self, r: messages_pb2.ReactionRequest, call: CallContext
    ) -> messages_pb2.ReactionResult:
        """Unreact."""
        return _reaction_to_pb(await self._messages.unreact(call.me, r.message_id, r.emoji))

    async def history(
        self, r: messages_pb2.HistoryRequest, call: CallContext
    ) -> messages_pb2.HistoryPage:
        """History."""
        page = await self._messages.history(
            call.me,
            r.conversation_id,
            before=optional(r, "before"),
            after=optional(r, "after"),
            limit=r.limit,
        )
        return cv.history_page_to_pb(page)

    async def replay(
        self, r: messages_pb2.ReplayRequest, call: CallContext
    ) -> messages_pb2.ReplayResult:
        """Replay."""
        result = await self._messages.replay(call.me, r.conversation_id, r.after_seq, r.limit)
        return cv.replay_result_to_pb(result)

    async def mark_read(
        self, r: messages_pb2.MarkReadRequest, call: CallContext
    ) -> messages_pb2.MarkReadResponse:
        """MarkRead."""
        seq = await self._messages.mark_read(call.me, r.conversation_id, r.seq)
        return messages_pb2.MarkReadResponse(seq=seq)

    async def open_direct(
        self, r: messages_pb2.UserRequest, call: CallContext
    ) -> common_pb2.ConversationState:
        """OpenDirect."""
        return cv.conversation_state_to_pb(await self._messages.open_direct(call.me, r.user_id))

    async def conversations(self, r: Empty, call: CallContext) -> messages_pb2.ConversationList:
        """Conversations."""
        states = await self._messages.conversations(call.me)
        return messages_pb2.ConversationList(
            conversations=[cv.conversation_state_to_pb(s) for s in states]
        )

    async def typing(self, r: messages_pb2.ConversationRequest, call: CallContext) -> Empty:
        """Typing."""
        await self._messages.typing(call.me, r.conversation_id)
        return Empty()

    async def direct_peer_ids(
        self, r: messages_pb2.UserRequest, call: CallContext
    ) -> messages_pb2.DirectPeerIdsResponse:
        """DirectPeerIds (trusted: no caller identity)."""
        peers = await self._messages.direct_peer_ids(r.user_id)
        return messages_pb2.DirectPeerIdsResponse(user_ids=peers)

    async def block(self, r: messages_pb2.UserRequest, call: CallContext) -> Empty:
        """Block."""
        await self._messages.block(call.me, r.user_id)
        return Empty()

    async def unblock(self, r: messages_pb2.UserRequest, call: CallContext) -> Empty:
        """Unblock."""
        await self._messages.unblock(call.me, r.user_id)
        return Empty()

    async def pin(
        self, r: messages_pb2.MessageRequest, call: CallContext
    ) -> messages_pb2.PinnedMessage:
        """Pin."""
        return cv.pinned_message_to_pb(await self._messages.pin(call.me, r.message_id))

    async def unpin(self, r: messages_pb2.MessageRequest, call: CallContext) -> common_pb2.Message:
        """Unpin."""
        return cv.message_to_pb(await self._messages.unpin(call.me, r.message_id))

    async def pins(
        self, r: messages_pb2.ConversationRequest, call: CallContext
    ) -> messages_pb2.PinList:
        """Pins."""
        found = await self._messages.pins(call.me, r.conversation_id)
        return messages_pb2.PinList(pins=[cv.pinned_message_to_pb(p) for p in found])

    async def search(
        self, r: messages_pb2.SearchRequest, call: CallContext
    ) -> messages_pb2.SearchPage:
        """Search."""
        return search_page_to_pb(await self._messages.search(call.me, search_request_from_pb(r)))
