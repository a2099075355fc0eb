"""``nodechat admin bench-accounts``: bulk accounts on a running ``serve`` node's store; their
tokens authenticate, no password logs in, a second run reuses everything."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from nodechat.client import ChatClient, RequestFailed
from nodechat.server.node import ChatNode
from nodechat.services import passwords
from nodechat.storage import open_store
from tests.cli.conftest import PASSWORD, Cli


async def bench_accounts(cli: Cli, data: Path, *args: str) -> Result:
    """``nodechat admin bench-accounts --data-dir DATA *args`` in a worker thread."""
    return await cli.run_async("admin", "bench-accounts", "--data-dir", str(data), *args)


async def provisioned(cli: Cli, data: Path, out: Path, *args: str) -> dict[str, Any]:
    result = await bench_accounts(cli, data, "--out", str(out), *args)
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert result.stdout == ""  # the JSON went to the file
    loaded: dict[str, Any] = json.loads(out.read_text())
    return loaded


async def store_counts(cli: Cli) -> tuple[int, int, int]:
    """(users, memberships, sessions) in the CLI's store."""
    store = open_store(cli.store)
    try:
        return (
            await store.count_rows("users"),
            await store.count_rows("members"),
            await store.count_rows("sessions"),
        )
    finally:
        await store.close()


async def ready(node: ChatNode, token: str) -> dict[str, Any]:
    client = await ChatClient.connect(node.url)
    try:
        snapshot: dict[str, Any] = await client.authenticate(token)
        return snapshot
    finally:
        await client.close()


async def test_accounts_groups_and_tokens_that_authenticate(
    cli: Cli, node: ChatNode, tmp_path: Path
) -> None:
    data, out = tmp_path / "data", tmp_path / "bench.json"
    made = await provisioned(cli, data, out, "--count", "30", "--groups", "3", "--ttl", "600")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # it holds tokens
    assert set(made) == {"groups", "accounts"}
    assert len(made["groups"]) == 3 and len(made["accounts"]) == 30
    for i, account in enumerate(made["accounts"]):
        assert set(account) == {"user_id", "username", "group_id", "channel_id", "access_token"}
        assert account["username"] == f"bench-{i:06d}"
        assert account["group_id"] == made["groups"][i % 3]["group_id"]
        assert account["channel_id"] == made["groups"][i % 3]["channel_id"]
    snapshots = await asyncio.gather(*(ready(node, a["access_token"]) for a in made["accounts"]))
    for i, snapshot in enumerate(snapshots):
        assert snapshot["user"]["username"] == f"bench-{i:06d}"
        groups = {g["id"]: g for g in snapshot["groups"]}
        assert made["accounts"][i]["group_id"] in groups
        channels = [c["id"] for c in groups[made["accounts"][i]["group_id"]]["channels"]]
        assert made["accounts"][i]["channel_id"] in channels
    owner = {g["id"]: g["name"] for g in snapshots[0]["groups"]}  # account 0 owns them all
    assert sorted(owner.values()) == ["bench-g0", "bench-g1", "bench-g2"]


async def test_no_password_logs_in_and_registration_cannot_take_the_names(
    cli: Cli, node: ChatNode, tmp_path: Path
) -> None:
    await provisioned(cli, tmp_path / "data", tmp_path / "b.json", "--count", "3")
    store = open_store(cli.store)
    try:
        found = await store.bulk.find_users(["bench-000000", "bench-000001", "bench-000002"])
    finally:
        await store.close()
    assert len({h for _, h in found}) == 1  # one shared value
    assert all(passwords.is_bench_hash(h) for _, h in found)
    client = await ChatClient.connect(node.url)
    try:
        with pytest.raises(RequestFailed) as err:
            await client.request("auth.login", login="bench-000001", password=PASSWORD)
        assert err.value.code == "invalid_credentials"
        with pytest.raises(RequestFailed) as err:
            await client.request(
                "auth.register", username="bench-000001", email="x@example.test", password=PASSWORD
            )
        assert err.value.code == "username_taken"
    finally:
        await client.close()


async def test_a_second_run_creates_nothing_but_new_sessions(
    cli: Cli, node: ChatNode, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    first = await provisioned(cli, data, tmp_path / "1.json", "--count", "25", "--groups", "2")
    users, members, sessions = await store_counts(cli)
    assert (users, members, sessions) == (25, 25 + 1, 25)  # account 0 owns both groups
    result = await bench_accounts(cli, data, "--count", "25", "--groups", "2")
    assert result.exit_code == 0, result.stderr
    second = json.loads(result.stdout)  # no --out: stdout
    assert "25 (0 new), 2 group(s) (0 new), 0 new memberships" in result.stderr
    assert await store_counts(cli) == (25, 26, 50)
    assert second["groups"] == first["groups"]
    assert [a["user_id"] for a in second["accounts"]] == [a["user_id"] for a in first["accounts"]]
    assert second["accounts"][4]["access_token"] != first["accounts"][4]["access_token"]
    for made in (first, second):  # both runs' sessions are live
        assert (await ready(node, made["accounts"][4]["access_token"]))["user"]["username"] == (
            "bench-000004"
        )
    grown = await provisioned(cli, data, tmp_path / "3.json", "--count", "30", "--groups", "2")
    assert grown["groups"] == first["groups"]
    assert (await store_counts(cli))[:2] == (30, 31)


async def test_an_ordinary_account_with_a_bench_name_is_never_taken_over(
    cli: Cli, node: ChatNode, tmp_path: Path
) -> None:
    client = await ChatClient.connect(node.url)
    try:
        await client.request(
            "auth.register", username="load-000001", email="ann@example.test", password=PASSWORD
        )
    finally:
        await client.close()
    result = await bench_accounts(cli, tmp_path / "data", "--count", "3", "--prefix", "load")
    assert result.exit_code == 1
    assert "error: not_a_bench_account: load-000001" in result.stderr
    assert result.stdout == ""
    assert (await store_counts(cli))[0] == 1  # nothing was created


def test_a_data_dir_without_a_store_or_key_is_not_found(cli: Cli, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    run = ("admin", "bench-accounts", "--count", "2", "--data-dir", str(empty))
    result = cli.run(*run)
    assert result.exit_code == 3
    assert "error: store_not_found:" in result.stderr
    assert not (empty / "nodechat.db").exists()
    cli.create_user("root")  # the store exists now, the key still does not
    keyless = cli.run(*run, "--store", cli.store)
    assert keyless.exit_code == 3
    assert "error: keys_missing:" in keyless.stderr


def test_bad_values_are_usage_errors(cli: Cli, tmp_path: Path) -> None:
    for args in (
        ["--count", "0"],
        ["--count", "2", "--groups", "3"],
        ["--count", "2", "--prefix", "Bad!"],
    ):
        result = cli.run("admin", "bench-accounts", "--data-dir", str(tmp_path), *args)
        assert result.exit_code == 2, (args, result.stderr)
