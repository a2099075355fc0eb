"""``nodechat admin`` online: against a real ``serve`` node, with a saved admin login."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import AsyncIterator

import pytest

from nodechat.client import ChatClient, RequestFailed
from nodechat.server.node import ChatNode
from tests.cli.conftest import PASSWORD, Cli

CLOSE_REVOKED = 4001


@pytest.fixture
async def root(cli: Cli, node: ChatNode) -> Cli:
    """The CLI logged in to ``node`` as a server admin made offline (the bootstrap path)."""
    cli.server = node.url
    made = await cli.run_async(
        "admin",
        "users",
        "create",
        "root",
        "--email",
        "root@example.test",
        "--admin",
        "--password-stdin",
        "--store",
        cli.store,
        input=PASSWORD + "\n",
    )
    assert made.exit_code == 0, made.stderr
    login = await cli.run_async(
        "admin",
        "login",
        "--server",
        node.url,
        "--user",
        "root",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert login.exit_code == 0, login.stderr
    return cli


@pytest.fixture
async def clients() -> AsyncIterator[list[ChatClient]]:
    opened: list[ChatClient] = []
    yield opened
    for client in opened:
        await client.close()


async def register(node: ChatNode, clients: list[ChatClient], name: str) -> ChatClient:
    """A user with a live, authenticated connection."""
    client = await ChatClient.connect(node.url)
    clients.append(client)
    tokens = await client.request(
        "auth.register", username=name, email=f"{name}@example.test", password=PASSWORD
    )
    await client.authenticate(tokens["access_token"])
    return client


async def test_login_saves_a_private_credential_that_later_commands_use(
    root: Cli, node: ChatNode, clients: list[ChatClient]
) -> None:
    saved = json.loads(root.credentials.read_text())
    assert stat.S_IMODE(root.credentials.stat().st_mode) == 0o600
    assert saved["default"] == node.url and PASSWORD not in root.credentials.read_text()
    await register(node, clients, "bob")
    # No --server: the server of the last login.
    result = await root.run_async("admin", "users", "list", "--json")
    assert result.exit_code == 0, result.stderr
    assert sorted(u["username"] for u in json.loads(result.stdout)["users"]) == ["bob", "root"]


async def test_a_server_flag_beats_an_exported_store_variable(root: Cli, node: ChatNode) -> None:
    # The operator's shell exports NODECHAT_ADMIN_STORE; --server still means online.
    result = await asyncio.to_thread(
        root.run,
        "admin",
        "stats",
        "--server",
        node.url,
        "--json",
        env={"NODECHAT_ADMIN_STORE": root.store},
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["online"] is not None  # only known online


async def test_an_expired_access_token_is_refreshed_and_saved(root: Cli) -> None:
    saved = json.loads(root.credentials.read_text())
    entry = saved["servers"][root.server]
    entry["access_expires_at"] = 0
    root.credentials.write_text(json.dumps(saved))
    result = await root.online("users", "show", "root", "--json")
    assert result.exit_code == 0, result.stderr
    fresh = json.loads(root.credentials.read_text())["servers"][root.server]
    assert fresh["refresh_token"] != entry["refresh_token"]
    assert fresh["access_expires_at"] > 0


async def test_a_user_who_is_not_an_admin_gets_exit_4(
    cli: Cli, node: ChatNode, clients: list[ChatClient]
) -> None:
    bob = await register(node, clients, "bob")
    with pytest.raises(RequestFailed) as err:  # the op itself, on the wire
        await bob.request("admin.user.list")
    assert err.value.code == "admin_required"
    login = await cli.run_async(
        "admin",
        "login",
        "--server",
        node.url,
        "--user",
        "bob",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert login.exit_code == 4
    assert login.stderr.startswith("error: admin_required: ")
    assert not cli.credentials.exists()


async def test_an_admin_whose_rights_were_revoked_gets_exit_4(root: Cli) -> None:
    revoked = await root.run_async(
        "admin", "users", "revoke-admin", "root", "--yes", "--store", root.store
    )
    assert revoked.exit_code == 0, revoked.stderr
    result = await root.online("stats")
    assert result.exit_code == 4
    assert result.stderr.startswith("error: admin_required: ")


async def test_disabling_a_user_closes_their_live_connection(
    root: Cli, node: ChatNode, clients: list[ChatClient]
) -> None:
    bob = await register(node, clients, "bob")
    result = await root.online("users", "disable", "bob", "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["sessions_revoked"] == 1
    await asyncio.wait_for(bob.ws.wait_closed(), 10)
    assert bob.ws.close_code == CLOSE_REVOKED
    again = await ChatClient.connect(node.url)
    clients.append(again)
    with pytest.raises(RequestFailed) as err:
        await again.request("auth.login", login="bob", password=PASSWORD)
    assert err.value.code == "account_disabled"


async def test_refused_confirmation_keeps_the_group_and_yes_deletes_it(
    root: Cli, node: ChatNode, clients: list[ChatClient]
) -> None:
    bob = await register(node, clients, "bob")
    made = await root.online("groups", "create", "Hikers", "--json")
    assert made.exit_code == 0, made.stderr
    gid = json.loads(made.stdout)["id"]
    added = await root.online("groups", "add-member", gid, "bob")
    assert added.exit_code == 0, added.stderr
    joined = await bob.next_event("member.joined")  # live clients follow admin changes
    assert joined["data"]["group_id"] == gid
    refused = await root.online("groups", "delete", gid, input="n\n")
    assert refused.exit_code == 1 and "error: aborted:" in refused.stderr
    listed = await root.online("groups", "list", "--json")
    assert [g["id"] for g in json.loads(listed.stdout)["groups"]] == [gid]
    deleted = await root.online("groups", "delete", gid, "--yes")
    assert deleted.exit_code == 0, deleted.stderr
    gone = await bob.next_event("group.deleted")
    assert gone["data"] == {"group_id": gid}
    missing = await root.online("groups", "show", gid)
    assert missing.exit_code == 3 and "group_not_found" in missing.stderr


async def test_stats_count_messages_today_and_connections(
    root: Cli, node: ChatNode, clients: list[ChatClient]
) -> None:
    bob = await register(node, clients, "bob")
    me = (await bob.request("user.get"))["id"]
    await bob.request("message.send", conversation=f"self:{me}", body="hello", nonce="n1")
    result = await root.online("stats", "--json", "--days", "2")
    assert result.exit_code == 0, result.stderr
    stats = json.loads(result.stdout)
    assert (stats["users"], stats["messages"]) == (2, 1)
    assert [d["messages"] for d in stats["messages_per_day"]] == [0, 1]
    # bob's connection and the CLI's own, on the one node of serve
    assert list(stats["online"].values()) == [{"connections": 2, "users": 2}]


async def test_sessions_list_and_revoke(
    root: Cli, node: ChatNode, clients: list[ChatClient]
) -> None:
    bob = await register(node, clients, "bob")
    listed = await root.online("sessions", "list", "bob", "--active", "--json")
    sessions = json.loads(listed.stdout)["sessions"]
    assert len(sessions) == 1
    dry = await root.online("sessions", "revoke", sessions[0]["id"], "--dry-run", "--json")
    assert dry.exit_code == 0, dry.stderr
    assert json.loads(dry.stdout)["target"]["username"] == "bob"
    assert "would end session" in dry.stderr and bob.ws.close_code is None
    revoked = await root.online("sessions", "revoke", sessions[0]["id"], "--yes")
    assert revoked.exit_code == 0, revoked.stderr
    await asyncio.wait_for(bob.ws.wait_closed(), 10)
    assert bob.ws.close_code == CLOSE_REVOKED


async def test_logout_ends_the_session_and_forgets_it(root: Cli) -> None:
    result = await root.run_async("admin", "logout")
    assert result.exit_code == 0, result.stderr
    assert json.loads(root.credentials.read_text())["servers"] == {}
    after = await root.online("users", "list")
    assert after.exit_code == 4 and after.stderr.startswith("error: not_logged_in: ")
    sessions = await root.run_async(
        "admin", "sessions", "list", "root", "--active", "--json", "--store", root.store
    )
    assert json.loads(sessions.stdout)["sessions"] == []


async def test_a_revoked_saved_session_exits_4(root: Cli) -> None:
    session_id = json.loads(root.credentials.read_text())["servers"][root.server]["session_id"]
    revoked = await root.run_async(
        "admin", "sessions", "revoke", session_id, "--yes", "--store", root.store
    )
    assert revoked.exit_code == 0, revoked.stderr
    result = await root.online("users", "list")
    assert result.exit_code == 4
    assert result.stderr.startswith("error: session_revoked: ")
