"""``nodechat admin`` against the split deployment: the socket node forwards admin.* ops to
the auth role over gRPC (AdminService.Call); their events come back and reach Redis."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from nodechat.client import ChatClient
from tests.cli.conftest import PASSWORD, Cli
from tests.e2e.cluster import start_split


async def test_admin_cli_through_the_auth_role(tmp_path: Path, redis_url: str) -> None:
    cluster = start_split(tmp_path / "data", sockets=1, redis=redis_url)
    bob: ChatClient | None = None
    try:
        socket_url = cluster.socket("socket1")
        cli = Cli(tmp_path / "config" / "admin.json", cluster.env["NODECHAT_STORE"], socket_url)
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
            socket_url,
            "--user",
            "root",
            "--password-stdin",
            input=PASSWORD + "\n",
        )
        assert login.exit_code == 0, login.stderr

        bob = await ChatClient.connect(socket_url)
        tokens = await bob.request(
            "auth.register", username="bob", email="bob@example.test", password=PASSWORD
        )
        await bob.authenticate(tokens["access_token"])

        listed = await cli.online("users", "list", "--json")
        assert listed.exit_code == 0, listed.stderr
        assert sorted(u["username"] for u in json.loads(listed.stdout)["users"]) == ["bob", "root"]
        stats = json.loads((await cli.online("stats", "--json")).stdout)
        assert stats["users"] == 2
        # bob's and the CLI's connection, on the one socket node (from Redis presence)
        assert [n["connections"] for n in stats["online"].values()] == [2]

        disabled = await cli.online("users", "disable", "bob", "--yes")
        assert disabled.exit_code == 0, disabled.stderr
        await asyncio.wait_for(bob.ws.wait_closed(), 10)
        assert bob.ws.close_code == 4001  # session.revoked: auth role -> trailer -> Redis

        missing = await cli.online("users", "show", "ghost")
        assert missing.exit_code == 3 and "user_not_found" in missing.stderr
    finally:
        if bob is not None:
            await bob.close()
        cluster.stop()
