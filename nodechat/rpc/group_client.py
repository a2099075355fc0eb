"""RemoteGroupService: the group role over gRPC (see :mod:`nodechat.rpc.clients`)."""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.empty_pb2 import Empty

from nodechat.config import RpcSettings
from nodechat.models import Channel, Identity, Invite, Member
from nodechat.proto.v1 import common_pb2, groups_pb2
from nodechat.rpc import convert as cv
from nodechat.rpc.channel import RpcChannel, build
from nodechat.services.api import GroupService, GroupView

SERVICE = "nodechat.v1.GroupService"


class RemoteGroupService(GroupService):
    """:class:`GroupService` over gRPC."""

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
        idempotent: bool = False,
    ) -> GroupView:
        reply = await self.rpc.call(
            name, request, common_pb2.GroupView, identity, idempotent=idempotent
        )
        return cv.group_view_from_pb(reply)

    async def create_group(self, identity: Identity, name: str, description: str = "") -> GroupView:
        request = build(groups_pb2.CreateGroupRequest, name=name, description=description)
        return await self._view("CreateGroup", request, identity)

    async def list_groups(self, identity: Identity) -> list[GroupView]:
        reply = await self.rpc.call(
            "ListGroups", Empty(), groups_pb2.ListGroupsResponse, identity, idempotent=True
        )
        return [cv.group_view_from_pb(v) for v in reply.groups]

    async def get_group(self, identity: Identity, group_id: str) -> GroupView:
        return await self._view(
            "GetGroup", build(groups_pb2.GroupRequest, group_id=group_id), identity, idempotent=True
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

    async def list_members(self, identity: Identity, group_id: str) -> list[Member]:
        reply = await self.rpc.call(
            "ListMembers",
            build(groups_pb2.GroupRequest, group_id=group_id),
            groups_pb2.MemberList,
            identity,
            idempotent=True,
        )
        return [cv.member_from_pb(m) for m in reply.members]

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
            idempotent=True,
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
            idempotent=True,
        )
        return list(reply.group_ids)
