"""Checks a server command makes before it starts, so a wrong value is one clear line.

Without them a data dir that cannot be created says only "No such file or
directory", and a Redis that does not answer leaves the node retrying with a
reconnect warning and never printing where it listens.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError

from nodechat.cli.common import Loaded
from nodechat.config import ConfigError, Problem
from nodechat.errors import Unavailable
from nodechat.files import make_private_dir

BUS_TIMEOUT = 5.0  # seconds to reach Redis at startup


def data_dir(loaded: Loaded) -> Path:
    """Create the data dir if needed; a path that cannot be a writable directory is a bad value."""
    path = loaded.settings.serve.data_dir
    try:
        make_private_dir(path)
        probe = path / ".nodechat-write-test"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        reason = f"cannot be used as the data directory: {exc.strerror or exc}"
        raise ConfigError(
            [
                Problem(
                    "serve.data_dir",
                    loaded.origin("serve.data_dir"),
                    reason,
                    "give a directory this user can create and write, e.g. /var/lib/nodechat",
                )
            ]
        ) from None
    return path


async def _ping(url: str) -> None:
    client = Redis.from_url(url, socket_connect_timeout=BUS_TIMEOUT, socket_timeout=BUS_TIMEOUT)
    try:
        await asyncio.wait_for(client.ping(), BUS_TIMEOUT * 2)
    finally:
        await client.aclose()


def bus(loaded: Loaded) -> None:
    """Make sure a Redis bus answers before the node starts (``memory://`` needs nothing)."""
    url = loaded.settings.serve.bus
    if not url.startswith(("redis://", "rediss://")):
        return
    try:
        asyncio.run(_ping(url))
    except (RedisError, OSError, TimeoutError, ValueError) as exc:
        reason = (str(exc) or type(exc).__name__).rstrip(".")
        raise Unavailable(
            f"{loaded.origin('serve.bus')} cannot be reached ({reason}): start Redis "
            "there or give the right URL",
            code="bus_unavailable",
        ) from None
