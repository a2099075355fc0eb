"""Which target an admin command works on: ``--store`` or ``--server``, flags before variables.

``NODECHAT_ADMIN_STORE`` and ``NODECHAT_ADMIN_SERVER`` belong to the admin CLI
(they are not server settings), so they are read here rather than by
typer: a flag then replaces the *other* variable too. With
``NODECHAT_ADMIN_STORE`` exported, ``--server URL`` works online; only two
flags, or two variables and no flag, are a usage error. A target that cannot
be a store or server URL is a usage error (exit 2), not a failed login.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from nodechat.cli.admin_io import EXIT_USAGE, fail
from nodechat.config_rules import STORE_SCHEMES

STORE_ENV = "NODECHAT_ADMIN_STORE"
SERVER_ENV = "NODECHAT_ADMIN_SERVER"


def check_server(server: str, source: str) -> str:
    """``server`` if it is a ws:// or wss:// URL with a host; a usage error otherwise."""
    try:
        parts = urlsplit(server)
        ok = parts.scheme in ("ws", "wss") and bool(parts.hostname)
        parts.port  # noqa: B018 -- raises ValueError for a port out of range
    except ValueError:
        ok = False
    if not ok:
        fail(
            "usage",
            f"{source} {server!r} is not a server URL (give ws://HOST:PORT/ or wss://HOST/)",
            EXIT_USAGE,
        )
    return server


def check_store(store: str, source: str) -> str:
    """``store`` if its scheme names a store; a usage error otherwise."""
    if not store.startswith(STORE_SCHEMES):
        fail(
            "usage",
            f"{source} {store!r} is not a store URL (give sqlite:///PATH, "
            "postgresql://USER@HOST/DB or mongodb://HOST/DB)",
            EXIT_USAGE,
        )
    return store


def choose(
    store: str | None, server: str | None, env: Mapping[str, str] | None = None
) -> tuple[str | None, str | None]:
    """The (store, server) to use: flags first, then the variables; at most one of them."""
    env = os.environ if env is None else env
    if store and server:
        fail("usage", "give either --store (offline) or --server (online), not both", EXIT_USAGE)
    if store:
        return check_store(store, "--store"), None
    if server:
        return None, check_server(server, "--server")
    env_store, env_server = env.get(STORE_ENV) or None, env.get(SERVER_ENV) or None
    if env_store and env_server:
        fail(
            "usage",
            f"{STORE_ENV} and {SERVER_ENV} are both set: unset one, or give --store or "
            "--server (a flag wins over both variables)",
            EXIT_USAGE,
        )
    if env_store:
        return check_store(env_store, STORE_ENV), None
    if env_server:
        return None, check_server(env_server, SERVER_ENV)
    return None, None


def server_only(server: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """The server of a command that has no offline mode (``logout``): flag, then variable."""
    env = os.environ if env is None else env
    if server:
        return check_server(server, "--server")
    if env.get(SERVER_ENV):
        return check_server(env[SERVER_ENV], SERVER_ENV)
    return None
