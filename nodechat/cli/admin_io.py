"""What every ``nodechat admin`` command shares on the terminal side: exit codes, output
(rich tables on stdout or ``--json``), messages on stderr, secrets and confirmations.

Exit codes (docs/admin.md):

    0  done
    1  the operation failed (``error: <code>: <message>`` on stderr), or was declined
    2  usage error (bad flags, --store and --server together, empty secret on stdin)
    3  not found (user, group, channel, invite, session)
    4  not authorized: not logged in, credential expired, not a server admin
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from websockets.exceptions import WebSocketException

from nodechat.errors import ChatError, Forbidden, NotFound, Unauthenticated

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_UNAUTHORIZED = 0, 1, 2, 3, 4

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout (for scripts).")]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
PasswordStdinOption = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Read the password from the first line of stdin, not a prompt."
    ),
]


def console(*, stderr: bool = False) -> Console:
    """A console for stdout or stderr; NO_COLOR (any non-empty value) turns every ANSI
    style off, not only colours, so piped and NO_COLOR output is plain text."""
    plain = bool(os.environ.get("NO_COLOR"))
    out = Console(stderr=stderr, color_system=None if plain else "auto", highlight=False)
    if not out.is_terminal:
        out.width = 240  # piped: do not fold ids to fit an imaginary 80-column screen
    return out


def say(message: str) -> None:
    """One line for the operator on stderr (never mixed with the data on stdout)."""
    console(stderr=True).print(message, markup=False)


def fail(code: str, message: str, exit_code: int = EXIT_FAILED) -> NoReturn:
    """Print ``error: <code>: <message>`` on stderr and exit."""
    typer.echo(f"error: {code}: {message}", err=True)
    raise typer.Exit(exit_code)


def exit_code_of(exc: ChatError) -> int:
    """The documented exit code of a failure."""
    if isinstance(exc, NotFound):
        return EXIT_NOT_FOUND
    if isinstance(exc, Forbidden | Unauthenticated):
        return EXIT_UNAUTHORIZED
    if exc.code == "bad_config":  # e.g. a --store URL the store cannot parse: a bad value
        return EXIT_USAGE
    return EXIT_FAILED


@contextmanager
def reported() -> Iterator[None]:
    """Turn a ChatError (or an unreachable server/store) into the documented exit."""
    try:
        yield
    except ChatError as exc:
        fail(exc.code, exc.message, exit_code_of(exc))
    except OSError as exc:
        fail("unavailable", f"cannot reach the server or store: {exc.strerror or exc}")
    except WebSocketException as exc:  # a bad URL, a refused handshake
        fail("unavailable", f"cannot reach the server: {exc}")


def read_secret(what: str, *, from_stdin: bool, confirm: bool = False) -> str:
    """A password from stdin's first line or a hidden prompt (never from argv)."""
    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            fail("usage", f"--password-stdin: no {what} on stdin", EXIT_USAGE)
        return value
    value = typer.prompt(what.capitalize(), hide_input=True, confirmation_prompt=confirm, err=True)
    return str(value)


def confirm_or_exit(question: str, yes: bool) -> None:
    """Ask before a destructive change; a refusal (or no answer) exits 1, changing nothing."""
    if yes:
        return
    try:
        ok = typer.confirm(question, default=False, err=True)
    except typer.Abort:
        ok = False
    if not ok:
        fail("aborted", "not confirmed; nothing was changed (use --yes to skip the question)")


def when(ms: Any) -> str:
    """A timestamp in ms as UTC text, or '-'."""
    if not isinstance(ms, int):
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


class Output:
    """Where a command's data goes: JSON, or rich tables on stdout."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def json(self, data: Any) -> None:
        """The whole result as JSON on stdout."""
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True))

    def table(
        self,
        rows: Sequence[dict[str, Any]],
        columns: Sequence[tuple[str, str]],
        *,
        title: str | None = None,
    ) -> None:
        """Rows as a table; ``columns`` are (key, heading); keys ending in ``_at`` are times."""
        table = Table(title=title, title_justify="left")
        for key, heading in columns:
            ident = key in ("id", "code") or key.endswith("_id")
            table.add_column(heading, overflow="fold", no_wrap=ident, min_width=None)
        for row in rows:
            table.add_row(
                *(
                    when(row.get(key)) if key.endswith("_at") else _cell(row.get(key))
                    for key, _ in columns
                )
            )
        console().print(table)

    def fields(
        self, record: dict[str, Any], keys: Sequence[tuple[str, str]], *, title: str | None = None
    ) -> None:
        """One record as a two-column table."""
        table = Table(title=title, title_justify="left", show_header=False)
        table.add_column("field", style="bold")
        table.add_column("value", overflow="fold")
        for key, heading in keys:
            value = record.get(key)
            table.add_row(heading, when(value) if key.endswith("_at") else _cell(value))
        console().print(table)


def emit(
    as_json: bool,
    result: Any,
    rows: list[dict[str, Any]],
    columns: list[tuple[str, str]],
    note: str | None = None,
) -> None:
    """``result`` as JSON, or ``rows`` as a table; then ``note`` on stderr."""
    out = Output(as_json)
    if as_json:
        out.json(result)
    else:
        out.table(rows, columns)
    if note:
        say(note)


USER_COLUMNS = [
    ("id", "id"),
    ("username", "username"),
    ("email", "email"),
    ("display_name", "display name"),
    ("is_admin", "admin"),
    ("disabled", "disabled"),
    ("created_at", "created (UTC)"),
]
