"""gRPC servicers of the three roles: decode, call one service method, encode.

Each method gets the decoded request and the :class:`CallContext` (the caller's
identity via ``call.me``); errors and events are handled by
:mod:`nodechat.rpc.servicing`. No rule lives here.
"""

from __future__ import annotations

import logging

import orjson
from google.protobuf.empty_pb2 import Empty

from nodechat.errors import ChatError, InternalError, InvalidRequest, Unauthenticated
from nodechat.models import Identity
from nodechat.proto.v1 import admin_pb2, auth_pb2, common_pb2, groups_pb2, messages_pb2
from nodechat.protocol.frames import FrameError, decode_request
from nodechat.rpc import convert as cv
from nodechat.rpc.convert import optional
from nodechat.rpc.servicing import MISSING_IDENTITY, CallContext
from nodechat.services.admin import ADMIN_OPS, AdminService, invoke
from nodechat.services.api import AuthService, GroupService, MessageService, SendItem

log = logging.getLogger(__name__)

MAX_SEND_BATCH = 1024


class AuthServicer:
    """nodechat.v1.AuthService over an :class:`AuthService`."""

    def __init__(self, auth: AuthService) -> None:
        self._auth = auth

    async def register(
        self, r: auth_pb2.RegisterRequest, call: CallContext
    ) -> common_pb2.TokenPair:
        """Register."""
        pair = await self._auth.register(
            r.username,
            r.email,
            r.password,
            display_name=optional(r, "display_name"),
            address=r.address,
            user_agent=r.user_agent,
        )
        return cv.token_pair_to_pb(pair)

    async def login(self, r: auth_pb2.LoginRequest, call: CallContext) -> common_pb2.TokenPair:
        """Login."""
        pair = await self._auth.login(
            r.login, r.password, address=r.address, user_agent=r.user_agent
        )
        return cv.token_pair_to_pb(pair)

    async def refresh(self, r: auth_pb2.RefreshRequest, call: CallContext) -> common_pb2.TokenPair:
        """Refresh."""
        return cv.token_pair_to_pb(await self._auth.refresh(r.refresh_token))

    async def authenticate(
        self, r: auth_pb2.AuthenticateRequest, call: CallContext
    ) -> common_pb2.Identity:
        """Authenticate."""
        return cv.identity_to_pb(await self._auth.authenticate(r.access_token))

    async def logout(self, r: Empty, call: CallContext) -> Empty:
        """Logout."""
        await self._auth.logout(call.me)
        return Empty()

    async def logout_all(self, r: Empty, call: CallContext) -> auth_pb2.LogoutAllResponse:
        """LogoutAll."""
        return auth_pb2.LogoutAllResponse(sessions=await self._auth.logout_all(call.me))

    async def get_user(self, r: auth_pb2.GetUserRequest, call: CallContext) -> common_pb2.User:
        """GetUser."""
        return cv.user_to_pb(await self._auth.get_user(call.me, optional(r, "user_id")))

    async def find_user(self, r: auth_pb2.FindUserRequest, call: CallContext) -> common_pb2.User:
        """FindUser."""
        return cv.user_to_pb(await self._auth.find_user(call.me, r.username))

    async def get_users(
        self, r: auth_pb2.GetUsersRequest, call: CallContext
    ) -> auth_pb2.GetUsersResponse:
        """GetUsers."""
        users = await self._auth.get_users(call.me, list(r.user_ids))
        return auth_pb2.GetUsersResponse(users=[cv.user_to_pb(u) for u in users])

    async def update_profile(
        self, r: auth_pb2.UpdateProfileRequest, call: CallContext
    ) -> common_pb2.User:
        """UpdateProfile."""
        user = await self._auth.update_profile(
            call.me, display_name=optional(r, "display_name"), about=optional(r, "about")
        )
        return cv.user_to_pb(user)

    async def change_password(self, r: auth_pb2.ChangePasswordRequest, call: CallContext) -> Empty:
        """ChangePassword."""
        await self._auth.change_password(call.me, r.old_password, r.new_password)
        return Empty()


class GroupServicer:
    """nodechat.v1.GroupService over a :class:`GroupService`."""

    def __init__(self, groups: GroupService) -> None:
        self._groups = groups

    async def create_group(
        self, r: groups_pb2.CreateGroupRequest, call: CallContext
    ) -> common_pb2.GroupView:
        """CreateGroup."""
        return cv.group_view_to_pb(await self._groups.create_group(call.me, r.name, r.description))

    async def list_groups(self, r: Empty, call: CallContext) -> groups_pb2.ListGroupsResponse:
        """ListGroups."""
        views = await self._groups.list_groups(call.me)
        return groups_pb2.ListGroupsResponse(groups=[cv.group_view_to_pb(v) for v in views])

    async def get_group(
        self, r: groups_pb2.GroupRequest, call: CallContext
    ) -> common_pb2.GroupView:
        """GetGroup."""
        return cv.group_view_to_pb(await self._groups.get_group(call.me, r.group_id))

    async def update_group(
        self, r: groups_pb2.UpdateGroupRequest, call: CallContext
    ) -> common_pb2.GroupView:
        """UpdateGroup."""
        view = await self._groups.update_group(
            call.me, r.group_id, name=optional(r, "name"), description=optional(r, "description")
        )
        return cv.group_view_to_pb(view)

    async def delete_group(self, r: groups_pb2.GroupRequest, call: CallContext) -> Empty:
        """DeleteGroup."""
        await self._groups.delete_group(call.me, r.group_id)
        return Empty()

    async def create_channel(
        self, r: groups_pb2.CreateChannelRequest, call: CallContext
    ) -> common_pb2.Channel:
        """CreateChannel."""
        channel = await self._groups.create_channel(call.me, r.group_id, r.name, r.kind, r.topic)
        return cv.channel_to_pb(channel)

    async def update_channel(
        self, r: groups_pb2.UpdateChannelRequest, call: CallContext
    ) -> common_pb2.Channel:
        """UpdateChannel."""
        channel = await self._groups.update_channel(
            call.me, r.channel_id, name=optional(r, "name"), topic=optional(r, "topic")
        )
        return cv.channel_to_pb(channel)

    async def delete_channel(self, r: groups_pb2.ChannelRequest, call: CallContext) -> Empty:
        """DeleteChannel."""
        await self._groups.delete_channel(call.me, r.channel_id)
        return Empty()

    async def reorder_channels(
        self, r: groups_pb2.ReorderChannelsRequest, call: CallContext
    ) -> groups_pb2.ChannelList:
        """ReorderChannels."""
        channels = await self._groups.reorder_channels(call.me, r.group_id, list(r.channel_ids))
        return groups_pb2.ChannelList(channels=[cv.channel_to_pb(c) for c in channels])

    async def list_members(
        self, r: groups_pb2.GroupRequest, call: CallContext
    ) -> groups_pb2.MemberList:
        """ListMembers."""
        members = await self._groups.list_members(call.me, r.group_id)
        return groups_pb2.MemberList(members=[cv.member_to_pb(m) for m in members])

    async def create_invite(
        self, r: groups_pb2.CreateInviteRequest, call: CallContext
    ) -> common_pb2.Invite:
        """CreateInvite."""
        invite = await self._groups.create_invite(
            call.me,
            r.group_id,
            expires_in=optional(r, "expires_in"),
            max_uses=optional(r, "max_uses"),
        )
        return cv.invite_to_pb(invite)

    async def list_invites(
        self, r: groups_pb2.GroupRequest, call: CallContext
    ) -> groups_pb2.InviteList:
        """ListInvites."""
        invites = await self._groups.list_invites(call.me, r.group_id)
        return groups_pb2.InviteList(invites=[cv.invite_to_pb(i) for i in invites])

    async def revoke_invite(
        self, r: groups_pb2.InviteRequest, call: CallContext
    ) -> common_pb2.Invite:
        """RevokeInvite."""
        return cv.invite_to_pb(await self._groups.revoke_invite(call.me, r.code))

    async def join(self, r: groups_pb2.InviteRequest, call: CallContext) -> common_pb2.GroupView:
        """Join."""
        return cv.group_view_to_pb(await self._groups.join(call.me, r.code))

    async def leave(self, r: groups_pb2.GroupRequest, call: CallContext) -> Empty:
        """Leave."""
        await self._groups.leave(call.me, r.group_id)
        return Empty()

    async def kick(self, r: groups_pb2.GroupMemberRequest, call: CallContext) -> Empty:
        """Kick."""
        await self._groups.kick(call.me, r.group_id, r.user_id)
        return Empty()

    async def ban(self, r: groups_pb2.GroupMemberRequest, call: CallContext) -> Empty:
        """Ban."""
        await self._groups.ban(call.me, r.group_id, r.user_id)
        return Empty()

    async def unban(self, r: groups_pb2.GroupMemberRequest, call: CallContext) -> Empty:
        """Unban."""
        await self._groups.unban(call.me, r.group_id, r.user_id)
        return Empty()

    async def set_role(self, r: groups_pb2.SetRoleRequest, call: CallContext) -> common_pb2.Member:
        """SetRole."""
        return cv.member_to_pb(await self._groups.set_role(call.me, r.group_id, r.user_id, r.role))

    async def transfer_ownership(
        self, r: groups_pb2.GroupMemberRequest, call: CallContext
    ) -> common_pb2.GroupView:
        """TransferOwnership."""
        view = await self._groups.transfer_ownership(call.me, r.group_id, r.user_id)
        return cv.group_view_to_pb(view)

    async def member_group_ids(
        self, r: groups_pb2.MemberGroupIdsRequest, call: CallContext
    ) -> groups_pb2.MemberGroupIdsResponse:
        """MemberGroupIds (trusted: no caller identity)."""
        ids = await self._groups.member_group_ids(r.user_id)
        return groups_pb2.MemberGroupIdsResponse(group_ids=ids)


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
                )
            )
            positions.append(i)
        try:
            results = await self._messages.send_many(sends)
        except Exception:
            log.exception("unexpected error in SendMany")
            results = [InternalError("internal error")] * len(sends)
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


class AdminServicer:
    """nodechat.v1.AdminService over an :class:`AdminService`: the op and its fields are
    checked against the socket protocol's field table before the service sees them."""

    def __init__(self, admin: AdminService) -> None:
        self._admin = admin

    async def call(
        self, r: admin_pb2.AdminCallRequest, call: CallContext
    ) -> admin_pb2.AdminCallReply:
        """Call."""
        if r.op not in ADMIN_OPS:
            raise InvalidRequest(f"unknown admin op {r.op[:64]!r}", code="unknown_op")
        try:
            data = orjson.loads(r.args_json or b"{}")
            request = decode_request(orjson.dumps({"id": 0, "op": r.op, "data": data}))
        except (orjson.JSONDecodeError, FrameError) as exc:
            detail = exc.to_dict() if isinstance(exc, FrameError) else {}
            detail.pop("code", None)
            detail.pop("message", None)
            raise InvalidRequest(f"bad admin call arguments: {exc}", **detail) from None
        result = await invoke(self._admin, call.me, r.op, request.data)
        return admin_pb2.AdminCallReply(result_json=orjson.dumps(result))
