"""Where an admin command runs: offline on a store, or online against a server.

Offline (``--store URL``): the command opens the store itself and calls
:class:`~nodechat.services.admin_local.LocalAdminService` as the local
operator; whoever can open the store is trusted. This is how the first admin
is made. Events go nowhere: a running deployment does not hear about the
change (an ended session's live connections stay open until they reconnect).

Online (``--server ws://...``, or the server of the last ``admin login``): the
command sends ``admin.*`` ops over the WebSocket protocol with the saved
credential of a server admin, so the server checks, applies and announces the
change exactly as for any client.

The credential file (``admin.json`` under platformdirs' user config dir, or
``NODECHAT_ADMIN_CREDENTIALS``) is written with mode 0600 and holds, per
server URL, the username, the session's tokens and their expiry; the
``default`` entry is the server of the last login.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from platformdirs import user_config_path

from nodechat.bus import MemoryBus
from nodechat.cli.admin_choice import choose
from nodechat.cli.admin_io import EXIT_UNAUTHORIZED, fail, reported, say
from nodechat.client import ChatClient, RequestFailed
from nodechat.errors import ChatError, Forbidden, NotFound, Unauthenticated
from nodechat.files import write_private_json
from nodechat.models import now_ms
from nodechat.server.wiring import local_admin
from nodechat.services.admin import invoke
from nodechat.storage import open_store

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Work offline on this store URL (sqlite:///…, postgresql://…, mongodb://…). "
        "\\[env var: NODECHAT_ADMIN_STORE]",
        metavar="URL",
        show_default=False,
    ),
]
ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        help="Server WebSocket URL (ws://host:7801/). \\[env var: NODECHAT_ADMIN_SERVER] "
        "\\[default: the last `admin login`]",
        metavar="URL",
        show_default=False,
    ),
]
CredentialsOption = Annotated[
    Path | None,
    typer.Option(
        "--credentials",
        help="Credential file. \\[default: admin.json in the user config dir]",
        envvar="NODECHAT_ADMIN_CREDENTIALS",
        show_default=False,
    ),
]

REFRESH_MARGIN_MS = 30_000  # refresh an access token this close to its expiry


def default_credentials() -> Path:
    """``admin.json`` in the per-user config dir (XDG on Linux)."""
    return user_config_path("nodechat") / "admin.json"


@dataclass
class Credentials:
    """The saved logins of ``nodechat admin login``, one per server URL."""

    path: Path
    data: dict[str, Any]

    @classmethod
    def load(cls, path: Path | None) -> Credentials:
        """Read the file (an absent or unreadable one is empty)."""
        where = path or default_credentials()
        try:
            data = json.loads(where.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict) or not isinstance(data.get("servers"), dict):
            data = {"servers": {}}
        return cls(where, data)

    def get(self, server: str | None) -> tuple[str, dict[str, Any]] | None:
        """The URL and entry for ``server`` (or the default server)."""
        url = server or self.data.get("default")
        if not isinstance(url, str):
            return None
        entry = self.data["servers"].get(url)
        return (url, entry) if isinstance(entry, dict) else None

    def put(self, server: str, entry: dict[str, Any]) -> None:
        """Save the entry for ``server`` and make it the default."""
        self.data["servers"][server] = entry
        self.data["default"] = server
        self.save()

    def drop(self, server: str) -> None:
        """Forget ``server``."""
        self.data["servers"].pop(server, None)
        if self.data.get("default") == server:
            self.data.pop("default", None)
        self.save()

    def save(self) -> None:
        """Write the file, readable by its owner only (0600, directory 0700)."""
        write_private_json(self.path, self.data)


def token_entry(username: str, tokens: dict[str, Any]) -> dict[str, Any]:
    """What is kept of a token pair."""
    return {
        "username": username,
        "session_id": tokens["session_id"],
        "access_token": tokens["access_token"],
        "access_expires_at": tokens["access_expires_at"],
        "refresh_token": tokens["refresh_token"],
    }


async def authenticated(server: str, entry: dict[str, Any], creds: Credentials) -> ChatClient:
    """A connection authenticated with the saved tokens (refreshed and saved when due)."""
    client = await ChatClient.connect(server)
    try:
        if entry.get("access_expires_at", 0) - REFRESH_MARGIN_MS <= now_ms():
            try:
                tokens = await client.request(
                    "auth.refresh", refresh_token=entry.get("refresh_token", "")
                )
            except RequestFailed as exc:
                raise Unauthenticated(
                    f"the saved login for {server} no longer works "
                    f"({exc.code}); run `nodechat admin login`",
                    code=exc.code,
                ) from None
            entry = token_entry(entry.get("username", ""), tokens)
            creds.put(server, entry)
        await client.authenticate(entry["access_token"])
    except BaseException:
        await client.close()
        raise
    return client


def run_op(
    op: str,
    args: dict[str, Any],
    *,
    store: str | None,
    server: str | None,
    credentials: Path | None,
) -> Any:
    """Run one admin op offline or online and return its result (exits on failure)."""
    store, server = choose(store, server)  # flags first, then NODECHAT_ADMIN_*
    clean = {k: v for k, v in args.items() if v is not None}
    if store:
        with reported():
            return asyncio.run(_offline(store, op, clean))
    creds = Credentials.load(credentials)
    found = creds.get(server)
    if found is None:
        fail(
            "not_logged_in",
            f"no saved login for {server or 'a server'}: run `nodechat "
            "admin login --server URL`, or work offline with --store URL",
            EXIT_UNAUTHORIZED,
        )
    with reported():
        return asyncio.run(_online(found[0], found[1], creds, op, clean))


SQLITE = "sqlite:///"


def _new_sqlite(store_url: str, op: str) -> Path | None:
    """The path of a SQLite store that does not exist yet, if ``op`` may create it.

    A typo in a SQLite path must not create an empty database and report on it; only
    creating a user (the bootstrap of a deployment not started yet) may create the file.
    """
    if not store_url.startswith(SQLITE):
        return None
    path = Path(store_url[len(SQLITE) :])
    if path.exists() or not path.name:
        return None
    if op != "admin.user.create":
        raise NotFound(
            f"no SQLite database at {path} (check the path; a server creates "
            "it when it first starts)",
            code="store_not_found",
        )
    return path


async def _offline(store_url: str, op: str, args: dict[str, Any]) -> Any:
    new = _new_sqlite(store_url, op)
    store = open_store(store_url)
    ok = False
    try:
        result = await invoke(local_admin(store, MemoryBus()), None, op, args)
        ok = True
        return result
    finally:
        await store.close()
        if new is not None:
            if ok:
                say(f"note: created a new SQLite store at {new}")
            else:  # the create failed: leave no empty database behind
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{new}{suffix}").unlink(missing_ok=True)


async def _online(
    server: str, entry: dict[str, Any], creds: Credentials, op: str, args: dict[str, Any]
) -> Any:
    try:
        client = await authenticated(server, entry, creds)
    except RequestFailed as exc:  # e.g. the saved session was revoked
        raise _as_local(exc) from None
    try:
        return await client.request(op, **args)
    except RequestFailed as exc:
        raise _as_local(exc) from None
    finally:
        await client.close()


def _as_local(exc: RequestFailed) -> ChatError:
    """A server's error answer as the ChatError class its code belongs to (for exit codes)."""
    code = exc.code
    if code.endswith("_not_found") or code in ("not_found", "invite_invalid"):
        return NotFound(exc.message, code=code)
    if code in ("admin_required", "forbidden", "account_disabled"):
        return Forbidden(exc.message, code=code)
    if code in (
        "unauthenticated",
        "invalid_token",
        "token_expired",
        "session_revoked",
        "invalid_refresh_token",
        "refresh_token_reused",
    ):
        return Unauthenticated(exc.message, code=code)
    return exc
