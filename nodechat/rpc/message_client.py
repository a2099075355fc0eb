"""RemoteMessageService: the message role over gRPC, sends micro-batched into SendMany."""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.empty_pb2 import Empty

from nodechat.config import RpcSettings
from nodechat.errors import ChatError
from nodechat.models import ConversationState, Identity, Message
from nodechat.proto.v1 import common_pb2, messages_pb2
from nodechat.rpc import convert as cv
from nodechat.rpc.batch import SendBatcher
from nodechat.rpc.channel import RpcChannel, build
from nodechat.services.api import (
    HistoryPage,
    MessageService,
    ReplayResult,
    SendItem,
    SendResult,
)

SERVICE = "nodechat.v1.MessageService"


class RemoteMessageService(MessageService):
    """:class:`MessageService` over gRPC; concurrent sends share one SendMany call."""

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
    ) -> SendResult:
        return await self._batcher.send(
            _item(SendItem(identity, conversation_id, body, nonce, reply_to))
        )

    async def send_many(self, items: Sequence[SendItem]) -> list[SendResult | ChatError]:
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
            "History", request, messages_pb2.HistoryPage, identity, idempotent=True
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
            "Replay", request, messages_pb2.ReplayResult, identity, idempotent=True
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
            "Conversations", Empty(), messages_pb2.ConversationList, identity, idempotent=True
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
            idempotent=True,
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
        ),
    )
