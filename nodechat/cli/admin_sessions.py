"""``nodechat admin sessions|stats|login|logout``."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from websockets.exceptions import WebSocketException

from nodechat.cli import admin_dryrun
from nodechat.cli.admin_choice import check_server, server_only
from nodechat.cli.admin_dryrun import DryRunOption, Target
from nodechat.cli.admin_io import (
    EXIT_UNAUTHORIZED,
    JsonOption,
    Output,
    PasswordStdinOption,
    YesOption,
    confirm_or_exit,
    fail,
    read_secret,
    reported,
    say,
)
from nodechat.cli.admin_target import (
    Credentials,
    CredentialsOption,
    ServerOption,
    StoreOption,
    authenticated,
    run_op,
    token_entry,
)
from nodechat.client import ChatClient, RequestFailed
from nodechat.errors import ChatError, Forbidden, Unauthenticated

sessions = typer.Typer(name="sessions", help="Login sessions of a user.", no_args_is_help=True)

SESSION_COLUMNS = [
    ("id", "id"),
    ("active", "active"),
    ("created_at", "created (UTC)"),
    ("expires_at", "expires (UTC)"),
    ("revoked_at", "revoked (UTC)"),
    ("address", "address"),
    ("user_agent", "user agent"),
]


@sessions.command("list")
def list_sessions(
    user: Annotated[str, typer.Argument(help="User id (u_…) or username.", show_default=False)],
    active: Annotated[bool, typer.Option("--active", help="Only sessions still valid.")] = False,
    store: StoreOption = None,
    server: ServerOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
) -> None:
    """A user's sessions, oldest first."""
    result = run_op(
        "admin.session.list",
        {"user": user, "active": active or None},
        store=store,
        server=server,
        credentials=credentials,
    )
    out = Output(as_json)
    if as_json:
        out.json(result)
    else:
        out.table(result["sessions"], SESSION_COLUMNS)


@sessions.command("revoke")
def revoke_session(
    session_id: Annotated[str, typer.Argument(help="Session id (s_…).", show_default=False)],
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    store: StoreOption = None,
    server: ServerOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
) -> None:
    """End one session; its live connections close."""
    if dry_run:
        return admin_dryrun.revoke_session(Target(store, server, credentials), session_id, as_json)
    confirm_or_exit(f"End session {session_id}?", yes)
    result = run_op(
        "admin.session.revoke",
        {"session_id": session_id},
        store=store,
        server=server,
        credentials=credentials,
    )
    out = Output(as_json)
    if as_json:
        out.json(result)
    else:
        out.table(
            [result], [("session_id", "session"), ("user_id", "user"), ("revoked", "revoked now")]
        )


def stats(
    days: Annotated[int, typer.Option(min=1, max=366, help="Days of messages per day.")] = 7,
    store: StoreOption = None,
    server: ServerOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Users, groups, messages, messages per day (UTC) and connections per socket node."""
    result = run_op(
        "admin.stats", {"days": days}, store=store, server=server, credentials=credentials
    )
    out = Output(as_json)
    if as_json:
        out.json(result)
        return
    out.fields(result, [("users", "users"), ("groups", "groups"), ("messages", "messages")])
    out.table(
        result["messages_per_day"],
        [("date", "day (UTC)"), ("messages", "messages")],
        title="messages per day",
    )
    online: dict[str, Any] | None = result.get("online")
    if online is None:
        say("connections per node: only known online (--server)")
    else:
        rows = [{"node": node, **counts} for node, counts in sorted(online.items())]
        out.table(
            rows,
            [("node", "node"), ("connections", "connections"), ("users", "users")],
            title="online now",
        )


def login(
    server: Annotated[
        str,
        typer.Option(
            "--server",
            help="Server WebSocket URL, e.g. ws://127.0.0.1:7801/.",
            envvar="NODECHAT_ADMIN_SERVER",
            show_default=False,
        ),
    ],
    user: Annotated[
        str | None,
        typer.Option(
            "--user", "-u", help="Username or email. \\[default: asked]", show_default=False
        ),
    ] = None,
    password_stdin: PasswordStdinOption = False,
    credentials: CredentialsOption = None,
) -> None:
    """Log in as a server admin and keep the session for later commands (file mode 0600)."""
    check_server(server, "--server")
    login_name = user or str(typer.prompt("Username or email", err=True))
    password = read_secret("password", from_stdin=password_stdin)
    creds = Credentials.load(credentials)
    with reported():
        tokens = asyncio.run(_login(server, login_name, password))
    creds.put(server, token_entry(tokens["user"]["username"], tokens))
    say(f"logged in to {server} as {tokens['user']['username']}; credential saved in {creds.path}")


async def _login(server: str, login_name: str, password: str) -> dict[str, Any]:
    client = await ChatClient.connect(server)
    try:
        try:
            tokens: dict[str, Any] = await client.request(
                "auth.login", login=login_name, password=password
            )
        except RequestFailed as exc:
            raise Unauthenticated(exc.message, code=exc.code) from None
        if not tokens["user"].get("is_admin"):
            # Do not leave a session behind for an account that cannot use it here.
            await client.authenticate(tokens["access_token"])
            await client.request("auth.logout")
            raise Forbidden(
                f"{tokens['user']['username']} is not a server admin", code="admin_required"
            )
        return tokens
    finally:
        await client.close()


def logout(server: ServerOption = None, credentials: CredentialsOption = None) -> None:
    """End the saved session on the server and forget it."""
    server = server_only(server)
    creds = Credentials.load(credentials)
    found = creds.get(server)
    if found is None:
        fail("not_logged_in", f"no saved login for {server or 'any server'}", EXIT_UNAUTHORIZED)
    url, entry = found
    try:
        asyncio.run(_logout(url, entry, creds))
    except (ChatError, OSError, WebSocketException) as exc:
        say(f"could not end the session on the server ({exc}); forgetting it anyway")
    creds.drop(url)
    say(f"logged out of {url}")


async def _logout(server: str, entry: dict[str, Any], creds: Credentials) -> None:
    client = await authenticated(server, entry, creds)
    try:
        await client.request("auth.logout")
    except ChatError:
        pass  # the server closes the connection right after answering
    finally:
        await client.close()
