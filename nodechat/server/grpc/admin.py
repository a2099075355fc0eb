"""Server administration on the auth role over gRPC, both halves: AdminServicer and
RemoteAdminService (one generic ``AdminService/Call``; see proto/nodechat/v1/admin.proto
for why it is generic)."""

from __future__ import annotations

from typing import Any

import orjson

from nodechat.config import RpcSettings
from nodechat.errors import InternalError, InvalidRequest, Unauthenticated
from nodechat.proto.v1 import admin_pb2
from nodechat.protocol.frames import FrameError, decode_request
from nodechat.server.grpc.channel import RpcChannel, build
from nodechat.server.grpc.servicing import MISSING_IDENTITY, CallContext
from nodechat.services.admin import ADMIN_OPS, AdminService, Caller, Record, invoke
from nodechat.services.admin_local import OnlineCounter

SERVICE = "nodechat.v1.AdminService"


class RemoteAdminService(AdminService):
    """:class:`AdminService` over gRPC; ``online`` adds this node's view of who is
    connected to ``stats`` (presence is kept by the socket nodes, so the caller answers)."""

    def __init__(
        self, target: str, settings: RpcSettings, *, online: OnlineCounter | None = None
    ) -> None:
        self.rpc = RpcChannel(target, SERVICE, settings)
        self._online = online

    async def close(self) -> None:
        """Close the channel."""
        await self.rpc.close()

    async def _call(self, caller: Caller, op: str, **args: Any) -> Record:
        if caller is None:
            raise Unauthenticated("remote admin calls act for a user", code=MISSING_IDENTITY)
        data = {k: v for k, v in args.items() if v is not None}
        request = build(admin_pb2.AdminCallRequest, op=op, args_json=orjson.dumps(data))
        reply = await self.rpc.call(
            "Call",
            request,
            admin_pb2.AdminCallReply,
            caller,
            idempotent=op.endswith((".list", ".get", ".stats")),
        )
        try:
            result = orjson.loads(reply.result_json)
        except orjson.JSONDecodeError as exc:
            raise InternalError(
                "the auth role sent a malformed admin reply", code="rpc_failed"
            ) from exc
        if not isinstance(result, dict):
            raise InternalError("the auth role sent a malformed admin reply", code="rpc_failed")
        return result

    async def list_users(
        self,
        caller: Caller,
        *,
        after: str | None = None,
        limit: int = 50,
        query: str | None = None,
        admins: bool = False,
        disabled: bool = False,
    ) -> Record:
        return await self._call(
            caller,
            "admin.user.list",
            after=after,
            limit=limit,
            query=query,
            admins=admins,
            disabled=disabled,
        )

    async def get_user(self, caller: Caller, user: str) -> Record:
        return await self._call(caller, "admin.user.get", user=user)

    async def create_user(
        self,
        caller: Caller,
        username: str,
        email: str,
        password: str,
        *,
        display_name: str | None = None,
        admin: bool = False,
    ) -> Record:
        return await self._call(
            caller,
            "admin.user.create",
            username=username,
            email=email,
            password=password,
            display_name=display_name,
            admin=admin,
        )

    async def disable_user(self, caller: Caller, user: str) -> Record:
        return await self._call(caller, "admin.user.disable", user=user)

    async def enable_user(self, caller: Caller, user: str) -> Record:
        return await self._call(caller, "admin.user.enable", user=user)

    async def reset_password(self, caller: Caller, user: str, password: str) -> Record:
        return await self._call(caller, "admin.user.reset_password", user=user, password=password)

    async def delete_user(self, caller: Caller, user: str) -> Record:
        return await self._call(caller, "admin.user.delete", user=user)

    async def set_admin(self, caller: Caller, user: str, admin: bool) -> Record:
        return await self._call(caller, "admin.user.set_admin", user=user, admin=admin)

    async def list_groups(
        self, caller: Caller, *, after: str | None = None, limit: int = 50
    ) -> Record:
        return await self._call(caller, "admin.group.list", after=after, limit=limit)

    async def get_group(self, caller: Caller, group_id: str) -> Record:
        return await self._call(caller, "admin.group.get", group_id=group_id)

    async def create_group(
        self, caller: Caller, name: str, *, owner: str | None = None, description: str = ""
    ) -> Record:
        return await self._call(
            caller, "admin.group.create", name=name, owner=owner, description=description
        )

    async def delete_group(self, caller: Caller, group_id: str) -> Record:
        return await self._call(caller, "admin.group.delete", group_id=group_id)

    async def add_member(
        self, caller: Caller, group_id: str, user: str, *, role: str = "member"
    ) -> Record:
        return await self._call(caller, "admin.member.add", group_id=group_id, user=user, role=role)

    async def remove_member(self, caller: Caller, group_id: str, user: str) -> Record:
        return await self._call(caller, "admin.member.remove", group_id=group_id, user=user)

    async def set_role(self, caller: Caller, group_id: str, user: str, role: str) -> Record:
        return await self._call(
            caller, "admin.member.set_role", group_id=group_id, user=user, role=role
        )

    async def list_channels(self, caller: Caller, group_id: str) -> Record:
        return await self._call(caller, "admin.channel.list", group_id=group_id)

    async def get_channel(self, caller: Caller, channel_id: str) -> Record:
        return await self._call(caller, "admin.channel.get", channel_id=channel_id)

    async def create_channel(
        self, caller: Caller, group_id: str, name: str, *, kind: str = "text", topic: str = ""
    ) -> Record:
        return await self._call(
            caller, "admin.channel.create", group_id=group_id, name=name, kind=kind, topic=topic
        )

    async def rename_channel(self, caller: Caller, channel_id: str, name: str) -> Record:
        return await self._call(caller, "admin.channel.rename", channel_id=channel_id, name=name)

    async def delete_channel(self, caller: Caller, channel_id: str) -> Record:
        return await self._call(caller, "admin.channel.delete", channel_id=channel_id)

    async def list_invites(self, caller: Caller, group_id: str) -> Record:
        return await self._call(caller, "admin.invite.list", group_id=group_id)

    async def get_invite(self, caller: Caller, code: str) -> Record:
        return await self._call(caller, "admin.invite.get", code=code)

    async def create_invite(
        self,
        caller: Caller,
        group_id: str,
        *,
        expires_in: int | None = None,
        max_uses: int | None = None,
    ) -> Record:
        return await self._call(
            caller,
            "admin.invite.create",
            group_id=group_id,
            expires_in=expires_in,
            max_uses=max_uses,
        )

    async def revoke_invite(self, caller: Caller, code: str) -> Record:
        return await self._call(caller, "admin.invite.revoke", code=code)

    async def list_sessions(self, caller: Caller, user: str, *, active: bool = False) -> Record:
        return await self._call(caller, "admin.session.list", user=user, active=active)

    async def get_session(self, caller: Caller, session_id: str) -> Record:
        return await self._call(caller, "admin.session.get", session_id=session_id)

    async def revoke_session(self, caller: Caller, session_id: str) -> Record:
        return await self._call(caller, "admin.session.revoke", session_id=session_id)

    async def stats(self, caller: Caller, *, days: int = 7) -> Record:
        result = await self._call(caller, "admin.stats", days=days)
        if self._online is not None:
            result["online"] = await self._online()
        return result


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
