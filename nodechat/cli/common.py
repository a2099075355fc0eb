"""What every server command shares: settings from flags, startup errors, running until a signal.

A bad value at startup is one line on stderr naming the value, where it came
from (flag, ``NODECHAT_*`` variable or config file key) and the fix, and exit
code 2; a good value that does not work right now (Redis down, port taken) is
one line and exit code 1. Never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from nodechat.cli import options
from nodechat.cli.gctune import tune_for_server
from nodechat.config import ConfigError, Problem, Settings, given_as, load_settings
from nodechat.config_rules import LOG_LEVELS
from nodechat.errors import ChatError

ConfigOption = Annotated[
    Path | None,
    typer.Option(help="TOML settings file.", envvar="NODECHAT_CONFIG", metavar="FILE"),
]
LogLevelOption = Annotated[str, typer.Option(help=options.LOG_LEVEL_HELP, metavar="LEVEL")]
DataDirOption = Annotated[str | None, options.data_dir()]
StoreOption = Annotated[str | None, options.store()]
TlsCertOption = Annotated[str | None, options.tls("--tls-cert")]
TlsKeyOption = Annotated[str | None, options.tls("--tls-key")]
TlsCaOption = Annotated[str | None, options.tls("--tls-ca")]

EXIT_FAILED, EXIT_BAD_VALUE = 1, 2


def setup_logging(level: str) -> None:
    """Log lines to stderr; websockets' per-connection lines only at debug."""
    if level.lower() not in LOG_LEVELS:
        raise ConfigError(
            [
                Problem(
                    "log_level",
                    f"--log-level {level!r}",
                    "is not a log level",
                    f"give {', '.join(LOG_LEVELS[:-1])} or {LOG_LEVELS[-1]}",
                )
            ]
        )
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if level.lower() != "debug":
        logging.getLogger("websockets").setLevel(logging.WARNING)
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


@contextmanager
def cli_errors(command: str = "") -> Iterator[None]:
    """Turn startup errors into one line each on stderr and an exit code (2: bad value)."""
    prefix = f"nodechat {command}:" if command else "nodechat:"
    try:
        yield
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(f"{prefix} {problem.line()}", err=True)
        raise typer.Exit(EXIT_BAD_VALUE) from None
    except ChatError as exc:
        typer.echo(f"{prefix} {exc.message} ({exc.code})", err=True)
        bad = exc.code in ("bad_config", "keys_missing", "weak_service_token")
        raise typer.Exit(EXIT_BAD_VALUE if bad else EXIT_FAILED) from None
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        typer.echo(f"{prefix} cannot start: {exc.strerror or exc}{where}", err=True)
        raise typer.Exit(EXIT_FAILED) from None


@dataclass(frozen=True)
class Loaded:
    """Settings, and how to say where one of their values came from."""

    settings: Settings
    config: Path | None
    given: Mapping[str, Any]  # flag -> value (None: not given)

    def origin(self, key: str) -> str:
        """``--data-dir '/x'``, ``NODECHAT_DATA_DIR='/x'``, ``serve.data_dir = … in FILE``."""
        return given_as(
            key,
            config_file=self.config,
            overrides=options.overrides(self.given),
            flags=options.flag_names(self.given),
        )


def load(config: Path | None, given: Mapping[str, Any]) -> Loaded:
    """Settings with the flags in ``given`` (flag -> value, None = not given) on top."""
    settings = load_settings(
        config_file=config,
        overrides=options.overrides(given),
        flags=options.flag_names(given),
    )
    return Loaded(settings, config, given)


def say(message: str) -> None:
    """One status line for the operator (stderr, so stdout stays clean)."""
    typer.echo(message, err=True)


def run_until_signal(
    start: Callable[[], Awaitable[None]],
    stop: Callable[[], Awaitable[None]],
    announce: Callable[[], None],
) -> None:
    """Start, announce, wait for SIGINT/SIGTERM, stop (a signal during the start stops too)."""

    async def main() -> None:
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, done.set)
        starting = asyncio.ensure_future(start())
        signalled = asyncio.ensure_future(done.wait())
        await asyncio.wait({starting, signalled}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():  # stopped before it was ready: start() cleans up when cancelled
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
            await stop()
            say("stopped before the start finished")
            return
        signalled.cancel()
        starting.result()  # a failed start raises here
        tune_for_server()
        announce()
        say("press Ctrl-C to stop")
        await done.wait()
        say("stopping...")
        await stop()
        say("stopped")

    asyncio.run(main())
