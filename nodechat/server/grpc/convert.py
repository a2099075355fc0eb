"""Domain records <-> protobuf messages, both directions, in one place.

``*_to_pb`` builds the message of a record; ``*_from_pb`` builds the record
back. A nullable field of a record is a proto3 ``optional`` field: unset
means ``None``.
"""

from __future__ import annotations

from typing import Any

import orjson
from google.protobuf.message import Message as ProtoMessage

from nodechat.errors import ChatError
from nodechat.models import (
    Attachment,
    Channel,
    ChannelKind,
    Conversation,
    ConversationKind,
    ConversationState,
    Group,
    Identity,
    Invite,
    Member,
    Message,
    Pin,
    PinnedMessage,
    Reaction,
    Role,
    ThreadSummary,
    TokenPair,
    User,
)
from nodechat.proto.v1 import common_pb2 as pb
from nodechat.proto.v1 import messages_pb2
from nodechat.server.grpc.errors import build_error, status_from_number, status_of
from nodechat.services.api import GroupView, HistoryPage, ReplayResult, SendResult

_CHANNEL_KINDS = {ChannelKind.TEXT: pb.CHANNEL_KIND_TEXT, ChannelKind.VOICE: pb.CHANNEL_KIND_VOICE}
_ROLES = {Role.OWNER: pb.ROLE_OWNER, Role.ADMIN: pb.ROLE_ADMIN, Role.MEMBER: pb.ROLE_MEMBER}
_CONVERSATION_KINDS = {
    ConversationKind.CHANNEL: pb.CONVERSATION_KIND_CHANNEL,
    ConversationKind.DIRECT: pb.CONVERSATION_KIND_DIRECT,
    ConversationKind.SELF: pb.CONVERSATION_KIND_SELF,
    ConversationKind.THREAD: pb.CONVERSATION_KIND_THREAD,
}
_CHANNEL_KIND_OF = {v: k for k, v in _CHANNEL_KINDS.items()}
_ROLE_OF = {v: k for k, v in _ROLES.items()}
_CONVERSATION_KIND_OF = {v: k for k, v in _CONVERSATION_KINDS.items()}


def optional(message: ProtoMessage, name: str) -> Any:
    """The value of an ``optional`` field, or None when it is unset."""
    return getattr(message, name) if message.HasField(name) else None


def identity_to_pb(identity: Identity) -> pb.Identity:
    """Identity -> message."""
    return pb.Identity(user_id=identity.user_id, session_id=identity.session_id)


def identity_from_pb(m: pb.Identity) -> Identity:
    """Message -> Identity."""
    return Identity(m.user_id, m.session_id)


def user_to_pb(user: User) -> pb.User:
    """User -> message."""
    return pb.User(
        id=user.id,
        username=user.username,
        email=user.email,
        display_name=user.display_name,
        about=user.about,
        created_at=user.created_at,
        disabled=user.disabled,
        is_admin=user.is_admin,
    )


def user_from_pb(m: pb.User) -> User:
    """Message -> User."""
    return User(
        m.id,
        m.username,
        m.email,
        m.display_name,
        m.about,
        m.created_at,
        disabled=m.disabled,
        is_admin=m.is_admin,
    )


def token_pair_to_pb(pair: TokenPair) -> pb.TokenPair:
    """TokenPair -> message."""
    return pb.TokenPair(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        access_expires_at=pair.access_expires_at,
        session_id=pair.session_id,
        user=user_to_pb(pair.user),
    )


def token_pair_from_pb(m: pb.TokenPair) -> TokenPair:
    """Message -> TokenPair."""
    return TokenPair(
        m.access_token, m.refresh_token, m.access_expires_at, m.session_id, user_from_pb(m.user)
    )


def group_to_pb(group: Group) -> pb.Group:
    """Group -> message."""
    return pb.Group(
        id=group.id,
        name=group.name,
        description=group.description,
        owner_id=group.owner_id,
        created_at=group.created_at,
    )


def group_from_pb(m: pb.Group) -> Group:
    """Message -> Group."""
    return Group(m.id, m.name, m.description, m.owner_id, m.created_at)


def channel_to_pb(channel: Channel) -> pb.Channel:
    """Channel -> message."""
    return pb.Channel(
        id=channel.id,
        group_id=channel.group_id,
        name=channel.name,
        kind=_CHANNEL_KINDS[channel.kind],
        position=channel.position,
        topic=channel.topic,
        created_at=channel.created_at,
    )


def channel_from_pb(m: pb.Channel) -> Channel:
    """Message -> Channel."""
    return Channel(
        m.id, m.group_id, m.name, _CHANNEL_KIND_OF[m.kind], m.position, m.topic, m.created_at
    )


def member_to_pb(member: Member) -> pb.Member:
    """Member -> message."""
    return pb.Member(
        group_id=member.group_id,
        user_id=member.user_id,
        role=_ROLES[member.role],
        joined_at=member.joined_at,
    )


def member_from_pb(m: pb.Member) -> Member:
    """Message -> Member."""
    return Member(m.group_id, m.user_id, _ROLE_OF[m.role], m.joined_at)


def invite_to_pb(invite: Invite) -> pb.Invite:
    """Invite -> message."""
    return pb.Invite(
        code=invite.code,
        group_id=invite.group_id,
        created_by=invite.created_by,
        created_at=invite.created_at,
        expires_at=invite.expires_at,
        max_uses=invite.max_uses,
        uses=invite.uses,
        revoked=invite.revoked,
    )


def invite_from_pb(m: pb.Invite) -> Invite:
    """Message -> Invite."""
    return Invite(
        m.code,
        m.group_id,
        m.created_by,
        m.created_at,
        optional(m, "expires_at"),
        optional(m, "max_uses"),
        m.uses,
        m.revoked,
    )


def group_view_to_pb(view: GroupView) -> pb.GroupView:
    """GroupView -> message."""
    return pb.GroupView(
        group=group_to_pb(view.group),
        channels=[channel_to_pb(c) for c in view.channels],
        role=_ROLES[Role(view.role)],
        member_count=view.member_count,
    )


def group_view_from_pb(m: pb.GroupView) -> GroupView:
    """Message -> GroupView."""
    return GroupView(
        group_from_pb(m.group),
        [channel_from_pb(c) for c in m.channels],
        _ROLE_OF[m.role].value,
        m.member_count,
    )


def message_to_pb(message: Message) -> pb.Message:
    """Message record -> message."""
    return pb.Message(
        id=message.id,
        conversation_id=message.conversation_id,
        seq=message.seq,
        author_id=message.author_id,
        body=message.body,
        nonce=message.nonce,
        created_at=message.created_at,
        reply_to=message.reply_to,
        edited_at=message.edited_at,
        deleted=message.deleted,
        reactions=[pb.Reaction(emoji=r.emoji, count=r.count, me=r.me) for r in message.reactions],
        thread=_thread_to_pb(message.thread),
        attachments=[
            pb.Attachment(id=a.id, name=a.name, size=a.size, type=a.type)
            for a in message.attachments
        ],
    )


def _thread_to_pb(thread: ThreadSummary | None) -> pb.ThreadSummary | None:
    if thread is None:
        return None
    return pb.ThreadSummary(
        conversation=thread.conversation,
        count=thread.count,
        last_at=thread.last_at,
        unread=thread.unread,
    )


def _thread_from_pb(m: pb.Message) -> ThreadSummary | None:
    if not m.HasField("thread"):
        return None
    t = m.thread
    return ThreadSummary(t.conversation, t.count, optional(t, "last_at"), optional(t, "unread"))


def message_from_pb(m: pb.Message) -> Message:
    """Message -> Message record."""
    return Message(
        m.id,
        m.conversation_id,
        m.seq,
        m.author_id,
        m.body,
        m.nonce,
        m.created_at,
        reply_to=optional(m, "reply_to"),
        edited_at=optional(m, "edited_at"),
        deleted=m.deleted,
        reactions=tuple(Reaction(r.emoji, r.count, r.me) for r in m.reactions),
        thread=_thread_from_pb(m),
        attachments=tuple(Attachment(a.id, a.name, a.size, a.type) for a in m.attachments),
    )


def conversation_to_pb(c: Conversation) -> pb.Conversation:
    """Conversation -> message."""
    return pb.Conversation(
        id=c.id,
        kind=_CONVERSATION_KINDS[c.kind],
        group_id=c.group_id,
        participants=list(c.participants),
        last_seq=c.last_seq,
        parent_id=c.parent_id,
    )


def conversation_from_pb(m: pb.Conversation) -> Conversation:
    """Message -> Conversation."""
    return Conversation(
        m.id,
        _CONVERSATION_KIND_OF[m.kind],
        optional(m, "group_id"),
        tuple(m.participants),
        m.last_seq,
        optional(m, "parent_id"),
    )


def conversation_state_to_pb(state: ConversationState) -> pb.ConversationState:
    """ConversationState -> message."""
    return pb.ConversationState(
        conversation=conversation_to_pb(state.conversation),
        last_read_seq=state.last_read_seq,
        unread=state.unread,
        peer_id=state.peer_id,
        extra_json=orjson.dumps(state.extra) if state.extra else b"",
    )


def conversation_state_from_pb(m: pb.ConversationState) -> ConversationState:
    """Message -> ConversationState."""
    extra = orjson.loads(m.extra_json) if m.extra_json else {}
    return ConversationState(
        conversation_from_pb(m.conversation),
        m.last_read_seq,
        m.unread,
        optional(m, "peer_id"),
        extra,
    )


def send_result_to_pb(result: SendResult) -> messages_pb2.SendResult:
    """SendResult -> message."""
    return messages_pb2.SendResult(message=message_to_pb(result.message), created=result.created)


def send_result_from_pb(m: messages_pb2.SendResult) -> SendResult:
    """Message -> SendResult."""
    return SendResult(message_from_pb(m.message), m.created)


def history_page_to_pb(page: HistoryPage) -> messages_pb2.HistoryPage:
    """HistoryPage -> message."""
    return messages_pb2.HistoryPage(
        messages=[message_to_pb(m) for m in page.messages], has_more=page.has_more
    )


def history_page_from_pb(m: messages_pb2.HistoryPage) -> HistoryPage:
    """Message -> HistoryPage."""
    return HistoryPage([message_from_pb(x) for x in m.messages], m.has_more)


def pinned_message_to_pb(entry: PinnedMessage) -> messages_pb2.PinnedMessage:
    """PinnedMessage -> message."""
    return messages_pb2.PinnedMessage(
        message=message_to_pb(entry.message),
        pinned_by=entry.pin.pinned_by,
        pinned_at=entry.pin.pinned_at,
    )


def pinned_message_from_pb(m: messages_pb2.PinnedMessage) -> PinnedMessage:
    """Message -> PinnedMessage."""
    message = message_from_pb(m.message)
    return PinnedMessage(
        message, Pin(message.conversation_id, message.id, m.pinned_by, m.pinned_at)
    )


def replay_result_to_pb(result: ReplayResult) -> messages_pb2.ReplayResult:
    """ReplayResult -> message."""
    return messages_pb2.ReplayResult(
        conversation_id=result.conversation_id,
        messages=[message_to_pb(m) for m in result.messages],
        last_seq=result.last_seq,
        too_old=result.too_old,
    )


def replay_result_from_pb(m: messages_pb2.ReplayResult) -> ReplayResult:
    """Message -> ReplayResult."""
    return ReplayResult(
        m.conversation_id, [message_from_pb(x) for x in m.messages], m.last_seq, m.too_old
    )


def error_to_pb(exc: ChatError) -> pb.Error:
    """ChatError -> message (with the status code that picks its class)."""
    details = exc.to_dict()
    details.pop("code", None)
    details.pop("message", None)
    return pb.Error(
        code=exc.code,
        message=exc.message,
        details_json=orjson.dumps(details, default=str) if details else b"",
        status=status_of(exc).value[0],
    )


def error_from_pb(m: pb.Error) -> ChatError:
    """Message -> the same ChatError subclass, code, message and details."""
    details = orjson.loads(m.details_json) if m.details_json else {}
    return build_error(
        status_from_number(m.status), {**details, "code": m.code, "message": m.message}
    )
