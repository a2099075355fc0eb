"""Small file helpers: what nodechat creates is readable by its owner only."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and its missing parents) readable by its owner only (0700).

    An existing directory keeps the mode its operator gave it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)


def create_private_file(path: Path) -> None:
    """Create ``path`` empty and readable by its owner only (0600) unless it exists.

    SQLite gives its -wal and -shm files the mode of the database file, so
    creating the database this way keeps all three private."""
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)


def write_private_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON readable by its owner only (file 0600, directory 0700),
    atomically: a reader sees the old file or the new one, never a half-written one."""
    make_private_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # left by a crash; O_EXCL below must create the file afresh
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=2)
    os.chmod(tmp, 0o600)  # O_CREAT's mode is filtered by the umask
    os.replace(tmp, path)
