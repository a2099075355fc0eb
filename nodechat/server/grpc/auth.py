"""The auth role over gRPC, both halves: AuthServicer serves an AuthService, RemoteAuthService calls it.

Servicer methods decode, call one service method and encode; errors are mapped
by :mod:`nodechat.server.grpc.servicing`. No rule lives here.
"""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.empty_pb2 import Empty

from nodechat.config import RpcSettings
from nodechat.models import Identity, TokenPair, User
from nodechat.proto.v1 import auth_pb2, common_pb2
from nodechat.server.grpc import convert as cv
from nodechat.server.grpc.channel import RpcChannel, build
from nodechat.server.grpc.convert import optional
from nodechat.server.grpc.servicing import CallContext
from nodechat.services.api import AuthService

SERVICE = "nodechat.v1.AuthService"


class RemoteAuthService(AuthService):
    """:class:`AuthService` over gRPC."""

    remote = True

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
        reply = await self.rpc.call("Authenticate", request, common_pb2.Identity, batch=True)
        return cv.identity_from_pb(reply)

    async def logout(self, identity: Identity) -> None:
        await self.rpc.call("Logout", Empty(), Empty, identity)

    async def logout_all(self, identity: Identity) -> int:
        reply = await self.rpc.call("LogoutAll", Empty(), auth_pb2.LogoutAllResponse, identity)
        return reply.sessions

    async def get_user(self, identity: Identity, user_id: str | None = None) -> User:
        request = build(auth_pb2.GetUserRequest, user_id=user_id)
        reply = await self.rpc.call("GetUser", request, common_pb2.User, identity, batch=True)
        return cv.user_from_pb(reply)

    async def find_user(self, identity: Identity, username: str) -> User:
        request = build(auth_pb2.FindUserRequest, username=username)
        reply = await self.rpc.call("FindUser", request, common_pb2.User, identity, batch=True)
        return cv.user_from_pb(reply)

    async def get_users(self, identity: Identity, user_ids: Sequence[str]) -> list[User]:
        request = build(auth_pb2.GetUsersRequest, user_ids=list(user_ids))
        reply = await self.rpc.call(
            "GetUsers", request, auth_pb2.GetUsersResponse, identity, batch=True
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
