"""The group role over gRPC, both halves: GroupServicer serves a GroupService, RemoteGroupService calls it."""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.empty_pb2 import Empty

from nodechat.config import RpcSettings
from nodechat.models import Channel, Identity, Invite, Member
from nodechat.proto.v1 import common_pb2, groups_pb2
from nodechat.server.grpc import convert as cv
from nodechat.server.grpc.channel import RpcChannel, build
from nodechat.server.grpc.convert import optional
from nodechat.server.grpc.servicing import CallContext
from nodechat.services.api import MEMBER_PAGE_MAX, GroupService, GroupView, MemberPage

SERVICE = "nodechat.v1.GroupService"


class RemoteGroupService(GroupService):
    """:class:`GroupService` over gRPC."""

    remote = True

    def __init__(self, target: str, settings: RpcSettings) -> None:
        self.rpc = RpcChannel(target, SERVICE, settings)

    async def close(self) -> None:
        """Close the channel."""
        await self.rpc.close()

    async def _view(
        self,
        name: str,
        request: groups_pb2.GroupRequest
        | groups_pb2.InviteRequest
        | groups_pb2.UpdateGroupRequest
        | groups_pb2.CreateGroupRequest
        | groups_pb2.GroupMemberRequest,
        identity: Identity,
        batch: bool = False,
    ) -> GroupView:
        reply = await self.rpc.call(name, request, common_pb2.GroupView, identity, batch=batch)
        return cv.group_view_from_pb(reply)

    async def create_group(self, identity: Identity, name: str, description: str = "") -> GroupView:
        request = build(groups_pb2.CreateGroupRequest, name=name, description=description)
        return await self._view("CreateGroup", request, identity)

    async def list_groups(self, identity: Identity) -> list[GroupView]:
        reply = await self.rpc.call(
            "ListGroups", Empty(), groups_pb2.ListGroupsResponse, identity, batch=True
        )
        return [cv.group_view_from_pb(v) for v in reply.groups]

    async def get_group(self, identity: Identity, group_id: str) -> GroupView:
        return await self._view(
            "GetGroup", build(groups_pb2.GroupRequest, group_id=group_id), identity, batch=True
        )

    async def update_group(
        self,
        identity: Identity,
        group_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> GroupView:
        request = build(
            groups_pb2.UpdateGroupRequest, group_id=group_id, name=name, description=description
        )
        return await self._view("UpdateGroup", request, identity)

    async def delete_group(self, identity: Identity, group_id: str) -> None:
        await self.rpc.call(
            "DeleteGroup", build(groups_pb2.GroupRequest, group_id=group_id), Empty, identity
        )

    async def create_channel(
        self, identity: Identity, group_id: str, name: str, kind: str = "text", topic: str = ""
    ) -> Channel:
        request = build(
            groups_pb2.CreateChannelRequest, group_id=group_id, name=name, kind=kind, topic=topic
        )
        reply = await self.rpc.call("CreateChannel", request, common_pb2.Channel, identity)
        return cv.channel_from_pb(reply)

    async def update_channel(
        self,
        identity: Identity,
        channel_id: str,
        *,
        name: str | None = None,
        topic: str | None = None,
    ) -> Channel:
        request = build(
            groups_pb2.UpdateChannelRequest, channel_id=channel_id, name=name, topic=topic
        )
        reply = await self.rpc.call("UpdateChannel", request, common_pb2.Channel, identity)
        return cv.channel_from_pb(reply)

    async def delete_channel(self, identity: Identity, channel_id: str) -> None:
        await self.rpc.call(
            "DeleteChannel",
            build(groups_pb2.ChannelRequest, channel_id=channel_id),
            Empty,
            identity,
        )

    async def reorder_channels(
        self, identity: Identity, group_id: str, channel_ids: Sequence[str]
    ) -> list[Channel]:
        request = build(
            groups_pb2.ReorderChannelsRequest, group_id=group_id, channel_ids=list(channel_ids)
        )
        reply = await self.rpc.call("ReorderChannels", request, groups_pb2.ChannelList, identity)
        return [cv.channel_from_pb(c) for c in reply.channels]

    async def list_members(
        self,
        identity: Identity,
        group_id: str,
        *,
        after: str | None = None,
        limit: int = MEMBER_PAGE_MAX,
    ) -> MemberPage:
        request = build(
            groups_pb2.ListMembersRequest, group_id=group_id, after=after or "", limit=limit
        )
        reply = await self.rpc.call(
            "ListMembers", request, groups_pb2.MemberList, identity, batch=True
        )
        return MemberPage(
            [cv.member_from_pb(m) for m in reply.members],
            [cv.user_from_pb(u) for u in reply.users],
            reply.next or None,
        )

    async def create_invite(
        self,
        identity: Identity,
        group_id: str,
        *,
        expires_in: int | None = None,
        max_uses: int | None = None,
    ) -> Invite:
        request = build(
            groups_pb2.CreateInviteRequest,
            group_id=group_id,
            expires_in=expires_in,
            max_uses=max_uses,
        )
        reply = await self.rpc.call("CreateInvite", request, common_pb2.Invite, identity)
        return cv.invite_from_pb(reply)

    async def list_invites(self, identity: Identity, group_id: str) -> list[Invite]:
        reply = await self.rpc.call(
            "ListInvites",
            build(groups_pb2.GroupRequest, group_id=group_id),
            groups_pb2.InviteList,
            identity,
            batch=True,
        )
        return [cv.invite_from_pb(i) for i in reply.invites]

    async def revoke_invite(self, identity: Identity, code: str) -> Invite:
        reply = await self.rpc.call(
            "RevokeInvite", build(groups_pb2.InviteRequest, code=code), common_pb2.Invite, identity
        )
        return cv.invite_from_pb(reply)

    async def join(self, identity: Identity, code: str) -> GroupView:
        return await self._view("Join", build(groups_pb2.InviteRequest, code=code), identity)

    async def leave(self, identity: Identity, group_id: str) -> None:
        await self.rpc.call(
            "Leave", build(groups_pb2.GroupRequest, group_id=group_id), Empty, identity
        )

    async def _member_op(self, name: str, identity: Identity, group_id: str, user_id: str) -> None:
        request = build(groups_pb2.GroupMemberRequest, group_id=group_id, user_id=user_id)
        await self.rpc.call(name, request, Empty, identity)

    async def kick(self, identity: Identity, group_id: str, user_id: str) -> None:
        await self._member_op("Kick", identity, group_id, user_id)

    async def ban(self, identity: Identity, group_id: str, user_id: str) -> None:
        await self._member_op("Ban", identity, group_id, user_id)

    async def unban(self, identity: Identity, group_id: str, user_id: str) -> None:
        await self._member_op("Unban", identity, group_id, user_id)

    async def set_role(self, identity: Identity, group_id: str, user_id: str, role: str) -> Member:
        request = build(groups_pb2.SetRoleRequest, group_id=group_id, user_id=user_id, role=role)
        return cv.member_from_pb(
            await self.rpc.call("SetRole", request, common_pb2.Member, identity)
        )

    async def transfer_ownership(
        self, identity: Identity, group_id: str, user_id: str
    ) -> GroupView:
        request = build(groups_pb2.GroupMemberRequest, group_id=group_id, user_id=user_id)
        return await self._view("TransferOwnership", request, identity)

    async def member_group_ids(self, user_id: str) -> list[str]:
        reply = await self.rpc.call(
            "MemberGroupIds",
            build(groups_pb2.MemberGroupIdsRequest, user_id=user_id),
            groups_pb2.MemberGroupIdsResponse,
            batch=True,
        )
        return list(reply.group_ids)


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
        self, r: groups_pb2.ListMembersRequest, call: CallContext
    ) -> groups_pb2.MemberList:
        """ListMembers."""
        page = await self._groups.list_members(
            call.me, r.group_id, after=r.after or None, limit=r.limit or MEMBER_PAGE_MAX
        )
        return groups_pb2.MemberList(
            members=[cv.member_to_pb(m) for m in page.members],
            users=[cv.user_to_pb(u) for u in page.users],
            next=page.next or "",
        )

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
