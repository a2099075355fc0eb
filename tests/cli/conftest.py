"""Drive ``nodechat admin`` through typer's CliRunner, offline on a SQLite store and online
against a real ``serve`` node (in this process, on port 0).

A CLI command runs its own event loop (``asyncio.run``), so online tests run it in a
worker thread (:func:`Cli.run_async`) while the test's loop serves the node and holds
real WebSocket clients.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from nodechat.cli import app
from nodechat.server.node import ChatNode
from tests.integration.conftest import make_settings

PASSWORD = "a long passphrase"
_names = itertools.count(1)


@dataclass
class Cli:
    """``nodechat`` with a private credential file; remembers a store and a server."""

    credentials: Path
    store: str
    server: str = ""

    def run(
        self, *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> Result:
        """Invoke ``nodechat *args`` (stdout and stderr kept apart)."""
        full_env = {
            "NODECHAT_ADMIN_CREDENTIALS": str(self.credentials),
            "NODECHAT_ADMIN_STORE": "",
            "NODECHAT_ADMIN_SERVER": "",
            "NO_COLOR": "",
            "FORCE_COLOR": "",
            **(env or {}),
        }
        return CliRunner().invoke(app, list(args), input=input, env=full_env)

    def offline(self, *args: str, input: str | None = None) -> Result:
        """``nodechat admin *args --store <store>``."""
        return self.run("admin", *args, "--store", self.store, input=input)

    def json(self, *args: str, input: str | None = None) -> Any:
        """An offline command's ``--json`` output, parsed (it must succeed)."""
        result = self.offline(*args, "--json", input=input)
        assert result.exit_code == 0, (args, result.exit_code, result.stderr, result.exception)
        return json.loads(result.stdout)

    async def run_async(self, *args: str, input: str | None = None) -> Result:
        """:meth:`run` in a worker thread, so this loop keeps serving."""
        return await asyncio.to_thread(self.run, *args, input=input)

    async def online(self, *args: str, input: str | None = None) -> Result:
        """``nodechat admin *args --server <server>`` in a worker thread."""
        return await self.run_async("admin", *args, "--server", self.server, input=input)

    def create_user(self, name: str, *, admin: bool = False) -> dict[str, Any]:
        """Create an account offline (the bootstrap path)."""
        flags = ["--admin"] if admin else []
        result: dict[str, Any] = self.json(
            "users",
            "create",
            name,
            "--email",
            f"{name}@example.test",
            *flags,
            "--password-stdin",
            input=PASSWORD + "\n",
        )
        return result


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """A CLI over an empty SQLite store in ``tmp_path``."""
    (tmp_path / "data").mkdir(exist_ok=True)
    return Cli(tmp_path / "config" / "admin.json", f"sqlite:///{tmp_path / 'data' / 'nodechat.db'}")


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[ChatNode]:
    """A real ``serve`` node on port 0 whose store is the ``cli`` fixture's store."""
    (tmp_path / "data").mkdir(exist_ok=True)
    server = ChatNode(make_settings(tmp_path / "data"))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def unique(prefix: str = "user") -> str:
    """A fresh username."""
    return f"{prefix}{next(_names)}"
