"""``nodechat admin bench-accounts``: benchmark accounts in bulk, on the store itself.

It needs what the auth role has, the store and the token signing key, so it
takes the server's settings (``--data-dir``, ``--config``, ``--store`` and their
``NODECHAT_*`` variables) rather than the admin's ``--store`` alone; there is
no online mode, on purpose (docs/admin.md, "Benchmark accounts").
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from nodechat.bench.provision import provision_locally
from nodechat.cli.admin_io import EXIT_USAGE, console, fail, reported, say
from nodechat.cli.common import ConfigOption, DataDirOption, StoreOption, load
from nodechat.errors import InvalidRequest
from nodechat.files import write_private_json
from nodechat.models import now_ms
from nodechat.services.bench_accounts import MAX_COUNT, MAX_TTL, BenchAccounts, BenchPlan

STEPS = {
    "accounts": "accounts",
    "groups": "groups",
    "members": "memberships",
    "tokens": "sessions + tokens",
}


def _provision(given: dict[str, str | None], config: Path | None, plan: BenchPlan) -> BenchAccounts:
    settings = load(config, given).settings
    err = console(stderr=True)
    with Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        tasks = {step: bar.add_task(text, total=None) for step, text in STEPS.items()}

        def progress(step: str, done: int, total: int) -> None:
            bar.update(tasks[step], completed=done, total=total)

        return asyncio.run(provision_locally(settings, plan, progress))


def bench_accounts(
    count: Annotated[
        int,
        typer.Option(
            "--count", min=1, max=MAX_COUNT, help="Accounts <prefix>-000000 … <prefix>-<N-1>."
        ),
    ],
    groups: Annotated[
        int,
        typer.Option(
            "--groups",
            min=1,
            help="Groups <prefix>-g0 … (owned by account 0, one text channel each); "
            "account i is a member of group i % G.",
        ),
    ] = 1,
    prefix: Annotated[
        str, typer.Option("--prefix", help="Name prefix (1-25 of a-z 0-9 _ . -).")
    ] = "bench",
    ttl: Annotated[
        int,
        typer.Option(
            "--ttl", min=1, max=MAX_TTL, help="Seconds the new sessions and access tokens last."
        ),
    ] = 3600,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write the JSON here (mode 0600: it holds tokens). \\[default: stdout]",
            metavar="FILE",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDirOption = None,
    store: StoreOption = None,
    config: ConfigOption = None,
) -> None:
    """Provision benchmark accounts in bulk and mint a session and access token for each.

    Accounts that exist from an earlier run with the same prefix are reused
    (so are their groups and memberships); missing ones are created in chunks,
    all sharing one bcrypt hash of a secret that is thrown away, so nobody can
    log in to them with a password. Every run starts a new session per account.
    Output: {"groups": [{group_id, channel_id}…], "accounts": [{user_id,
    username, group_id, channel_id, access_token}…]}. Works on the store
    itself, with the deployment's signing key (the keys directory of
    --data-dir); the servers may be running.
    """
    plan = BenchPlan(count=count, groups=groups, prefix=prefix, ttl=ttl)
    try:
        plan.check()
    except InvalidRequest as exc:
        fail("usage", exc.message, EXIT_USAGE)
    started = now_ms()
    with reported():
        result = _provision({"--data-dir": data_dir, "--store": store}, config, plan)
        if out is None:
            typer.echo(json.dumps(result.to_dict(), indent=2))
        else:
            write_private_json(out, result.to_dict())
    seconds = (now_ms() - started) / 1000
    where = f"; wrote {out}" if out is not None else ""
    say(
        f"bench accounts: {count} ({result.created_accounts} new), {groups} group(s) "
        f"({result.created_groups} new), {result.created_members} new memberships, "
        f"{count} sessions with tokens valid {ttl} s, in {seconds:.1f} s{where}"
    )
