"""The gRPC server of the data roles: service token, health, reflection, TLS, errors, retries.

Real servers on 127.0.0.1 port 0; raw grpc.aio channels with the generated
stubs where the test is about the wire, the Remote* clients otherwise.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from google.protobuf.empty_pb2 import Empty
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from nodechat.bus import MemoryBus
from nodechat.config import RpcSettings
from nodechat.errors import (
    ChatError,
    Conflict,
    Forbidden,
    InternalError,
    InvalidCredentials,
    InvalidRequest,
    NotFound,
    RateLimited,
    Unauthenticated,
    Unavailable,
)
from nodechat.models import Identity
from nodechat.proto.v1 import auth_pb2, common_pb2, groups_pb2, messages_pb2
from nodechat.server.grpc import (
    RemoteAuthService,
    RemoteGroupService,
    RemoteMessageService,
    RpcServer,
    start_rpc_server,
)
from nodechat.server.grpc.errors import SERVICE_UNAUTHENTICATED, SERVICE_UNAVAILABLE
from nodechat.services.api import GroupView, Services
from nodechat.services.groups import LocalGroupService
from tests.contract.service_env import local_services

TOKEN = "integration-service-token"
SERVICES = ("nodechat.v1.AuthService", "nodechat.v1.GroupService", "nodechat.v1.MessageService")
ERROR_KEY = "x-nodechat-error-bin"


@dataclass
class Running:
    server: RpcServer
    services: Services

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.port}"


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    local, store = local_services(tmp_path, MemoryBus())
    server = await start_rpc_server(
        "all",
        RpcSettings(service_token=TOKEN),
        "127.0.0.1:0",
        auth=local.auth,
        groups=local.groups,
        messages=local.messages,
    )
    try:
        yield Running(server, local)
    finally:
        await server.stop(None)
        await store.close()


def unary(channel: grpc.aio.Channel, method: str, reply: Any) -> Any:
    """A plain grpcio callable for ``nodechat.v1.<method>``, as any standard client makes."""
    return channel.unary_unary(
        f"/nodechat.v1.{method}",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=reply.FromString,
    )


def trailer(err: grpc.aio.AioRpcError, key: str) -> Any:
    return dict(err.trailing_metadata() or ()).get(key)


# -- service token ---------------------------------------------------------


@pytest.mark.parametrize(
    "metadata",
    [None, [("authorization", "Bearer wrong-token")], [("authorization", TOKEN)]],
    ids=["missing", "wrong", "not-bearer"],
)
async def test_calls_without_the_service_token_are_refused(running: Running, metadata: Any) -> None:
    async with grpc.aio.insecure_channel(running.address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await unary(channel, "AuthService/Authenticate", common_pb2.Identity)(
                auth_pb2.AuthenticateRequest(access_token="x"), metadata=metadata, timeout=5
            )
    assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert f'"code":"{SERVICE_UNAUTHENTICATED}"'.encode() in trailer(info.value, ERROR_KEY)


async def test_the_service_token_admits_and_identity_is_required(running: Running) -> None:
    auth = [("authorization", f"Bearer {TOKEN}")]
    async with grpc.aio.insecure_channel(running.address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await unary(channel, "AuthService/Authenticate", common_pb2.Identity)(
                auth_pb2.AuthenticateRequest(access_token="x"), metadata=auth, timeout=5
            )
        assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED
        assert b'"code":"invalid_token"' in trailer(info.value, ERROR_KEY)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await unary(channel, "GroupService/ListGroups", groups_pb2.ListGroupsResponse)(
                Empty(), metadata=auth, timeout=5
            )
        assert b'"code":"missing_identity"' in trailer(info.value, ERROR_KEY)
        reply = await unary(channel, "MessageService/SendMany", messages_pb2.SendManyResponse)(
            messages_pb2.SendManyRequest(
                items=[
                    messages_pb2.SendItem(
                        request=messages_pb2.SendRequest(conversation_id="x", body="b", nonce="n")
                    )
                ]
            ),
            metadata=auth,
            timeout=5,
        )
    (outcome,) = reply.outcomes
    assert outcome.WhichOneof("outcome") == "error"
    assert (outcome.error.code, outcome.error.status) == ("missing_identity", 16)


async def test_an_empty_service_token_refuses_to_start() -> None:
    with pytest.raises(InvalidRequest) as info:
        await start_rpc_server("auth", RpcSettings(), "127.0.0.1:0", auth=None)
    assert info.value.code == "bad_config" and "service_token" in info.value.message


async def test_a_role_needs_its_service() -> None:
    with pytest.raises(InvalidRequest) as info:
        await start_rpc_server("group", RpcSettings(service_token=TOKEN), "127.0.0.1:0")
    assert info.value.code == "bad_config"


# -- health and reflection -------------------------------------------------


async def test_health_reports_serving_without_a_token(running: Running) -> None:
    async with grpc.aio.insecure_channel(running.address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for name in ("", *SERVICES):
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING, name
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.Check(health_pb2.HealthCheckRequest(service="nope.Service"), timeout=5)
        assert info.value.code() is grpc.StatusCode.NOT_FOUND


async def list_by_reflection(address: str, metadata: Any = None) -> set[str]:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        names: set[str] = set()
        calls = stub.ServerReflectionInfo(iter([request]), metadata=metadata, timeout=5)
        async for response in calls:
            names |= {s.name for s in response.list_services_response.service}
        symbol = reflection_pb2.ServerReflectionRequest(
            file_containing_symbol="nodechat.v1.MessageService"
        )
        async for response in stub.ServerReflectionInfo(
            iter([symbol]), metadata=metadata, timeout=5
        ):
            assert response.file_descriptor_response.file_descriptor_proto
    return names


async def test_reflection_is_off_by_default(running: Running) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await list_by_reflection(running.address, [("authorization", f"Bearer {TOKEN}")])
    assert info.value.code() is grpc.StatusCode.UNIMPLEMENTED


async def test_reflection_when_enabled_lists_the_services_to_token_holders(
    tmp_path: Path,
) -> None:
    local, store = local_services(tmp_path, MemoryBus())
    server = await start_rpc_server(
        "all",
        RpcSettings(service_token=TOKEN, reflection=True),
        "127.0.0.1:0",
        auth=local.auth,
        groups=local.groups,
        messages=local.messages,
    )
    address = f"127.0.0.1:{server.port}"
    try:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await list_by_reflection(address)
        assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED
        names = await list_by_reflection(address, [("authorization", f"Bearer {TOKEN}")])
    finally:
        await server.stop(None)
        await store.close()
    assert set(SERVICES) <= names
    assert "grpc.health.v1.Health" in names


async def test_a_single_role_serves_only_its_service(tmp_path: Path) -> None:
    local, store = local_services(tmp_path, MemoryBus())
    server = await start_rpc_server(
        "message", RpcSettings(service_token=TOKEN), "127.0.0.1:0", messages=local.messages
    )
    try:
        assert server.service_names == ("nodechat.v1.MessageService",)
        client = RemoteGroupService(f"127.0.0.1:{server.port}", RpcSettings(service_token=TOKEN))
        with pytest.raises(InternalError) as info:
            await client.member_group_ids("u_x")
        assert info.value.code == "rpc_failed" and info.value.details["status"] == "UNIMPLEMENTED"
        await client.close()
    finally:
        await server.stop(None)
        await store.close()


# -- errors ----------------------------------------------------------------

ERRORS = [
    InvalidRequest("bad field", code="invalid_thing", field="name"),
    Unauthenticated("who are you", code="invalid_token"),
    InvalidCredentials("nope"),
    Forbidden("not yours"),
    NotFound("no such group", code="group_not_found"),
    Conflict("taken", code="username_taken"),
    Conflict("owner first", code="owner_cannot_leave"),
    RateLimited("slow down", retry_after=1.25, code="too_many_login_attempts"),
    Unavailable("store down"),
    InternalError("oops"),
]


class FailingGroups(LocalGroupService):
    """get_group raises the error under test."""

    error: ChatError

    async def get_group(self, identity: Identity, group_id: str) -> GroupView:
        raise self.error


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: e.code)
async def test_errors_cross_the_wire_unchanged(tmp_path: Path, error: ChatError) -> None:
    local, store = local_services(tmp_path, MemoryBus())
    groups = FailingGroups(store, MemoryBus())
    groups.error = error
    server = await start_rpc_server(
        "group", RpcSettings(service_token=TOKEN), "127.0.0.1:0", groups=groups
    )
    client = RemoteGroupService(f"127.0.0.1:{server.port}", RpcSettings(service_token=TOKEN))
    try:
        with pytest.raises(ChatError) as info:
            await client.get_group(Identity("u_1", "s_1"), "g_1")
    finally:
        await client.close()
        await server.stop(None)
        await store.close()
    got = info.value
    assert type(got) is type(error)
    assert got.to_dict() == error.to_dict()
    assert isinstance(got.__cause__, grpc.aio.AioRpcError)
    if isinstance(error, RateLimited):
        assert isinstance(got, RateLimited) and got.retry_after == 1.25


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_idempotent_calls_are_retried_when_unavailable() -> None:
    settings = RpcSettings(service_token=TOKEN, timeout=2.0, retries=3)
    target = f"127.0.0.1:{_free_port()}"  # nothing listens here
    auth = RemoteAuthService(target, settings)
    try:
        with pytest.raises(Unavailable) as info:
            await auth.authenticate("token")
        assert info.value.code == SERVICE_UNAVAILABLE
        assert auth.rpc.calls == 3
        with pytest.raises(Unavailable):
            await auth.login("alice", "password")
        assert auth.rpc.calls == 4  # a login is not retried
    finally:
        await auth.close()


# -- TLS -------------------------------------------------------------------


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _cert(
    subject: str,
    key: Any,
    issuer: str,
    issuer_key: Any,
    *,
    ca: bool = False,
    sans: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, cert: x509.Certificate, key: Any | None = None) -> None:
    path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        path.with_suffix(".key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    _write(tmp_path / "ca", _cert("test ca", ca_key, "test ca", ca_key, ca=True))
    server_key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    _write(
        tmp_path / "server",
        _cert("message role", server_key, "test ca", ca_key, sans=sans),
        server_key,
    )
    client_key = ec.generate_private_key(ec.SECP256R1())
    _write(tmp_path / "client", _cert("socket node", client_key, "test ca", ca_key), client_key)
    return tmp_path


async def test_mutual_tls(tmp_path: Path, pki: Path) -> None:
    local, store = local_services(tmp_path, MemoryBus())
    server_settings = RpcSettings(
        service_token=TOKEN,
        tls_ca=str(pki / "ca.crt"),
        tls_cert=str(pki / "server.crt"),
        tls_key=str(pki / "server.key"),
    )
    server = await start_rpc_server(
        "message", server_settings, "127.0.0.1:0", messages=local.messages
    )
    target = f"127.0.0.1:{server.port}"
    with_cert = RpcSettings(
        service_token=TOKEN,
        tls_ca=str(pki / "ca.crt"),
        tls_cert=str(pki / "client.crt"),
        tls_key=str(pki / "client.key"),
    )
    without_cert = RpcSettings(service_token=TOKEN, tls_ca=str(pki / "ca.crt"), retries=1)
    plaintext = RpcSettings(service_token=TOKEN, retries=1)
    good = RemoteMessageService(target, with_cert)
    anonymous = RemoteMessageService(target, without_cert)
    insecure = RemoteMessageService(target, plaintext)
    try:
        assert server.tls
        assert await good.direct_peer_ids("u_nobody") == []
        with pytest.raises(Unavailable) as info:
            await anonymous.direct_peer_ids("u_nobody")
        assert info.value.code == SERVICE_UNAVAILABLE
        with pytest.raises(Unavailable):
            await insecure.direct_peer_ids("u_nobody")
    finally:
        for client in (good, anonymous, insecure):
            await client.close()
        await server.stop(None)
        await store.close()


async def test_tls_settings_must_be_complete(tmp_path: Path, pki: Path) -> None:
    local, store = local_services(tmp_path, MemoryBus())
    try:
        half = RpcSettings(service_token=TOKEN, tls_cert=str(pki / "server.crt"))
        with pytest.raises(InvalidRequest) as info:
            await start_rpc_server("message", half, "127.0.0.1:0", messages=local.messages)
        assert info.value.code == "bad_config" and "tls_key" in info.value.message
    finally:
        await store.close()
    missing = RpcSettings(
        service_token=TOKEN, tls_cert=str(pki / "nope.crt"), tls_key=str(pki / "nope.key")
    )
    with pytest.raises(InvalidRequest) as info:
        RemoteAuthService("127.0.0.1:1", missing)
    assert info.value.code == "bad_config" and "nope" in info.value.message
