"""The gRPC server of a data role: servicers, service-token check, health, reflection, TLS.

    server = await start_rpc_server("message", settings.rpc, "0.0.0.0:7812",
                                    messages=LocalMessageService(store, bus))
    ...
    await server.stop(5.0)

Every call but health checks must carry ``authorization: Bearer <service
token>``; others get ``UNAUTHENTICATED`` with code ``service_unauthenticated``.
Server reflection is served only with ``rpc.reflection`` on, and needs the token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from nodechat.config import RpcSettings
from nodechat.errors import InvalidRequest, Unauthenticated
from nodechat.proto.v1 import admin_pb2, auth_pb2, groups_pb2, messages_pb2
from nodechat.server.grpc import metadata
from nodechat.server.grpc.admin import AdminServicer
from nodechat.server.grpc.auth import AuthServicer
from nodechat.server.grpc.errors import SERVICE_UNAUTHENTICATED, error_trailer
from nodechat.server.grpc.group import GroupServicer
from nodechat.server.grpc.message import MessageServicer
from nodechat.server.grpc.servicing import Observer, add_servicer
from nodechat.server.grpc.tls import server_credentials
from nodechat.services.admin import AdminService
from nodechat.services.api import AuthService, GroupService, MessageService

AUTH_SERVICE: ServiceDescriptor = auth_pb2.DESCRIPTOR.services_by_name["AuthService"]
GROUP_SERVICE: ServiceDescriptor = groups_pb2.DESCRIPTOR.services_by_name["GroupService"]
MESSAGE_SERVICE: ServiceDescriptor = messages_pb2.DESCRIPTOR.services_by_name["MessageService"]
ADMIN_SERVICE: ServiceDescriptor = admin_pb2.DESCRIPTOR.services_by_name["AdminService"]

ROLES = ("auth", "group", "message", "all")

# Open to any caller: load balancers probe health without the token, and it tells only
# SERVING or not. Reflection is not open: it lists every service, AdminService included.
OPEN_PREFIXES = (f"/{health.SERVICE_NAME}/",)

MAX_MESSAGE = 16 * 1024 * 1024
SERVER_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
]


class ServiceTokenInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Refuses every call without ``authorization: Bearer <token>`` (constant-time compare)."""

    def __init__(self, token: str) -> None:
        self._token = token
        self._deny = grpc.unary_unary_rpc_method_handler(self._refuse)

    async def intercept_service(self, continuation: Any, details: Any) -> Any:
        """Pass the call on if it is open or carries the token, else refuse it."""
        method: str = details.method
        if method.startswith(OPEN_PREFIXES):
            return await continuation(details)
        if metadata.presents(details.invocation_metadata, self._token):
            return await continuation(details)
        return self._deny

    @staticmethod
    async def _refuse(request: Any, context: Any) -> None:
        exc = Unauthenticated("a valid service token is required", code=SERVICE_UNAUTHENTICATED)
        await context.abort(
            grpc.StatusCode.UNAUTHENTICATED, exc.message, trailing_metadata=error_trailer(exc)
        )


@dataclass
class RpcServer:
    """A running gRPC server of one role (or all three, for tests)."""

    server: Any  # grpc.aio.Server
    port: int
    service_names: tuple[str, ...]
    health: Any  # grpc_health.v1.health.aio.HealthServicer
    tls: bool

    async def stop(self, grace: float | None = 5.0) -> None:
        """Report NOT_SERVING, refuse new calls, let running ones finish within ``grace`` s."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)

    async def wait_closed(self) -> None:
        """Return when the server has stopped."""
        await self.server.wait_for_termination()


def _pick(
    role: str,
    auth: AuthService | None,
    groups: GroupService | None,
    messages: MessageService | None,
    admin: AdminService | None = None,
) -> list[tuple[ServiceDescriptor, object]]:
    if role not in ROLES:
        raise InvalidRequest(
            f"unknown rpc role {role!r} (expected one of {', '.join(ROLES)})", code="bad_config"
        )
    wanted: list[tuple[str, ServiceDescriptor, Any, type]] = [
        ("auth", AUTH_SERVICE, auth, AuthServicer),
        ("group", GROUP_SERVICE, groups, GroupServicer),
        ("message", MESSAGE_SERVICE, messages, MessageServicer),
    ]
    picked: list[tuple[ServiceDescriptor, object]] = []
    for name, descriptor, service, servicer in wanted:
        if role in (name, "all"):
            if service is None:
                raise InvalidRequest(f"the {name} role needs its service", code="bad_config")
            picked.append((descriptor, servicer(service)))
    if admin is not None and role in ("auth", "all"):  # administration lives with accounts
        picked.append((ADMIN_SERVICE, AdminServicer(admin)))
    return picked


async def start_rpc_server(
    role: str,
    settings: RpcSettings,
    listen: str,
    *,
    auth: AuthService | None = None,
    groups: GroupService | None = None,
    messages: MessageService | None = None,
    admin: AdminService | None = None,
    observer: Observer | None = None,
) -> RpcServer:
    """Serve ``role`` ("auth", "group", "message" or "all") on ``listen`` (host:port, port 0 ok)."""
    token = metadata.service_token(settings)
    picked = _pick(role, auth, groups, messages, admin)
    credentials = server_credentials(settings)
    server = grpc.aio.server(interceptors=[ServiceTokenInterceptor(token)], options=SERVER_OPTIONS)
    for descriptor, servicer in picked:
        add_servicer(server, descriptor, servicer, observer)
    names = tuple(descriptor.full_name for descriptor, _ in picked)
    checker = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    if settings.reflection:
        reflection.enable_server_reflection(
            (*names, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
    try:
        if credentials is None:
            port = server.add_insecure_port(listen)
        else:
            port = server.add_secure_port(listen, credentials)
    except RuntimeError as exc:
        raise InvalidRequest(
            f"cannot listen on {listen}: {exc}", code="bad_config", key="node.listen"
        ) from exc
    if not port:
        raise InvalidRequest(f"cannot listen on {listen}", code="bad_config", key="node.listen")
    await server.start()
    for name in ("", *names):
        await checker.set(name, health_pb2.HealthCheckResponse.SERVING)
    return RpcServer(server, port, names, checker, credentials is not None)
