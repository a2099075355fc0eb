"""``nodechat admin config generate|check``: the TOML settings file (nodechat.config)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from nodechat.cli.admin_io import EXIT_FAILED, EXIT_USAGE, JsonOption, fail, say
from nodechat.config import ConfigError, Settings, load_settings
from nodechat.errors import ChatError

app = typer.Typer(name="config", help="The TOML settings file.", no_args_is_help=True)

_SECRET = {("rpc", "service_token")}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def render_defaults() -> str:
    """Every section and setting with its default value, as a TOML document."""
    lines = [
        "# nodechat settings (nodechat serve/auth/group/message/socket/gateway --config).",
        "# Every value below is the default; delete what you do not change.",
        "# Environment variables NODECHAT_<SECTION>_<KEY> override this file.",
    ]
    defaults = Settings()
    for section in dataclasses.fields(Settings):
        part = getattr(defaults, section.name)
        doc = (type(part).__doc__ or "").strip().splitlines()[0]
        lines += ["", f"# {doc}", f"[{section.name}]"]
        for item in dataclasses.fields(part):
            value = getattr(part, item.name)
            line = f"{item.name} = {_toml_value(value)}"
            if (section.name, item.name) in _SECRET:
                line = f"# {line}  # secret: prefer NODECHAT_SERVICE_TOKEN"
            lines.append(line)
    return "\n".join(lines) + "\n"


@app.command("generate")
def generate(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write to this file instead of stdout.", show_default=False
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing --output file.")] = False,
) -> None:
    """Print a settings file with every setting at its default."""
    text = render_defaults()
    if output is None:
        typer.echo(text, nl=False)
        return
    if output.exists() and not force:
        fail("file_exists", f"{output} exists; use --force to overwrite it", EXIT_USAGE)
    output.write_text(text, encoding="utf-8")
    say(f"wrote {output}")


@app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="The TOML settings file.", show_default=False)],
    as_json: JsonOption = False,
) -> None:
    """Validate a settings file (ignoring the environment); exit 1 listing every bad key."""
    try:
        settings = load_settings(config_file=file, env={})
    except ChatError as exc:
        if as_json:
            typer.echo(json.dumps({"ok": False, "error": exc.to_dict()}, indent=2))
        if isinstance(exc, ConfigError):  # one line per bad key, all of them at once
            for problem in exc.problems[:-1]:
                typer.echo(f"error: {exc.code}: {problem.line()}", err=True)
            fail(exc.code, exc.problems[-1].line(), EXIT_FAILED)
        fail(exc.code, exc.message, EXIT_FAILED)
    if as_json:
        values = dataclasses.asdict(settings)
        values["rpc"]["service_token"] = "***" if values["rpc"]["service_token"] else ""
        typer.echo(json.dumps({"ok": True, "settings": values}, indent=2, default=str))
    say(f"{file}: ok")
