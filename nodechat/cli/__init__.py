"""The ``nodechat`` command: one entry point for every role and tool."""

from __future__ import annotations

from typing import Annotated

import typer

from nodechat import __version__
from nodechat.cli import admin, roles
from nodechat.cli import serve as serve_cmd
from nodechat.tui.cli import chat

app = typer.Typer(
    name="nodechat",
    help="nodechat: a chat server for communities (groups, channels, direct messages).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve_cmd.serve)
app.command("chat")(chat)
app.command("auth")(roles.auth)
app.command("group")(roles.group)
app.command("message")(roles.message)
app.command("socket")(roles.socket)
app.command("gateway")(roles.gateway)
app.command("keygen")(roles.keygen)
app.add_typer(admin.app, name="admin")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nodechat {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """nodechat: a chat server for communities (groups, channels, direct messages)."""


def main() -> None:
    """Console-script entry point."""
    app()
