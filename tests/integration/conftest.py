"""A real ``serve`` node on port 0 with a temporary data dir, and real WebSocket clients."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nodechat.client import ChatClient
from nodechat.config import load_settings
from nodechat.server.node import ChatNode

_names = itertools.count(1)


def make_settings(data_dir: Path, **socket: Any) -> Any:
    """Settings for a test node: port 0, its own data dir."""
    return load_settings(
        env={},
        overrides={
            "serve": {"host": "127.0.0.1", "port": 0, "api_port": 0, "data_dir": data_dir},
            "socket": socket,
        },
    )


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[ChatNode]:
    server = ChatNode(make_settings(tmp_path / "data"))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@dataclass
class Account:
    """A registered test user with a live, authenticated connection."""

    client: ChatClient
    user: dict[str, Any]
    tokens: dict[str, Any]
    ready: dict[str, Any]
    password: str

    @property
    def id(self) -> str:
        return str(self.user["id"])

    @property
    def notes(self) -> str:
        return f"self:{self.id}"


Signup = Callable[..., Awaitable[Account]]


@pytest.fixture
async def signup(node: ChatNode) -> AsyncIterator[Signup]:
    clients: list[ChatClient] = []

    async def _signup(name: str | None = None, *, password: str = "correct horse 1") -> Account:
        username = name or f"user{next(_names)}"
        client = await ChatClient.connect(node.url)
        clients.append(client)
        tokens = await client.request(
            "auth.register", username=username, email=f"{username}@example.test", password=password
        )
        ready = await client.authenticate(tokens["access_token"])
        return Account(client, tokens["user"], tokens, ready, password)

    yield _signup
    for client in clients:
        await client.close()


async def connect(
    node: ChatNode, account: Account, resume: dict[str, int] | None = None
) -> tuple[ChatClient, Any]:
    """A second connection for an existing account."""
    client = await ChatClient.connect(node.url)
    ready = await client.authenticate(account.tokens["access_token"], resume)
    return client, ready
