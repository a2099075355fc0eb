"""A real ``nodechat serve`` process, real ChatClients, and the app under Pilot."""

from __future__ import annotations

import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from nodechat.client import ChatClient

NODECHAT = [sys.executable, "-m", "nodechat"]
PASSWORD = "correct horse 1"
_names = itertools.count(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """``nodechat serve`` on a fixed port and data dir, so it can be restarted in place."""

    def __init__(self, data_dir: Path, port: int | None = None, api_port: int = 0) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.api_port = api_port  # 0: a free one nobody is told of
        self.proc: subprocess.Popen[str] | None = None
        self.url = f"ws://127.0.0.1:{self.port}/"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                *NODECHAT,
                "serve",
                "--port",
                str(self.port),
                "--api-port",
                str(self.api_port),
                "--data-dir",
                str(self.data_dir),
            ],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if re.search(r"serving on ws://", line):
                return
        raise AssertionError(f"serve exited early with {self.proc.wait()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server for the Pilot tests (each test uses its own users)."""
    server = Served(tmp_path_factory.mktemp("serve") / "data")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class User:
    """A registered user with an authenticated ChatClient."""

    client: ChatClient
    tokens: dict[str, Any]
    ready: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.tokens["user"]["id"])

    @property
    def name(self) -> str:
        return str(self.tokens["user"]["username"])

    async def send(self, conversation: str, body: str, **extra: Any) -> dict[str, Any]:
        ack: dict[str, Any] = await self.client.request(
            "message.send",
            conversation=conversation,
            body=body,
            nonce=f"{self.name}-{next(_names)}",
            **extra,
        )
        return ack


async def new_user(url: str, prefix: str = "u") -> User:
    """Register a fresh user (unique name) and authenticate a connection."""
    name = f"{prefix}{next(_names)}x{os.getpid() % 10000}"
    client = await ChatClient.connect(url)
    tokens = await client.request(
        "auth.register", username=name, email=f"{name}@example.test", password=PASSWORD
    )
    ready = await client.authenticate(tokens["access_token"])
    return User(client, tokens, ready)


async def group_of(owner: User, *members: User, name: str = "Hikers") -> dict[str, Any]:
    """A group owned by ``owner`` that ``members`` joined; returns the group view."""
    group: dict[str, Any] = await owner.client.request("group.create", name=name)
    invite = await owner.client.request("invite.create", group_id=group["id"])
    for member in members:
        await member.client.request("group.join", code=invite["code"])
    return group


async def wait_for(
    pilot: Pilot[Any], condition: Callable[[], Any], what: str, timeout: float = 20.0
) -> None:
    """Let the app run until ``condition()`` holds (bounded; no timed assertions)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        await pilot.pause(0.05)
        if condition():
            return
    raise AssertionError(f"timed out waiting for {what}")
