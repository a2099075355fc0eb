"""Copying text: to the local clipboard when there is one, else through the terminal."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

# (program, arguments, what must be set for it to reach the user's clipboard)
_TOOLS = (
    ("wl-copy", (), "WAYLAND_DISPLAY"),
    ("xclip", ("-selection", "clipboard"), "DISPLAY"),
    ("xsel", ("--clipboard", "--input"), "DISPLAY"),
    ("pbcopy", (), None),
)


def copy_local(text: str) -> bool:
    """Put ``text`` on this machine's clipboard; True only if a clipboard tool took it.

    Over SSH the machine's clipboard is not the user's, so nothing is tried there.
    """
    if os.environ.get("SSH_CONNECTION") or os.environ.get("SSH_TTY"):
        return False
    for program, args, needs in _TOOLS:
        if program == "pbcopy" and sys.platform != "darwin":
            continue
        if needs is not None and not os.environ.get(needs):
            continue
        path = shutil.which(program)
        if path is None:
            continue
        try:
            done = subprocess.run(
                [path, *args], input=text.encode(), timeout=2, check=False, capture_output=True
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:
            return True
    return False
