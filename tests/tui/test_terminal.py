"""Two ``nodechat chat`` processes in real terminals (tmux) and a ``nodechat serve``."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tui.conftest import PASSWORD, Served, group_of, new_user

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[list[str]]:
    """A private tmux server (its own socket); missing tmux fails in CI, skips locally."""
    exe = shutil.which("tmux")
    if exe is None:
        if IN_CI:
            pytest.fail("tmux is required in CI (.ci/run installs it) and is not installed")
        pytest.skip("tmux is not installed")
    command = [exe, "-u", "-S", str(tmp_path / "tmux.sock")]  # -u: UTF-8 whatever the locale
    yield command
    subprocess.run([*command, "kill-server"], capture_output=True, check=False)


def screen(tmux: list[str], name: str) -> str:
    out = subprocess.run(
        [*tmux, "capture-pane", "-p", "-t", name], capture_output=True, text=True, check=False
    )
    return out.stdout


def wait_screen(tmux: list[str], name: str, needle: str, timeout: float = 30.0) -> str:
    """Poll the pane until ``needle`` shows (bounded)."""
    end = time.monotonic() + timeout
    text = ""
    while time.monotonic() < end:
        text = screen(tmux, name)
        if needle in text:
            return text
        time.sleep(0.2)
    raise AssertionError(f"{needle!r} never appeared on {name}'s screen:\n{text}")


def wait_gone(tmux: list[str], name: str, needle: str, timeout: float = 30.0) -> None:
    """Poll the pane until ``needle`` no longer shows (bounded)."""
    end = time.monotonic() + timeout
    text = screen(tmux, name)
    while needle in text and time.monotonic() < end:
        time.sleep(0.2)
        text = screen(tmux, name)
    if needle in text:
        raise AssertionError(f"{needle!r} stayed on {name}'s screen:\n{text}")


def start_chat(
    tmux: list[str],
    name: str,
    url: str,
    username: str | None,
    home: Path,
    size: tuple[int, int] = (100, 30),
    **extra: str,
) -> None:
    env = {
        "XDG_CONFIG_HOME": str(home),
        "NODECHAT_PASSWORD": PASSWORD,
        "TERM": "xterm-256color",
        "PYTHONPATH": os.getcwd(),
        **extra,
    }
    command = " ".join(
        [
            *(f"{k}={shlex.quote(v)}" for k, v in env.items()),
            shlex.quote(sys.executable),
            "-m",
            "nodechat",
            "chat",
            "--server",
            shlex.quote(url),
            *(("--username", shlex.quote(username)) if username else ()),
        ]
    )
    width, height = size
    subprocess.run(
        [*tmux, "new-session", "-d", "-s", name, "-x", str(width), "-y", str(height), command],
        check=True,
    )
    subprocess.run([*tmux, "set-option", "-t", name, "remain-on-exit", "on"], check=False)


async def test_two_terminal_clients_chat(tmux: list[str], tmp_path: Path) -> None:
    served = Served(tmp_path / "data")
    served.start()
    try:
        ann, bob = await new_user(served.url, "ann"), await new_user(served.url, "bob")
        await group_of(ann, bob, name="Terminals")
        await ann.client.close()
        await bob.client.close()

        editor = tmp_path / "editor.sh"  # an "editor" that writes the message and quits
        editor.write_text('printf "written in an editor" > "$1"\n', encoding="utf-8")
        start_chat(tmux, "ann", served.url, ann.name, tmp_path / "ann", VISUAL=f"sh {editor}")
        start_chat(tmux, "bob", served.url, bob.name, tmp_path / "bob")
        for name in ("ann", "bob"):
            wait_screen(tmux, name, " online ")
            wait_screen(tmux, name, "welcome")

        subprocess.run(
            [*tmux, "send-keys", "-t", "ann", "-l", "hello from a real terminal"], check=True
        )
        subprocess.run([*tmux, "send-keys", "-t", "ann", "Enter"], check=True)
        text = wait_screen(tmux, "bob", "hello from a real terminal")
        assert f"{ann.name}: hello from a real terminal" in text

        # Ctrl+G composes in $VISUAL/$EDITOR (the terminal is handed over and back)
        subprocess.run([*tmux, "send-keys", "-t", "ann", "C-g"], check=True)
        wait_screen(tmux, "ann", "written in an editor")  # back in the compose box
        subprocess.run([*tmux, "send-keys", "-t", "ann", "Enter"], check=True)
        wait_screen(tmux, "bob", f"{ann.name}: written in an editor")

        # the login was remembered: a refresh token in a 0600 profile file
        profile = tmp_path / "ann" / "nodechat" / "profiles" / "default.json"
        assert profile.stat().st_mode & 0o777 == 0o600
        subprocess.run([*tmux, "send-keys", "-t", "bob", "C-q"], check=True)
    finally:
        served.stop()


def keys(tmux: list[str], name: str, *keys: str, literal: bool = False) -> None:
    """Type into the pane: key names (Enter, BTab, C-t…) or, with ``literal``, text."""
    flags = ["-l"] if literal else []
    subprocess.run([*tmux, "send-keys", "-t", name, *flags, *keys], check=True)


async def test_a_keyboard_only_day_at_80x24(tmux: list[str], tmp_path: Path) -> None:
    served = Served(tmp_path / "data")
    served.start()
    try:
        ann, bob = await new_user(served.url, "ann"), await new_user(served.url, "bob")
        group = await group_of(bob, ann, name="Daily")
        general = (
            await bob.client.request("channel.create", group_id=group["id"], name="general")
        )["id"]
        await bob.send(general, "morning all")
        mention = await bob.send(general, f"@{ann.name} the plan: https://example.org/plan")
        await bob.send(general, "see you there")
        await ann.client.close()
        opened = tmp_path / "opened.txt"
        browser = tmp_path / "browser.sh"  # what "open in the browser" ran, written down
        browser.write_text(f'printf "%s" "$1" > {shlex.quote(str(opened))}\n', encoding="utf-8")

        # no --username, no saved profile: the login screen, filled in from the keyboard
        start_chat(
            tmux,
            "ann",
            served.url,
            None,
            tmp_path / "ann",
            size=(80, 24),
            NODECHAT_PASSWORD="",
            BROWSER=f"sh {browser} %s",
        )
        wait_screen(tmux, "ann", "password")
        # typed without a pause, as a fast typist or a paste does: Tab must move the
        # focus before the next characters are handed out
        keys(tmux, "ann", f"{ann.name}\t{PASSWORD}", literal=True)
        wait_screen(tmux, "ann", "•" * len(PASSWORD))  # in the password field
        keys(tmux, "ann", "Enter")
        text = wait_screen(tmux, "ann", " online ")
        wait_screen(tmux, "ann", "general 3 @1")  # unread and mention counters
        assert "F1 help" in text

        keys(tmux, "ann", "C-t")  # triage: the conversation that mentions me, at the new line
        text = wait_screen(tmux, "ann", " new ")
        assert text.index(" new ") < text.index("morning all") < text.index("see you there")

        keys(tmux, "ann", "BTab")  # to the messages, on purpose; the first unread is selected
        wait_screen(tmux, "ann", "on a message")
        keys(tmux, "ann", "Down", "r")
        wait_screen(tmux, "ann", f"replying to {bob.name}")
        keys(tmux, "ann", "on my way", literal=True)
        keys(tmux, "ann", "Enter")
        event = await bob.client.next_event("message.created", timeout=20)
        while event["data"]["author_id"] != ann.id:
            event = await bob.client.next_event("message.created", timeout=20)
        assert event["data"]["body"] == "on my way"
        assert event["data"]["reply_to"] == mention["id"]

        keys(tmux, "ann", "C-f")  # search the server
        wait_screen(tmux, "ann", "search everything")
        keys(tmux, "ann", "zebra", literal=True)
        keys(tmux, "ann", "Enter")
        wait_screen(tmux, "ann", "No message matches")
        keys(tmux, "ann", "q")  # close the empty results (q: no Esc, see below)
        wait_gone(tmux, "ann", "No message matches")  # closed, focus back in compose
        keys(tmux, "ann", "C-f")
        wait_screen(tmux, "ann", "zebra")  # the search box again, with the last query
        keys(tmux, "ann", "C-u")  # clear it
        keys(tmux, "ann", "plan", literal=True)
        keys(tmux, "ann", "Enter")  # the results list, the match first
        wait_screen(tmux, "ann", "Enter opens a message")
        # Enter on the match: its conversation opens with it selected in the list (no
        # Esc anywhere: a busy terminal app may read it with the next keys as one sequence)
        keys(tmux, "ann", "Enter")
        wait_screen(tmux, "ann", "on a message")
        keys(tmux, "ann", "o")  # on the match: open its one link
        end = time.monotonic() + 20
        while time.monotonic() < end and not opened.exists():
            time.sleep(0.2)
        assert opened.read_text(encoding="utf-8") == "https://example.org/plan"

        keys(tmux, "ann", "C-q")
        end = time.monotonic() + 20
        dead = ""
        while time.monotonic() < end and dead != "1":
            dead = subprocess.run(
                [*tmux, "list-panes", "-t", "ann", "-F", "#{pane_dead}"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
            time.sleep(0.2)
        assert dead == "1", "Ctrl+Q did not quit"
        await bob.client.close()
    finally:
        served.stop()
