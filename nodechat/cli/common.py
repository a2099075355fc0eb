"""What every server command shares: logging, settings errors, running until a signal."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from nodechat.config import Settings, load_settings
from nodechat.errors import ChatError

ConfigOption = Annotated[
    Path | None, typer.Option(help="TOML settings file.", envvar="NODECHAT_CONFIG")
]
LogLevelOption = Annotated[str, typer.Option(help="debug, info, warning or error.")]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        help="Where the database and keys live. [default: ./nodechat-data]",
        envvar="NODECHAT_DATA_DIR",
        show_default=False,
    ),
]
StoreOption = Annotated[
    str | None,
    typer.Option(
        help="Store URL. [default: sqlite:///<data-dir>/nodechat.db]",
        envvar="NODECHAT_STORE",
        show_default=False,
    ),
]
BusOption = Annotated[
    str | None,
    typer.Option(
        help="Event bus URL, e.g. redis://127.0.0.1:6379/0.",
        envvar="NODECHAT_BUS",
        show_default=False,
    ),
]
ListenOption = Annotated[
    str | None,
    typer.Option(
        help="HOST:PORT to listen on (port 0 picks a free one).",
        envvar="NODECHAT_LISTEN",
        show_default=False,
    ),
]


def setup_logging(level: str) -> None:
    """Log lines to stderr; websockets' per-connection lines only at debug."""
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if level.lower() != "debug":
        logging.getLogger("websockets").setLevel(logging.WARNING)
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn startup errors into one line on stderr and an exit code (2: config, 1: runtime)."""
    try:
        yield
    except ChatError as exc:
        typer.echo(f"nodechat: {exc.message} ({exc.code})", err=True)
        raise typer.Exit(2 if exc.code in ("bad_config", "keys_missing") else 1) from None
    except OSError as exc:
        typer.echo(f"nodechat: cannot start: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None


def settings_from(config: Path | None, **sections: dict[str, Any]) -> Settings:
    """Load settings with CLI values (None = not given) layered on top."""
    return load_settings(config_file=config, overrides=sections)


def say(message: str) -> None:
    """One status line for the operator (stderr, so stdout stays clean)."""
    typer.echo(message, err=True)


def run_until_signal(
    start: Callable[[], Awaitable[None]],
    stop: Callable[[], Awaitable[None]],
    announce: Callable[[], None],
) -> None:
    """Start, announce, wait for SIGINT/SIGTERM, stop."""

    async def main() -> None:
        await start()
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, done.set)
        announce()
        say("press Ctrl-C to stop")
        await done.wait()
        say("stopping...")
        await stop()
        say("stopped")

    asyncio.run(main())
