"""``nodechat serve``: every role in one process on embedded defaults."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from nodechat.config import load_settings
from nodechat.errors import ChatError
from nodechat.server.node import ChatNode


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on. [default: 127.0.0.1]",
                                             envvar="NODECHAT_HOST", show_default=False)] = None,
    port: Annotated[int | None, typer.Option(help="Port (0 picks a free one). [default: 7801]",
                                             envvar="NODECHAT_PORT", show_default=False)] = None,
    api_port: Annotated[int | None, typer.Option(
        help="Port of the HTTP/JSON API (0 picks a free one, -1 turns it off). [default: 7800]",
        envvar="NODECHAT_API_PORT", show_default=False)] = None,
    data_dir: Annotated[Path | None, typer.Option(
        help="Where the database and keys live. [default: ./nodechat-data]",
        envvar="NODECHAT_DATA_DIR", show_default=False)] = None,
    store: Annotated[str | None, typer.Option(
        help="Store URL. [default: sqlite:///<data-dir>/nodechat.db]", envvar="NODECHAT_STORE",
        show_default=False)] = None,
    config: Annotated[Path | None, typer.Option(help="TOML settings file.",
                                                envvar="NODECHAT_CONFIG")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run the whole chat server in one process: WebSocket endpoint and /healthz on one port."""
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if log_level.lower() != "debug":  # one line per connection is noise at this scale
        logging.getLogger("websockets").setLevel(logging.WARNING)
    try:
        settings = load_settings(config_file=config, overrides={"serve": {
            "host": host, "port": port, "api_port": api_port, "data_dir": data_dir, "store": store}})
        asyncio.run(_run(settings))
    except ChatError as exc:
        typer.echo(f"nodechat: {exc.message} ({exc.code})", err=True)
        raise typer.Exit(2) from None
    except OSError as exc:
        typer.echo(f"nodechat: cannot start: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None


async def _run(settings: object) -> None:
    from nodechat.config import Settings

    assert isinstance(settings, Settings)
    node = ChatNode(settings)
    await node.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    typer.echo(f"nodechat serving on {node.url} (health: http://{settings.serve.host}:"
               f"{node.port}/healthz)", err=True)
    if node.api_url:
        typer.echo(f"nodechat gateway on {node.api_url} (API docs: {node.api_url}/docs)",
                   err=True)
    typer.echo(f"data: {settings.serve.data_dir.resolve()} ({node.store.describe() if node.store else ''})",
               err=True)
    typer.echo("press Ctrl-C to stop", err=True)
    await stop.wait()
    typer.echo("stopping...", err=True)
    await node.stop()
    typer.echo("stopped", err=True)
