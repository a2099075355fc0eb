"""Call batching between a socket node and the data roles (``Batch``, ``RpcChannel``).

Real role servers on 127.0.0.1 port 0. Reads made in the same event-loop turn
travel as one ``Batch`` RPC; each caller still gets exactly what the single call
gives, errors included; the server answers bad batch entries one by one; and a
role without ``Batch`` is served with single calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from nodechat.bus import MemoryBus
from nodechat.config import RpcSettings
from nodechat.errors import NotFound, Unauthenticated
from nodechat.models import Identity
from nodechat.proto.v1 import auth_pb2, common_pb2, groups_pb2
from nodechat.server.grpc import (
    RemoteAuthService,
    RemoteGroupService,
    RemoteMessageService,
    RpcServer,
    start_rpc_server,
)
from nodechat.server.grpc.group import GroupServicer
from nodechat.server.grpc.servicing import MAX_BATCH_CALLS, method_handlers
from nodechat.services.api import Services
from nodechat.services.sessions import SessionService
from tests.contract.service_env import local_services

TOKEN = "batch-test-service-token-0123456789"
SETTINGS = RpcSettings(service_token=TOKEN, timeout=10.0)
AUTH = [("authorization", f"Bearer {TOKEN}")]


@dataclass
class Roles:
    server: RpcServer
    local: Services
    users: list[tuple[Identity, str]]  # (identity, access token)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.port}"


@pytest.fixture
async def roles(tmp_path: Path) -> AsyncIterator[Roles]:
    local, store = local_services(tmp_path, MemoryBus())
    server = await start_rpc_server(
        "all", SETTINGS, "127.0.0.1:0", auth=local.auth, groups=local.groups,
        messages=local.messages,
    )  # fmt: skip
    users = []
    for name in ("ann", "bob", "cyd"):
        pair = await local.auth.register(name, f"{name}@example.com", "a long password here")
        users.append((await local.auth.authenticate(pair.access_token), pair.access_token))
    ann = users[0][0]
    for name in ("first", "second"):
        await local.groups.create_group(ann, name)
    try:
        yield Roles(server, local, users)
    finally:
        await server.stop(None)
        await store.close()


async def test_reads_of_one_turn_share_a_batch_and_each_gets_its_own_answer(roles: Roles) -> None:
    auth = RemoteAuthService(roles.address, SETTINGS)
    groups = RemoteGroupService(roles.address, SETTINGS)
    try:
        identities = [identity for identity, _ in roles.users]
        alone = [await auth.get_user(i) for i in identities]
        alone_groups = [await groups.list_groups(i) for i in identities]
        singles = auth.rpc.calls
        assert auth.rpc.batches == 0  # one read at a time: each goes out as itself

        together = await asyncio.gather(*(auth.get_user(i) for i in identities))
        tokens = await asyncio.gather(*(auth.authenticate(t) for _, t in roles.users))
        listed = await asyncio.gather(*(groups.list_groups(i) for i in identities))
    finally:
        await auth.close()
        await groups.close()
    assert together == alone
    assert [t.user_id for t in tokens] == [i.user_id for i in identities]
    assert [[v.group.name for v in views] for views in listed] == [
        [v.group.name for v in views] for views in alone_groups
    ]
    assert [v.group.name for v in listed[0]] == ["first", "second"]
    assert auth.rpc.calls - singles == 2  # three reads each time, one RPC each time
    assert auth.rpc.batches == 2


async def test_one_failing_read_does_not_touch_the_others_in_its_batch(roles: Roles) -> None:
    auth = RemoteAuthService(roles.address, SETTINGS)
    ann = roles.users[0][0]
    try:
        results = await asyncio.gather(
            auth.get_user(ann),
            auth.get_user(ann, "no-such-user"),
            auth.authenticate("not a token"),
            auth.get_user(ann, roles.users[1][0].user_id),
            return_exceptions=True,
        )
        with pytest.raises(NotFound) as alone:  # the same error as a single call gives
            await auth.get_user(ann, "no-such-user")
    finally:
        await auth.close()
    assert auth.rpc.batches == 1
    me, missing, bad_token, bob = results
    assert not isinstance(me, BaseException) and me.username == "ann"
    assert isinstance(missing, NotFound) and missing.code == alone.value.code
    assert isinstance(bad_token, Unauthenticated) and bad_token.code == "invalid_token"
    assert not isinstance(bob, BaseException) and bob.username == "bob"


async def test_a_session_start_over_the_roles_matches_the_local_one(roles: Roles) -> None:
    remote = [
        RemoteAuthService(roles.address, SETTINGS),
        RemoteGroupService(roles.address, SETTINGS),
        RemoteMessageService(roles.address, SETTINGS),
    ]

    async def no_voice(views: Any) -> dict[str, list[str]]:
        return {}

    async def nobody_online(user_ids: list[str]) -> list[str]:
        return []

    async def subscribed(identity: Identity, group_ids: list[str]) -> None:
        seen.append(sorted(group_ids))

    def sessions(auth: Any, groups: Any, messages: Any) -> SessionService:
        return SessionService(
            auth, groups, messages, online=nobody_online, voice=no_voice, replay_limit=100
        )

    seen: list[list[str]] = []
    try:
        over_grpc = sessions(*remote)
        here = sessions(roles.local.auth, roles.local.groups, roles.local.messages)
        tokens = [t for _, t in roles.users]
        started = await asyncio.gather(*(over_grpc.start(t, {}, subscribed) for t in tokens))
        expected = [await here.start(t, {}, subscribed) for t in tokens]
    finally:
        for client in remote:
            await client.close()
    for got, want in zip(started, expected, strict=True):
        assert {k: v for k, v in got.snapshot.items() if k != "session_id"} == {
            k: v for k, v in want.snapshot.items() if k != "session_id"
        }
        assert got.positions == want.positions
    assert seen[:3] == seen[3:]  # the same topics, subscribed before the reads
    assert sum(c.rpc.batches for c in remote) >= 3  # the three starts shared their reads


async def test_the_server_answers_bad_entries_one_by_one(roles: Roles) -> None:
    ann = roles.users[0][0]
    request = common_pb2.BatchRequest(
        calls=[
            common_pb2.BatchCall(method="Nope", request=b""),
            common_pb2.BatchCall(method="Batch", request=b""),  # no batch inside a batch
            common_pb2.BatchCall(method="GetUser", request=b"\xff\xff\xff"),
            common_pb2.BatchCall(  # no identity: what the single call says too
                method="GetUser", request=auth_pb2.GetUserRequest().SerializeToString()
            ),
            common_pb2.BatchCall(
                method="GetUser",
                request=auth_pb2.GetUserRequest().SerializeToString(),
                user_id=ann.user_id,
                session_id=ann.session_id,
            ),
        ]
    )
    async with grpc.aio.insecure_channel(roles.address) as channel:
        batch = channel.unary_unary(
            "/nodechat.v1.AuthService/Batch",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=common_pb2.BatchResponse.FromString,
        )
        reply = await batch(request, metadata=AUTH, timeout=10)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await batch(request, timeout=10)  # the service token guards Batch as well
        big = common_pb2.BatchRequest(
            calls=[common_pb2.BatchCall(method="GetUser")] * (MAX_BATCH_CALLS + 1)
        )
        with pytest.raises(grpc.aio.AioRpcError) as too_large:
            await batch(big, metadata=AUTH, timeout=10)
    codes = [o.error.code if o.HasField("error") else "" for o in reply.outcomes]
    assert codes == ["unknown_method", "unknown_method", "bad_request", "missing_identity", ""]
    assert common_pb2.User.FromString(reply.outcomes[4].reply).username == "ann"
    assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert too_large.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_a_role_without_batch_gets_single_calls(roles: Roles) -> None:
    # a role of an older release: the group service's handlers without Batch
    handlers = method_handlers(
        groups_pb2.DESCRIPTOR.services_by_name["GroupService"], GroupServicer(roles.local.groups)
    )
    del handlers["Batch"]
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("nodechat.v1.GroupService", handlers),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    groups = RemoteGroupService(f"127.0.0.1:{port}", SETTINGS)
    identities = [identity for identity, _ in roles.users]
    try:
        first = await asyncio.gather(*(groups.list_groups(i) for i in identities))
        assert not groups.rpc.batching  # UNIMPLEMENTED once: single calls from then on
        again = await asyncio.gather(*(groups.list_groups(i) for i in identities))
    finally:
        await groups.close()
        await server.stop(None)
    assert [len(v) for v in first] == [len(v) for v in again] == [2, 0, 0]
    assert groups.rpc.batches == 1
    assert groups.rpc.calls == 1 + 2 * len(identities)
