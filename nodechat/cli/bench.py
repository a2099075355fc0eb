"""``nodechat bench``: measure a running deployment, or a ``nodechat serve`` of its own.

Exit codes: 0 the run completed and every acked message reached every member
connection exactly once (a run marked INVALID included: see the report); 1
messages were lost or duplicated; 2 a usage error or a bad setting; 3 the
server could not be reached or started, or the accounts could not be
provisioned; 130 interrupted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from nodechat.bench.display import Display
from nodechat.bench.pool import WorkerFailed
from nodechat.bench.report import text
from nodechat.bench.runner import (
    Bench,
    BenchOptions,
    default_groups,
    default_senders,
)
from nodechat.cli.admin_io import console
from nodechat.cli.common import ConfigOption, DataDirOption, StoreOption, load
from nodechat.errors import ChatError, InvalidRequest

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3  # 130: interrupted


def _usage(message: str) -> typer.Exit:
    typer.echo(f"error: usage: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


def bench(
    url: Annotated[
        list[str] | None,
        typer.Option(
            "--url",
            help="A socket node's ws:// URL; repeat it for several (connections go round-robin).",
            metavar="URL",
            show_default=False,
        ),
    ] = None,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="Start a `nodechat serve` of its own (port 0, temporary data dir) and "
            "measure that. The default when no --url is given.",
        ),
    ] = False,
    connections: Annotated[
        int, typer.Option("--connections", "-c", min=1, help="Connections (one account each).")
    ] = 100,
    groups: Annotated[
        int | None,
        typer.Option(
            "--groups",
            min=1,
            help="Groups; account i is in group i % G. \\[default: connections / 100]",
            show_default=False,
        ),
    ] = None,
    rate: Annotated[
        float,
        typer.Option("--rate", min=0.1, help="Offered messages/s, in aggregate (open loop)."),
    ] = 200.0,
    duration: Annotated[
        float, typer.Option("--duration", min=0.1, help="Measured seconds.")
    ] = 10.0,
    warmup: Annotated[
        float, typer.Option("--warmup", min=0.0, help="Seconds of load before measuring.")
    ] = 2.0,
    size: Annotated[
        int, typer.Option("--size", min=24, max=4000, help="Message body length (characters).")
    ] = 100,
    senders: Annotated[
        int | None,
        typer.Option(
            "--senders",
            min=1,
            help="Connections that send, spread over the groups. "
            "\\[default: 3 per group, at least one per 100 msg/s]",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Generator processes. \\[default: half the cores, 1 to 4]",
            show_default=False,
        ),
    ] = None,
    drain: Annotated[
        float,
        typer.Option("--drain", min=0.1, help="Seconds to wait for the last acks and deliveries."),
    ] = 10.0,
    prefix: Annotated[
        str | None,
        typer.Option(
            "--prefix",
            help="Account name prefix. \\[default: bench<G>, so each group count has its own]",
            show_default=False,
        ),
    ] = None,
    accounts: Annotated[
        Path | None,
        typer.Option(
            "--accounts",
            help="Use this `nodechat admin bench-accounts` output instead of provisioning.",
            metavar="FILE",
            show_default=False,
        ),
    ] = None,
    keep_data: Annotated[
        bool, typer.Option("--keep-data", help="--serve: keep its temporary data dir.")
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Results as JSON on stdout (the summary goes to stderr)."),
    ] = False,
    data_dir: DataDirOption = None,
    store: StoreOption = None,
    config: ConfigOption = None,
) -> None:
    """Load-test a deployment: C connections, G groups, an open-loop offered rate.

    Latency is measured from each message's scheduled send time (no
    coordinated omission). Reports msgs/s offered and achieved, acks/s,
    deliveries/s, p50/p95/p99/max of send->ack and send->deliver, errors by
    code, lost and duplicated deliveries, and the CPU of the generator (and of
    its own server); a run where the generator saturated is marked INVALID.
    For a running deployment, accounts are provisioned on its store with its
    signing key (--data-dir/--config/--store, as `nodechat admin
    bench-accounts`), or read from --accounts FILE.
    """
    urls = tuple(url or ())
    if serve and urls:
        raise _usage("give --url (a running deployment) or --serve, not both")
    serve = serve or not urls
    if serve and accounts is not None:
        raise _usage("--accounts belongs to --url: --serve provisions on its own store")
    if not serve and keep_data:
        raise _usage("--keep-data belongs to --serve")
    bad = [u for u in urls if not u.startswith(("ws://", "wss://"))]
    if bad:
        raise _usage(f"--url {bad[0]!r} is not a ws:// or wss:// URL")
    n_groups = groups or default_groups(connections)
    if n_groups > connections:
        raise _usage("--groups must not exceed --connections")
    n_senders = min(senders or default_senders(connections, n_groups, rate), connections)
    n_workers = min(workers or max(1, min(4, (os.cpu_count() or 2) // 2)), connections)
    err = console(stderr=True)
    settings = None
    try:
        if not serve and accounts is None:
            settings = load(config, {"--data-dir": data_dir, "--store": store}).settings
        options = BenchOptions(
            urls=urls,
            connections=connections,
            groups=n_groups,
            rate=rate,
            duration=duration,
            warmup=warmup,
            size=size,
            senders=n_senders,
            workers=n_workers,
            drain=drain,
            prefix=prefix or f"bench{n_groups}",
            serve=serve,
            accounts_file=accounts,
            keep_data=keep_data,
            settings=settings,
        )
        runner: Bench | None = None
        with Display(err, "nodechat bench") as display:
            runner = Bench(options, display)
            try:
                result = runner.run()
            finally:
                server_code = runner.stop()
        if result.get("server") is not None:
            result["server"]["exit_code"] = server_code
    except InvalidRequest as exc:
        typer.echo(f"error: {exc.code}: {exc.message}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except ChatError as exc:
        typer.echo(f"error: {exc.code}: {exc.message}", err=True)
        raise typer.Exit(EXIT_UNREACHABLE) from None
    except (OSError, WorkerFailed) as exc:
        typer.echo(f"error: unavailable: {exc}", err=True)
        raise typer.Exit(EXIT_UNREACHABLE) from None
    except KeyboardInterrupt:  # the workers and the server were stopped on the way out
        typer.echo("error: aborted: interrupted", err=True)
        raise typer.Exit(130) from None
    summary = text(result)
    if as_json:
        err.print(summary, markup=False, highlight=False)
        typer.echo(json.dumps(result, indent=2))
    else:
        typer.echo(summary)
    if not result["passed"]:
        raise typer.Exit(EXIT_FAILED)
