"""Render SVG screenshots of ``nodechat chat`` into ``docs/screenshots/``.

    python scripts/screenshots.py            # writes docs/screenshots/*.svg
    python scripts/screenshots.py --out DIR

Starts a real ``nodechat serve`` on a free port with a temporary data dir,
seeds two users, a group with text and voice channels, a mention, a reply and a
direct message, then drives the app with ``App.run_test`` (80x24, the smallest
supported size, and 100x30) and saves each screen with ``save_screenshot``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nodechat.chatclient.profiles import ProfileStore  # noqa: E402
from nodechat.client import ChatClient  # noqa: E402
from nodechat.tui.app import AutoLogin, ChatApp  # noqa: E402
from nodechat.tui.screens import LoginScreen  # noqa: E402
from nodechat.tui.widgets import ComposeArea, MessageList  # noqa: E402

PASSWORD = "correct horse 1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nodechat",
            "serve",
            "--port",
            str(free_port()),
            "--api-port",
            "0",
            "--data-dir",
            str(data_dir),
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        match = re.search(r"serving on (ws://\S+)", line)
        if match:
            return proc, match.group(1)
    raise SystemExit(f"serve exited early with {proc.wait()}")


async def user(url: str, name: str) -> ChatClient:
    client = await ChatClient.connect(url)
    tokens = await client.request(
        "auth.register", username=name, email=f"{name}@example.org", password=PASSWORD
    )
    await client.authenticate(tokens["access_token"])
    return client


async def seed(url: str) -> dict[str, Any]:
    """Ann (the client), Bob and Cat; a group with history, a mention, a DM."""
    ann, bob, cat = [await user(url, n) for n in ("ann", "bob", "cat")]
    group = await bob.request("group.create", name="Hikers", description="Weekend walks")
    invite = await bob.request("invite.create", group_id=group["id"])
    for member in (ann, cat):
        await member.request("group.join", code=invite["code"])
    welcome = group["channels"][0]["id"]
    general = (await bob.request("channel.create", group_id=group["id"], name="general"))["id"]
    await bob.request("channel.create", group_id=group["id"], name="campfire", kind="voice")
    n = 0

    async def say(client: ChatClient, conv: str, body: str, **extra: Any) -> dict[str, Any]:
        nonlocal n
        n += 1
        ack: dict[str, Any] = await client.request(
            "message.send", conversation=conv, body=body, nonce=f"s{n}", **extra
        )
        return ack

    plan = await say(bob, welcome, "Welcome to Hikers! Routes are on https://example.org/routes")
    await say(cat, welcome, "Saturday: Ridge loop, 14 km. Who is in?")
    await say(ann, welcome, "Count me in!", reply_to=plan["id"])
    await say(cat, welcome, "Bring water, the spring on the ridge is dry this month.")
    await bob.request("read.mark", conversation=welcome, seq=4)
    await say(bob, general, "Has anyone tried the new boots from the shop?")
    await say(bob, general, "Car pool leaves at 8:00 from the station")
    dm = await bob.request(
        "dm.open", user_id=(await bob.request("user.find", username="ann"))["id"]
    )
    await say(bob, dm["id"], "Can you bring the spare headlamp?")
    return {"clients": (ann, bob, cat), "welcome": welcome, "general": general, "say": say}


async def settle(pilot: Any, condition: Callable[[], bool], limit: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while not condition() and loop.time() < end:
        await pilot.pause(0.05)
    await pilot.pause(0.3)


async def shoot(url: str, seeded: dict[str, Any], out: Path, config: Path) -> list[Path]:
    written: list[Path] = []

    def save(app: ChatApp, name: str) -> None:
        written.append(Path(app.save_screenshot(f"{name}.svg", str(out))))

    login = ChatApp(url, "shots-login", ProfileStore(config), notifier=lambda t, b: None)
    async with login.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: isinstance(login.screen, LoginScreen))
        await pilot.press(*"ann")
        save(login, "login")

    app = ChatApp(
        url,
        "shots",
        ProfileStore(config),
        auto=AutoLogin("ann", PASSWORD),
        notifier=lambda t, b: None,
    )
    async with app.run_test(size=(100, 30)) as pilot:
        welcome = seeded["welcome"]
        await settle(
            pilot,
            lambda: app.active == welcome and bool(app.session.state.conversations[welcome].loaded),
        )
        _, bob, cat = seeded["clients"]
        say, general = seeded["say"], seeded["general"]
        await say(cat, general, "@ann you wanted the map of the ridge, here it is")
        await say(bob, welcome, "@ann can you lead on Saturday? I will be at the back")
        await bob.request("typing", conversation=welcome)
        await settle(pilot, lambda: app.session.state.conversations[general].mentions == 1)
        app.main.query_one("#members-panel").display = True
        await pilot.pause(0.3)
        save(app, "main")

        view = app.main.query_one(MessageList)
        view.focus()
        view.highlighted = 1
        await pilot.press("r")
        await pilot.press(*"Great, see you at the station @b", "tab")
        await pilot.pause(0.3)
        save(app, "reply-compose")

        app.main.query_one(ComposeArea).load_text("")
        await pilot.press("escape")
        await pilot.press("f1")
        await pilot.pause(0.3)
        save(app, "help")
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*"open")
        await pilot.pause(0.5)
        save(app, "command-palette")
        await pilot.press("escape")
        await app.session.close()

    small = ChatApp(url, "shots", ProfileStore(config), notifier=lambda t, b: None)
    async with small.run_test(size=(80, 24)) as pilot:
        await settle(
            pilot,
            lambda: (
                small.active is not None
                and bool(small.session.state.conversations[small.active].loaded)
            ),
        )
        save(small, "main-80x24")
        await small.session.close()
    return written


async def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = serve(Path(tmp) / "data")
        try:
            seeded = await seed(url)
            for path in await shoot(url, seeded, out, Path(tmp) / "profiles"):
                print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
            for client in seeded["clients"]:
                await client.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.communicate(timeout=20)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    asyncio.run(main(parser.parse_args().out))
