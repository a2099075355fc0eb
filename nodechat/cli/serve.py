"""``nodechat serve``: every role in one process on embedded defaults."""

from __future__ import annotations

from typing import Annotated

import typer

from nodechat.cli.common import (
    BusOption,
    ConfigOption,
    DataDirOption,
    LogLevelOption,
    StoreOption,
    cli_errors,
    run_until_signal,
    say,
    settings_from,
    setup_logging,
)
from nodechat.server.node import ChatNode


def serve(
    host: Annotated[
        str | None,
        typer.Option(
            help="Address to listen on. [default: 127.0.0.1]",
            envvar="NODECHAT_HOST",
            show_default=False,
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            help="WebSocket port (0 picks a free one). [default: 7801]",
            envvar="NODECHAT_PORT",
            show_default=False,
        ),
    ] = None,
    api_port: Annotated[
        int | None,
        typer.Option(
            help="Port of the HTTP/JSON API (0 picks a free one, -1 turns it off). [default: 7800]",
            envvar="NODECHAT_API_PORT",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDirOption = None,
    store: StoreOption = None,
    bus: BusOption = None,
    config: ConfigOption = None,
    log_level: LogLevelOption = "info",
) -> None:
    """Run the whole chat server in one process (WebSocket endpoint, HTTP API, health)."""
    setup_logging(log_level)
    with cli_errors():
        settings = settings_from(
            config,
            serve={
                "host": host,
                "port": port,
                "api_port": api_port,
                "data_dir": data_dir,
                "store": store,
                "bus": bus,
            },
        )
        node = ChatNode(settings)

        def announce() -> None:
            say(
                f"nodechat serving on {node.url} (health: http://{settings.serve.host}:"
                f"{node.port}/healthz)"
            )
            if node.api_url:
                say(f"nodechat gateway on {node.api_url} (API docs: {node.api_url}/docs)")
            describe = node.store.describe() if node.store else ""
            say(f"data: {settings.serve.data_dir.resolve()} ({describe})")

        run_until_signal(node.start, node.stop, announce)
