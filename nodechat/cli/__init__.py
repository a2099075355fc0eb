"""The ``nodechat`` command: one entry point for every role and tool."""

from __future__ import annotations

from typing import Annotated

import typer

from nodechat import __version__
from nodechat.cli import admin, helpfmt, options, roles
from nodechat.cli import bench as bench_cmd
from nodechat.cli import serve as serve_cmd
from nodechat.cli import voice as voice_cmd
from nodechat.tui.cli import chat

helpfmt.install()

app = typer.Typer(
    name="nodechat",
    help="nodechat: a chat server for communities (groups, channels, direct messages).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve_cmd.serve)
app.command("chat")(chat)
for _role in ("auth", "group", "message", "socket", "gateway"):
    app.command(_role, epilog=options.SECRETS_EPILOG)(getattr(roles, _role))
app.command("keygen")(roles.keygen)
app.add_typer(admin.app, name="admin")
app.command("bench")(bench_cmd.bench)
app.add_typer(voice_cmd.app, name="voice")

SHELLS = ("bash", "zsh", "fish")


@app.command("completion")
def completion(
    shell: Annotated[str, typer.Argument(help="bash, zsh or fish.", show_default=False)],
) -> None:
    """Print the shell completion script, e.g. `nodechat completion bash > ~/.nodechat.bash`.

    Load it from the shell's startup file: bash `source ~/.nodechat.bash`; zsh: put
    the zsh script in a directory of $fpath as `_nodechat`; fish: save it as
    ~/.config/fish/completions/nodechat.fish.
    """
    if shell not in SHELLS:
        typer.echo(
            f"error: usage: unknown shell {shell!r} (expected {', '.join(SHELLS)})", err=True
        )
        raise typer.Exit(2)
    # The script calls back `nodechat` with _NODECHAT_COMPLETE set; typer answers that
    # itself (add_completion=False only hides its --install-completion options).
    from typer._completion_shared import get_completion_script

    typer.echo(
        get_completion_script(prog_name="nodechat", complete_var="_NODECHAT_COMPLETE", shell=shell)
    )


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nodechat {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """nodechat: a chat server for communities (groups, channels, direct messages)."""


def main() -> None:
    """Console-script entry point."""
    # Register typer's shell completion classes, so the script `nodechat completion
    # SHELL` prints can ask `_NODECHAT_COMPLETE=complete_<shell> nodechat` for words.
    from typer._completion_classes import completion_init

    completion_init()
    app()
