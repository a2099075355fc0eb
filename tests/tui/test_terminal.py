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


def start_chat(
    tmux: list[str], name: str, url: str, username: str, home: Path, **extra: str
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
            "--username",
            shlex.quote(username),
        ]
    )
    subprocess.run(
        [*tmux, "new-session", "-d", "-s", name, "-x", "100", "-y", "30", command], check=True
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
