"""``nodechat auth|group|message`` (gRPC data roles) and ``nodechat keygen``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nodechat.cli.common import (
    ConfigOption,
    DataDirOption,
    ListenOption,
    LogLevelOption,
    StoreOption,
    cli_errors,
    run_until_signal,
    say,
    settings_from,
    setup_logging,
)
from nodechat.server.roles import DataRole

OpsOption = Annotated[str | None, typer.Option(
    "--http", help="HOST:PORT for /healthz, /readyz and /metrics (off unless given).",
    envvar="NODECHAT_NODE_HTTP", show_default=False)]


def _run_data_role(role: str, listen: str | None, store: str | None, data_dir: Path | None,
                   http: str | None, config: Path | None, log_level: str) -> None:
    setup_logging(log_level)
    with cli_errors():
        settings = settings_from(config, serve={"store": store, "data_dir": data_dir},
                                 node={"listen": listen, "http": http})
        node = DataRole(role, settings)

        def announce() -> None:
            say(f"nodechat {role} listening on {node.address} (gRPC)")
            ops = node.ops_url()
            if ops:
                say(f"health and metrics on {ops}")
            describe = node.store.describe() if node.store else ""
            say(f"store: {describe}")

        run_until_signal(node.start, node.stop, announce)


def auth(listen: ListenOption = None, store: StoreOption = None, data_dir: DataDirOption = None,
         http: OpsOption = None, config: ConfigOption = None,
         log_level: LogLevelOption = "info") -> None:
    """Run the auth role: accounts, passwords, tokens, sessions (gRPC, default port 7810)."""
    _run_data_role("auth", listen, store, data_dir, http, config, log_level)


def group(listen: ListenOption = None, store: StoreOption = None, data_dir: DataDirOption = None,
          http: OpsOption = None, config: ConfigOption = None,
          log_level: LogLevelOption = "info") -> None:
    """Run the group role: groups, channels, members, invites (gRPC, default port 7811)."""
    _run_data_role("group", listen, store, data_dir, http, config, log_level)


def message(listen: ListenOption = None, store: StoreOption = None,
            data_dir: DataDirOption = None, http: OpsOption = None, config: ConfigOption = None,
            log_level: LogLevelOption = "info") -> None:
    """Run the message role: message persistence, history, read markers (gRPC, port 7812)."""
    _run_data_role("message", listen, store, data_dir, http, config, log_level)


def keygen(data_dir: DataDirOption = None) -> None:
    """Create the auth role's token signing key (Ed25519, mode 0600) if it does not exist."""
    from nodechat.config import load_settings
    from nodechat.services.tokens import PRIVATE_KEY_FILE, load_or_create_keys

    with cli_errors():
        settings = load_settings(overrides={"serve": {"data_dir": data_dir}})
        keys = load_or_create_keys(settings.serve.data_dir)
        say(f"signing key: {settings.serve.data_dir / 'keys' / PRIVATE_KEY_FILE} "
            f"(key id {keys.key_id})")
