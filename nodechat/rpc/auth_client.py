"""RemoteAuthService: the auth role over gRPC (see :mod:`nodechat.rpc.clients`)."""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.empty_pb2 import Empty

from nodechat.config import RpcSettings
from nodechat.models import Identity, TokenPair, User
from nodechat.proto.v1 import auth_pb2, common_pb2
from nodechat.rpc import convert as cv
from nodechat.rpc.channel import RpcChannel, build
from nodechat.services.api import AuthService

SERVICE = "nodechat.v1.AuthService"


class RemoteAuthService(AuthService):
    """:class:`AuthService` over gRPC."""

    def __init__(self, target: str, settings: RpcSettings) -> None:
        self.rpc = RpcChannel(target, SERVICE, settings)

    async def close(self) -> None:
        """Close the channel."""
        await self.rpc.close()

    async def register(
        self,
        username: str,
        email: str,
        password: str,
        *,
        display_name: str | None = None,
        address: str = "",
        user_agent: str = "",
    ) -> TokenPair:
        request = build(
            auth_pb2.RegisterRequest,
            username=username,
            email=email,
            password=password,
            display_name=display_name,
            address=address,
            user_agent=user_agent,
        )
        return cv.token_pair_from_pb(await self.rpc.call("Register", request, common_pb2.TokenPair))

    async def login(
        self, login: str, password: str, *, address: str = "", user_agent: str = ""
    ) -> TokenPair:
        request = build(
            auth_pb2.LoginRequest,
            login=login,
            password=password,
            address=address,
            user_agent=user_agent,
        )
        return cv.token_pair_from_pb(await self.rpc.call("Login", request, common_pb2.TokenPair))

    async def refresh(self, refresh_token: str) -> TokenPair:
        request = build(auth_pb2.RefreshRequest, refresh_token=refresh_token)
        return cv.token_pair_from_pb(await self.rpc.call("Refresh", request, common_pb2.TokenPair))

    async def authenticate(self, access_token: str) -> Identity:
        request = build(auth_pb2.AuthenticateRequest, access_token=access_token)
        reply = await self.rpc.call("Authenticate", request, common_pb2.Identity, idempotent=True)
        return cv.identity_from_pb(reply)

    async def logout(self, identity: Identity) -> None:
        await self.rpc.call("Logout", Empty(), Empty, identity)

    async def logout_all(self, identity: Identity) -> int:
        reply = await self.rpc.call("LogoutAll", Empty(), auth_pb2.LogoutAllResponse, identity)
        return reply.sessions

    async def get_user(self, identity: Identity, user_id: str | None = None) -> User:
        request = build(auth_pb2.GetUserRequest, user_id=user_id)
        reply = await self.rpc.call("GetUser", request, common_pb2.User, identity, idempotent=True)
        return cv.user_from_pb(reply)

    async def find_user(self, identity: Identity, username: str) -> User:
        request = build(auth_pb2.FindUserRequest, username=username)
        reply = await self.rpc.call("FindUser", request, common_pb2.User, identity, idempotent=True)
        return cv.user_from_pb(reply)

    async def get_users(self, identity: Identity, user_ids: Sequence[str]) -> list[User]:
        request = build(auth_pb2.GetUsersRequest, user_ids=list(user_ids))
        reply = await self.rpc.call(
            "GetUsers", request, auth_pb2.GetUsersResponse, identity, idempotent=True
        )
        return [cv.user_from_pb(u) for u in reply.users]

    async def update_profile(
        self, identity: Identity, *, display_name: str | None = None, about: str | None = None
    ) -> User:
        request = build(auth_pb2.UpdateProfileRequest, display_name=display_name, about=about)
        reply = await self.rpc.call("UpdateProfile", request, common_pb2.User, identity)
        return cv.user_from_pb(reply)

    async def change_password(
        self, identity: Identity, old_password: str, new_password: str
    ) -> None:
        request = build(
            auth_pb2.ChangePasswordRequest, old_password=old_password, new_password=new_password
        )
        await self.rpc.call("ChangePassword", request, Empty, identity)
