"""``nodechat admin``: operator commands (docs/admin.md).

Every command but ``migrate``, ``config``, ``files`` (nodechat.cli.admin_files) and ``bench-accounts`` (local only, on the
store and signing key of a deployment: nodechat.cli.admin_bench) runs offline on a store
(``--store URL``) or online against a server (``--server URL`` after
``admin login``); see nodechat.cli.admin_target.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from nodechat.cli import (
    admin_bench,
    admin_config,
    admin_files,
    admin_groups,
    admin_sessions,
    admin_users,
)
from nodechat.cli.common import cli_errors
from nodechat.storage import open_store
from nodechat.storage.base import Store
from nodechat.storage.migrate import Checkpoint, copy_all, verify
from nodechat.storage.portable import TABLES

app = typer.Typer(
    name="admin",
    help="Operator commands: users, groups, sessions, stats, config.",
    no_args_is_help=True,
)
app.add_typer(admin_users.app, name="users")
app.add_typer(admin_groups.groups, name="groups")
app.add_typer(admin_groups.channels, name="channels")
app.add_typer(admin_groups.invites, name="invites")
app.add_typer(admin_sessions.sessions, name="sessions")
app.add_typer(admin_config.app, name="config")
app.add_typer(admin_files.app, name="files")
app.command("stats")(admin_sessions.stats)
app.command("login")(admin_sessions.login)
app.command("logout")(admin_sessions.logout)
app.command("bench-accounts")(admin_bench.bench_accounts)
err = Console(stderr=True)


@app.command()
def migrate(
    source: Annotated[
        str,
        typer.Option(
            "--from",
            help="Store URL to copy from (sqlite:///…, postgresql://…, mongodb://…).",
            envvar="NODECHAT_MIGRATE_FROM",
            show_default=False,
        ),
    ],
    target: Annotated[
        str,
        typer.Option(
            "--to",
            help="Store URL to copy into (empty, or a migration to resume).",
            envvar="NODECHAT_MIGRATE_TO",
            show_default=False,
        ),
    ],
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            help="Progress file for resuming. [default: ./nodechat-migrate-<id>.json]",
            show_default=False,
        ),
    ] = None,
    restart: Annotated[
        bool, typer.Option(help="Ignore an existing checkpoint and copy from the beginning.")
    ] = False,
    verify_only: Annotated[
        bool, typer.Option("--verify-only", help="Only compare the two stores.")
    ] = False,
) -> None:
    """Copy everything from one store to another, resumably, then verify the copy.

    Stop the servers writing to the source first. Verification compares row
    counts per table and a checksum of every conversation's messages; the exit
    code is 1 when they differ.
    """
    if checkpoint is None:
        digest = hashlib.sha256(f"{source}\n{target}".encode()).hexdigest()[:10]
        checkpoint = Path(f"nodechat-migrate-{digest}.json")
    with cli_errors():
        problems = asyncio.run(_migrate(source, target, checkpoint, restart, verify_only))
    if problems:
        raise typer.Exit(1)


async def _migrate(
    source_url: str, target_url: str, checkpoint_path: Path, restart: bool, verify_only: bool
) -> int:
    source: Store = open_store(source_url)
    try:
        target: Store = open_store(target_url)
    except BaseException:
        await source.close()
        raise
    try:
        err.print(f"from: {source.describe()}\nto:   {target.describe()}")
        if not verify_only:
            if restart:
                checkpoint_path.unlink(missing_ok=True)
            state = Checkpoint.load(checkpoint_path, source_url, target_url)
            if not state.tables and await target.count_rows("users"):
                err.print(
                    "[red]the target store is not empty and there is no checkpoint of a "
                    "migration into it; refusing to merge[/red]"
                )
                return 1
            err.print(f"checkpoint: {checkpoint_path}")
            with Progress(
                TextColumn("{task.description:<15}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err,
            ) as bar:
                tasks = {spec.name: bar.add_task(spec.name, total=None) for spec in TABLES}

                def progress(table: str, done: int, total: int) -> None:
                    bar.update(tasks[table], completed=done, total=total)

                await copy_all(source, target, state, progress)
        problems = await verify(source, target)
        for problem in problems:
            err.print(
                f"[red]mismatch[/red] {problem.what}: source {problem.source}, "
                f"target {problem.target}"
            )
        if not problems:
            err.print("[green]verified:[/green] row counts and per-conversation checksums match")
            if not verify_only:
                checkpoint_path.unlink(missing_ok=True)
        return len(problems)
    finally:
        await target.close()
        await source.close()
