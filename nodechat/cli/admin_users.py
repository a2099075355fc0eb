"""``nodechat admin users``: list, show, create, disable/enable, reset-password, delete,
grant-admin/revoke-admin."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn

from nodechat.cli import admin_dryrun
from nodechat.cli.admin_dryrun import DryRunOption, Target
from nodechat.cli.admin_io import (
    USER_COLUMNS,
    JsonOption,
    Output,
    PasswordStdinOption,
    YesOption,
    confirm_or_exit,
    console,
    read_secret,
    say,
)
from nodechat.cli.admin_target import CredentialsOption, ServerOption, StoreOption, run_op

app = typer.Typer(
    name="users", help="Accounts: list, inspect, create, disable, delete.", no_args_is_help=True
)

UserArg = Annotated[str, typer.Argument(help="User id (u_…) or username.", show_default=False)]
PAGE = 500


def _run(
    op: str, args: dict[str, Any], store: str | None, server: str | None, credentials: Path | None
) -> Any:
    return run_op(op, args, store=store, server=server, credentials=credentials)


def _show_user(out: Output, result: dict[str, Any], note: str) -> None:
    """The result as JSON, or its ``user`` (or the result itself) as a one-row table."""
    if out.as_json:
        out.json(result)
    else:
        out.table([result.get("user", result)], USER_COLUMNS)
    say(note)


@app.command("list")
def list_users(
    query: Annotated[
        str | None,
        typer.Option(
            "--query",
            "-q",
            help="Only users whose username, email or display name contains this.",
            show_default=False,
        ),
    ] = None,
    admins: Annotated[bool, typer.Option("--admins", help="Only server admins.")] = False,
    disabled: Annotated[bool, typer.Option("--disabled", help="Only disabled accounts.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=PAGE, help="Users per page.")] = 50,
    after: Annotated[
        str | None,
        typer.Option(
            help="Start after this user id (the `next` cursor of the previous page).",
            show_default=False,
        ),
    ] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Every page, not just one.")] = False,
    store: StoreOption = None,
    server: ServerOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
) -> None:
    """List accounts by id, one page at a time (or --all)."""
    args = {"query": query, "admins": admins or None, "disabled": disabled or None}
    users: list[dict[str, Any]] = []
    cursor = after
    if all_pages:
        err = console(stderr=True)
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        ) as progress:
            task = progress.add_task("fetching users", total=None)
            while True:
                page = _run(
                    "admin.user.list",
                    {**args, "after": cursor, "limit": PAGE},
                    store,
                    server,
                    credentials,
                )
                users.extend(page["users"])
                progress.update(task, description=f"fetched {len(users)} users")
                cursor = page["next"]
                if cursor is None:
                    break
    else:
        page = _run(
            "admin.user.list", {**args, "after": cursor, "limit": limit}, store, server, credentials
        )
        users, cursor = page["users"], page["next"]
    out = Output(as_json)
    if as_json:
        out.json({"users": users, "next": cursor})
        return
    out.table(users, USER_COLUMNS)
    say(f"{len(users)} user(s)" + (f"; next page: --after {cursor}" if cursor else ""))


@app.command("show")
def show_user(
    user: UserArg,
    store: StoreOption = None,
    server: ServerOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
) -> None:
    """One account with its groups and sessions."""
    result = _run("admin.user.get", {"user": user}, store, server, credentials)
    out = Output(as_json)
    if as_json:
        out.json(result)
        return
    sessions = result["sessions"]
    out.fields(
        {**result, "sessions": f"{sessions['active']} active of {sessions['total']}"},
        [*USER_COLUMNS, ("about", "about"), ("sessions", "sessions")],
    )
    if result["groups"]:
        out.table(
            result["groups"],
            [("id", "group id"), ("name", "name"), ("role", "role")],
            title="groups",
        )


@app.command("create")
def create_user(
    username: Annotated[str, typer.Argument(help="3-32 of a-z 0-9 _ . -", show_default=False)],
    email: Annotated[str, typer.Option(help="Email address.", show_default=False)],
    display_name: Annotated[
        str | None, typer.Option(help="Shown name. \\[default: username]", show_default=False)
    ] = None,
    admin: Annotated[
        bool, typer.Option("--admin", help="Make the account a server admin.")
    ] = False,
    password_stdin: PasswordStdinOption = False,
    store: StoreOption = None,
    server: ServerOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an account; with --store and --admin this bootstraps the first admin."""
    password = read_secret("password", from_stdin=password_stdin, confirm=True)
    result = _run(
        "admin.user.create",
        {
            "username": username,
            "email": email,
            "password": password,
            "display_name": display_name,
            "admin": admin or None,
        },
        store,
        server,
        credentials,
    )
    _show_user(
        Output(as_json),
        result,
        f"created {result['username']}" + (" (server admin)" if admin else ""),
    )


@app.command("disable")
def disable_user(
    user: UserArg,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    store: StoreOption = None,
    server: ServerOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Disable an account; all its sessions end and its live connections close."""
    if dry_run:
        return admin_dryrun.disable_user(Target(store, server, credentials), user, as_json)
    confirm_or_exit(f"Disable {user} and end all their sessions?", yes)
    result = _run("admin.user.disable", {"user": user}, store, server, credentials)
    _show_user(
        Output(as_json),
        result,
        f"disabled {result['user']['username']}; {result['sessions_revoked']} session(s) ended",
    )


@app.command("enable")
def enable_user(
    user: UserArg,
    store: StoreOption = None,
    server: ServerOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Enable a disabled account."""
    result = _run("admin.user.enable", {"user": user}, store, server, credentials)
    _show_user(Output(as_json), result, f"enabled {result['user']['username']}")


@app.command("reset-password")
def reset_password(
    user: UserArg,
    password_stdin: PasswordStdinOption = False,
    store: StoreOption = None,
    server: ServerOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set a new password (from a prompt or stdin); the user's sessions end."""
    password = read_secret("new password", from_stdin=password_stdin, confirm=True)
    result = _run(
        "admin.user.reset_password",
        {"user": user, "password": password},
        store,
        server,
        credentials,
    )
    _show_user(
        Output(as_json),
        result,
        f"password of {result['user']['username']} reset; "
        f"{result['sessions_revoked']} session(s) ended",
    )


@app.command("delete")
def delete_user(
    user: UserArg,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    store: StoreOption = None,
    server: ServerOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete an account (soft: disabled, signed out, removed from groups, profile scrubbed)."""
    if dry_run:
        return admin_dryrun.delete_user(Target(store, server, credentials), user, as_json)
    confirm_or_exit(f"Delete {user}? This cannot be undone.", yes)
    result = _run("admin.user.delete", {"user": user}, store, server, credentials)
    _show_user(
        Output(as_json),
        result,
        f"deleted {result['user']['username']}: left {result['groups_left']} group(s), "
        f"{result['sessions_revoked']} session(s) ended",
    )


def _set_admin(
    user: str,
    admin: bool,
    store: str | None,
    server: str | None,
    credentials: Path | None,
    as_json: bool,
) -> None:
    result = _run(
        "admin.user.set_admin", {"user": user, "admin": admin}, store, server, credentials
    )
    _show_user(
        Output(as_json),
        result,
        f"{result['user']['username']} is {'now' if admin else 'no longer'} a server admin",
    )


@app.command("grant-admin")
def grant_admin(
    user: UserArg,
    store: StoreOption = None,
    server: ServerOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make an account a server admin."""
    _set_admin(user, True, store, server, credentials, as_json)


@app.command("revoke-admin")
def revoke_admin(
    user: UserArg,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    store: StoreOption = None,
    server: ServerOption = None,
    credentials: CredentialsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Take server admin away from an account."""
    if dry_run:
        return admin_dryrun.revoke_admin(Target(store, server, credentials), user, as_json)
    confirm_or_exit(f"Revoke server admin from {user}?", yes)
    _set_admin(user, False, store, server, credentials, as_json)
