"""Bad servers and lost connections: plain-words messages, no crash, no traceback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from nodechat.chatclient.profiles import ProfileStore
from nodechat.tui.app import AutoLogin, ChatApp
from nodechat.tui.screens import LoginScreen
from tests.tui.conftest import free_port, wait_for

TOKENS = {
    "access_token": "a",
    "refresh_token": "r",
    "access_expires_at": 9_999_999_999_999,
    "session_id": "s_1",
    "user": {"id": "u_1", "username": "ann"},
}
GOOD_SNAPSHOT = {
    "session_id": "s_1",
    "user": {"id": "u_1", "username": "ann"},
    "groups": [],
    "conversations": [
        {"id": "self:u_1", "kind": "self", "last_seq": 0, "last_read_seq": 0, "unread": 0}
    ],
    "users": [],
    "online": ["u_1"],
    "resume": {},
}


def fake_server(
    snapshot: Any, after: Callable[[ServerConnection], Any] | None = None
) -> Callable[[ServerConnection], Any]:
    async def handler(ws: ServerConnection) -> None:
        await ws.send(
            json.dumps(
                {
                    "type": "hello",
                    "protocol": 1,
                    "auth_deadline": 30,
                    "heartbeat": 20,
                    "max_frame": 65536,
                }
            )
        )
        async for raw in ws:
            frame = json.loads(raw)
            data = (
                TOKENS
                if frame["op"] in ("auth.login", "auth.refresh")
                else snapshot
                if frame["op"] == "auth.authenticate"
                else {"messages": [], "has_more": False}
                if frame["op"] == "message.history"
                else {}
            )
            await ws.send(
                json.dumps({"type": "reply", "id": frame["id"], "ok": True, "data": data})
            )
            if frame["op"] == "auth.authenticate" and after is not None:
                await after(ws)

    return handler


@pytest.fixture
async def fake(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    async with serve(fake_server(*request.param), "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1] if server.sockets else 0
        yield f"ws://127.0.0.1:{port}/"


def app_at(url: str, tmp_path: Path) -> ChatApp:
    return ChatApp(
        url,
        "p",
        ProfileStore(tmp_path),
        auto=AutoLogin("ann", "long password"),
        notifier=lambda t, b: None,
        backoff=(0.1, 0.2),
    )


def login_error(app: ChatApp) -> str:
    return app.screen.error if isinstance(app.screen, LoginScreen) else ""


async def test_unreachable_server_is_said_in_plain_words(tmp_path: Path) -> None:
    app = app_at(f"ws://127.0.0.1:{free_port()}/", tmp_path)
    async with app.run_test() as pilot:
        await wait_for(
            pilot,
            lambda: "cannot reach the server" in login_error(app),
            "the login screen with the reason",
        )


@pytest.mark.parametrize("fake", [({"user": {"id": "u_1"}, "groups": "garbage"},)], indirect=True)
async def test_unreadable_snapshot_is_refused_politely(fake: str, tmp_path: Path) -> None:
    app = app_at(fake, tmp_path)
    async with app.run_test() as pilot:
        await wait_for(
            pilot,
            lambda: "could not be read" in login_error(app),
            "the login screen with the reason",
        )


async def _garbage_then_close(ws: ServerConnection) -> None:
    await ws.send(
        json.dumps({"type": "event", "event": "message.created", "data": {"conversation": 5}})
    )
    await ws.send(json.dumps({"type": "event", "event": "no.such.event", "data": [1]}))
    await ws.send(json.dumps({"type": "event", "event": "presence", "data": None}))
    await ws.send("this is not JSON")


@pytest.mark.parametrize("fake", [(GOOD_SNAPSHOT, _garbage_then_close)], indirect=True)
async def test_garbage_frames_lead_to_a_reconnect_not_a_crash(fake: str, tmp_path: Path) -> None:
    app = app_at(fake, tmp_path)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: app.session.reconnects >= 1, "a reconnect")
        await wait_for(pilot, lambda: app.session.status == "online", "online again")
        assert app.is_running and app.screen is app.main
