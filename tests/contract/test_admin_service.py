"""The admin contract: LocalAdminService, and the same service behind the auth role's gRPC
server reached through RemoteAdminService, answer and publish alike.

``local``: LocalAdminService over SQLite publishing on a memory bus the test watches.
``grpc``: the same service, publishing on the shared broker, served by
``start_rpc_server("auth", admin=...)`` on port 0 and reached through
RemoteAdminService; the test watches another client of the broker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from nodechat.bus import Event, MemoryBroker, MemoryBus, group_topic, user_topic
from nodechat.config import AuthSettings, RpcSettings
from nodechat.errors import Conflict, Forbidden, InvalidCredentials, InvalidRequest, NotFound
from nodechat.models import Identity
from nodechat.proto.v1 import admin_pb2
from nodechat.server.grpc import RemoteAdminService, start_rpc_server
from nodechat.services.admin import AdminService
from nodechat.services.admin_local import LocalAdminService
from nodechat.services.auth import LocalAuthService
from nodechat.services.tokens import TokenIssuer, TokenVerifier, load_or_create_keys
from nodechat.storage import open_store
from nodechat.storage.base import Store

PASSWORD = "correct horse battery"
TOKEN = "admin-contract-service-token"


@dataclass
class AdminEnv:
    """The admin interface, the local services to set up data, and the events seen."""

    admin: AdminService
    auth: LocalAuthService
    store: Store
    bus: MemoryBus
    events: list[tuple[str, Event]] = field(default_factory=list)

    async def user(self, name: str) -> Identity:
        pair = await self.auth.register(name, f"{name}@example.com", PASSWORD)
        return Identity(pair.user.id, pair.session_id)

    async def root(self) -> Identity:
        identity = await self.user("root")
        await self.store.accounts.set_admin(identity.user_id, True)
        return identity

    async def watch(self, *topics: str) -> None:
        for topic in topics:
            await self.bus.subscribe(topic)

    def seen(self, kind: str) -> list[Event]:
        return [e for _, e in self.events if e.kind == kind]


@pytest.fixture(params=["local", "grpc"])
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AdminEnv]:
    store = open_store(f"sqlite:///{tmp_path / 'chat.db'}")
    keys = load_or_create_keys(tmp_path)
    settings = AuthSettings()
    broker = MemoryBroker()
    caller_bus = MemoryBus(broker)
    local_bus = MemoryBus(broker)
    auth = LocalAuthService(
        store,
        local_bus,
        TokenIssuer(keys, settings),
        TokenVerifier(keys.public_pem, settings),
        settings,
    )
    local = LocalAdminService(store, local_bus, settings)
    server = None
    remote = None
    try:
        if request.param == "local":
            admin: AdminService = local
        else:
            server = await start_rpc_server(
                "auth", RpcSettings(service_token=TOKEN), "127.0.0.1:0", auth=auth, admin=local
            )
            remote = RemoteAdminService(
                f"127.0.0.1:{server.port}", RpcSettings(service_token=TOKEN)
            )
            admin = remote
        made = AdminEnv(admin, auth, store, caller_bus)
        caller_bus.set_handler(lambda topic, event: made.events.append((topic, event)))
        yield made
    finally:
        if remote is not None:
            await remote.close()
        if server is not None:
            await server.stop(None)
        await store.close()


async def test_a_user_who_is_not_a_server_admin_is_refused(env: AdminEnv) -> None:
    bob = await env.user("bob")
    with pytest.raises(Forbidden) as err:
        await env.admin.list_users(bob)
    assert err.value.code == "admin_required"
    for read in (  # the one-target reads the dry runs use are admin reads like the others
        env.admin.get_channel(bob, "ch_x"),
        env.admin.get_invite(bob, "code"),
        env.admin.get_session(bob, bob.session_id),
    ):
        with pytest.raises(Forbidden) as refused:
            await read
        assert refused.value.code == "admin_required"
    root = await env.root()
    await env.store.accounts.set_disabled(root.user_id, True)  # a disabled admin is refused too
    with pytest.raises(Forbidden):
        await env.admin.stats(root)


async def test_disable_ends_sessions_and_announces_it(env: AdminEnv) -> None:
    root = await env.root()
    bob = await env.user("bob")
    await env.watch(user_topic(bob.user_id))
    result = await env.admin.disable_user(root, "bob")
    assert result["user"]["disabled"] is True and result["sessions_revoked"] == 1
    revoked = env.seen("session.revoked")
    assert [e.data["session_ids"] for e in revoked] == [[bob.session_id]]
    session = await env.store.accounts.get_session(bob.session_id)
    assert session is not None and session.revoked_at is not None
    assert (await env.admin.enable_user(root, bob.user_id))["user"]["disabled"] is False
    with pytest.raises(InvalidRequest) as err:
        await env.admin.disable_user(root, "root")
    assert err.value.code == "self_target"


async def test_bad_input_changes_nothing(env: AdminEnv) -> None:
    root = await env.root()
    with pytest.raises(InvalidRequest) as err:
        await env.admin.create_user(root, "carol", "carol@example.com", "short")
    assert err.value.code == "invalid_password"
    with pytest.raises(NotFound) as missing:
        await env.admin.get_user(root, "nobody")
    assert missing.value.code == "user_not_found"
    users = await env.admin.list_users(root)
    assert [u["username"] for u in users["users"]] == ["root"]


async def test_delete_refuses_a_group_owner_then_soft_deletes(env: AdminEnv) -> None:
    root = await env.root()
    bob = await env.user("bob")
    group = await env.admin.create_group(root, "Hikers", owner="bob")
    with pytest.raises(Conflict) as err:
        await env.admin.delete_user(root, "bob")
    assert err.value.code == "user_owns_groups"
    assert (await env.admin.get_user(root, "bob"))["disabled"] is False  # untouched
    await env.admin.delete_group(root, group["id"])
    other = await env.admin.create_group(root, "Walkers", owner="root")
    await env.admin.add_member(root, other["id"], "bob")
    deleted = await env.admin.delete_user(root, "bob")
    assert deleted["groups_left"] == 1 and deleted["sessions_revoked"] == 1
    shown = await env.admin.get_user(root, bob.user_id)
    assert shown["disabled"] and shown["display_name"] == "deleted user" and shown["groups"] == []
    assert await env.store.accounts.find_user("bob") is not None  # the name stays taken
    with pytest.raises(InvalidCredentials):  # the password no longer works
        await env.auth.login("bob", PASSWORD)


async def test_group_members_channels_invites(env: AdminEnv) -> None:
    root = await env.root()
    bob = await env.user("bob")
    group = await env.admin.create_group(root, "Hikers", owner="root", description="walks")
    gid = group["id"]
    await env.watch(group_topic(gid), user_topic(bob.user_id))
    member = await env.admin.add_member(root, gid, "bob", role="admin")
    assert member["role"] == "admin"
    assert len(env.seen("member.joined")) == 2  # the group's topic and bob's own
    with pytest.raises(Conflict) as err:
        await env.admin.add_member(root, gid, "bob")
    assert err.value.code == "already_member"
    assert (await env.admin.set_role(root, gid, bob.user_id, "member"))["role"] == "member"
    with pytest.raises(Conflict) as owner:
        await env.admin.set_role(root, gid, "root", "member")
    assert owner.value.code == "owner_protected"
    channel = await env.admin.create_channel(root, gid, "general", topic="chat")
    renamed = await env.admin.rename_channel(root, channel["id"], "lobby")
    assert renamed["name"] == "lobby" and renamed["position"] == 1
    found = await env.admin.get_channel(root, channel["id"])
    assert found == {**renamed, "group": {"id": gid, "name": "Hikers"}}
    with pytest.raises(NotFound) as no_channel:
        await env.admin.get_channel(root, "ch_nope")
    assert no_channel.value.code == "channel_not_found"
    invite = await env.admin.create_invite(root, gid, max_uses=3)
    looked_up = await env.admin.get_invite(root, f" {invite['code']} ")
    assert looked_up == {**invite, "usable": True, "group": {"id": gid, "name": "Hikers"}}
    assert (await env.admin.revoke_invite(root, invite["code"]))["revoked"] is True
    assert (await env.admin.get_invite(root, invite["code"]))["usable"] is False
    with pytest.raises(NotFound) as no_invite:
        await env.admin.get_invite(root, "nope")
    assert no_invite.value.code == "invite_invalid"
    shown = await env.admin.get_group(root, gid)
    assert [m["username"] for m in shown["members"]] == ["root", "bob"]
    assert [c["name"] for c in shown["channels"]] == ["welcome", "lobby"]
    await env.admin.delete_channel(root, channel["id"])
    await env.admin.remove_member(root, gid, "bob")
    assert [e.kind for _, e in env.events if _ == group_topic(gid)][-3:] == [
        "channel.updated",
        "channel.deleted",
        "member.kicked",
    ]
    listed = await env.admin.list_groups(root, limit=1)
    assert [g["id"] for g in listed["groups"]] == [gid] and listed["next"] is None


async def test_sessions_and_stats(env: AdminEnv) -> None:
    root = await env.root()
    bob = await env.user("bob")
    await env.user("bob2")
    sessions = await env.admin.list_sessions(root, "bob", active=True)
    assert [s["id"] for s in sessions["sessions"]] == [bob.session_id]
    one = await env.admin.get_session(root, bob.session_id)
    assert one == {**sessions["sessions"][0], "username": "bob"}
    assert (await env.admin.revoke_session(root, bob.session_id))["revoked"] is True
    ended = await env.admin.get_session(root, bob.session_id)
    assert ended["active"] is False and ended["revoked_at"] is not None
    with pytest.raises(NotFound) as no_session:
        await env.admin.get_session(root, "s_nope")
    assert no_session.value.code == "session_not_found"
    assert (await env.admin.list_sessions(root, "bob", active=True))["sessions"] == []
    with pytest.raises(NotFound):
        await env.admin.revoke_session(root, "s_nope")
    stats = await env.admin.stats(root, days=2)
    assert (stats["users"], stats["groups"], stats["messages"]) == (3, 0, 0)
    assert [d["messages"] for d in stats["messages_per_day"]] == [0, 0]
    page = await env.admin.list_users(root, query="bob", limit=1)
    assert [u["username"] for u in page["users"]] == ["bob"] and page["next"] == bob.user_id
    rest = await env.admin.list_users(root, query="bob", after=page["next"])
    assert [u["username"] for u in rest["users"]] == ["bob2"] and rest["next"] is None


@pytest.mark.parametrize("env", ["grpc"], indirect=True)
async def test_grpc_checks_the_field_table(env: AdminEnv) -> None:
    assert isinstance(env.admin, RemoteAdminService)
    root = await env.root()
    request = admin_pb2.AdminCallRequest(op="admin.user.get", args_json=b'{"nope": 1}')
    with pytest.raises(InvalidRequest) as err:
        await env.admin.rpc.call("Call", request, admin_pb2.AdminCallReply, root)
    assert err.value.details.get("field") == "nope"
    unknown = admin_pb2.AdminCallRequest(op="admin.nothing", args_json=b"{}")
    with pytest.raises(InvalidRequest) as bad_op:
        await env.admin.rpc.call("Call", unknown, admin_pb2.AdminCallReply, root)
    assert bad_op.value.code == "unknown_op"
