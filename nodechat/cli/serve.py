"""``nodechat serve``: every role in one process on embedded defaults."""

from __future__ import annotations

from typing import Annotated

from nodechat.cli import options, preflight
from nodechat.cli.common import (
    ConfigOption,
    DataDirOption,
    LogLevelOption,
    StoreOption,
    cli_errors,
    load,
    run_until_signal,
    say,
    setup_logging,
)
from nodechat.server.node import ChatNode


def serve(
    host: Annotated[
        str | None,
        options.setting("--host", "Address to listen on.", metavar="HOST", default="127.0.0.1"),
    ] = None,
    port: Annotated[
        str | None,
        options.setting(
            "--port", "WebSocket port (0 picks a free one).", metavar="PORT", default="7801"
        ),
    ] = None,
    api_port: Annotated[
        str | None,
        options.setting(
            "--api-port",
            "Port of the HTTP/JSON API (0 picks a free one, -1 turns it off).",
            metavar="PORT",
            default="7800",
        ),
    ] = None,
    data_dir: DataDirOption = None,
    store: StoreOption = None,
    bus: Annotated[str | None, options.bus(default="memory://")] = None,
    config: ConfigOption = None,
    log_level: LogLevelOption = "info",
) -> None:
    """Run the whole chat server in one process (WebSocket endpoint, HTTP API, health)."""
    with cli_errors("serve"):
        setup_logging(log_level)
        loaded = load(
            config,
            {
                "--host": host,
                "--port": port,
                "--api-port": api_port,
                "--data-dir": data_dir,
                "--store": store,
                "--bus": bus,
            },
        )
        settings = loaded.settings
        preflight.data_dir(loaded)
        preflight.bus(loaded)
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
