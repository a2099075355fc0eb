"""``nodechat auth|group|message`` (gRPC data roles) and ``nodechat keygen``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nodechat.cli.common import (
    BusOption,
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

OpsOption = Annotated[
    str | None,
    typer.Option(
        "--http",
        help="HOST:PORT for /healthz, /readyz and /metrics (off unless given).",
        envvar="NODECHAT_NODE_HTTP",
        show_default=False,
    ),
]


def _run_data_role(
    role: str,
    listen: str | None,
    store: str | None,
    data_dir: Path | None,
    bus: str | None,
    http: str | None,
    config: Path | None,
    log_level: str,
) -> None:
    setup_logging(log_level)
    with cli_errors():
        settings = settings_from(
            config,
            serve={"store": store, "data_dir": data_dir, "bus": bus},
            node={"listen": listen, "http": http},
        )
        node = DataRole(role, settings)

        def announce() -> None:
            say(f"nodechat {role} listening on {node.address} (gRPC)")
            ops = node.ops_url()
            if ops:
                say(f"health and metrics on {ops}")
            describe = node.store.describe() if node.store else ""
            say(f"store: {describe}")

        run_until_signal(node.start, node.stop, announce)


def auth(
    listen: ListenOption = None,
    store: StoreOption = None,
    data_dir: DataDirOption = None,
    bus: BusOption = None,
    http: OpsOption = None,
    config: ConfigOption = None,
    log_level: LogLevelOption = "info",
) -> None:
    """Run the auth role: accounts, passwords, tokens, sessions (gRPC, default port 7810)."""
    _run_data_role("auth", listen, store, data_dir, bus, http, config, log_level)


def group(
    listen: ListenOption = None,
    store: StoreOption = None,
    data_dir: DataDirOption = None,
    bus: BusOption = None,
    http: OpsOption = None,
    config: ConfigOption = None,
    log_level: LogLevelOption = "info",
) -> None:
    """Run the group role: groups, channels, members, invites (gRPC, default port 7811)."""
    _run_data_role("group", listen, store, data_dir, bus, http, config, log_level)


def message(
    listen: ListenOption = None,
    store: StoreOption = None,
    data_dir: DataDirOption = None,
    bus: BusOption = None,
    http: OpsOption = None,
    config: ConfigOption = None,
    log_level: LogLevelOption = "info",
) -> None:
    """Run the message role: message persistence, history, read markers (gRPC, port 7812)."""
    _run_data_role("message", listen, store, data_dir, bus, http, config, log_level)


def keygen(data_dir: DataDirOption = None) -> None:
    """Create the auth role's token signing key (Ed25519, mode 0600) if it does not exist."""
    from nodechat.config import load_settings
    from nodechat.services.tokens import PRIVATE_KEY_FILE, load_or_create_keys

    with cli_errors():
        settings = load_settings(overrides={"serve": {"data_dir": data_dir}})
        keys = load_or_create_keys(settings.serve.data_dir)
        say(
            f"signing key: {settings.serve.data_dir / 'keys' / PRIVATE_KEY_FILE} "
            f"(key id {keys.key_id})"
        )


UpstreamAuth = Annotated[
    str | None,
    typer.Option(
        "--auth", help="HOST:PORT of the auth role.", envvar="NODECHAT_RPC_AUTH", show_default=False
    ),
]
UpstreamGroup = Annotated[
    str | None,
    typer.Option(
        "--group",
        help="HOST:PORT of the group role.",
        envvar="NODECHAT_RPC_GROUP",
        show_default=False,
    ),
]
UpstreamMessage = Annotated[
    str | None,
    typer.Option(
        "--message",
        help="HOST:PORT of the message role.",
        envvar="NODECHAT_RPC_MESSAGE",
        show_default=False,
    ),
]


def _run_split(
    role: str,
    listen: str | None,
    auth_addr: str | None,
    group_addr: str | None,
    message_addr: str | None,
    bus: str | None,
    public_url: str | None,
    config: Path | None,
    log_level: str,
) -> None:
    from nodechat.server.roles import SplitNode

    setup_logging(log_level)
    with cli_errors():
        settings = settings_from(
            config,
            serve={"bus": bus},
            node={"listen": listen, "public_url": public_url},
            rpc={"auth": auth_addr, "group": group_addr, "message": message_addr},
        )
        node = SplitNode(role, settings)

        def announce() -> None:
            if role == "socket":
                say(
                    f"nodechat socket serving on {node.address} (health: /healthz, "
                    f"/readyz, /metrics on the same port)"
                )
            else:
                say(f"nodechat gateway on {node.address} (API docs: {node.address}docs)")

        run_until_signal(node.start, node.stop, announce)


def socket(
    listen: ListenOption = None,
    auth_addr: UpstreamAuth = None,
    group_addr: UpstreamGroup = None,
    message_addr: UpstreamMessage = None,
    bus: BusOption = None,
    public_url: Annotated[
        str | None,
        typer.Option(
            help="The ws:// URL clients use for this node (advertised by the gateway). "
            "[default: ws://<listen>/]",
            envvar="NODECHAT_NODE_PUBLIC_URL",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
    log_level: LogLevelOption = "info",
) -> None:
    """Run a socket node: client WebSockets, fan-out over Redis (default port 7801)."""
    _run_split(
        "socket", listen, auth_addr, group_addr, message_addr, bus, public_url, config, log_level
    )


def gateway(
    listen: ListenOption = None,
    auth_addr: UpstreamAuth = None,
    group_addr: UpstreamGroup = None,
    message_addr: UpstreamMessage = None,
    bus: BusOption = None,
    config: ConfigOption = None,
    log_level: LogLevelOption = "info",
) -> None:
    """Run the gateway: public HTTP/JSON API, OpenAPI docs, socket-node discovery (port 7800)."""
    _run_split("gateway", listen, auth_addr, group_addr, message_addr, bus, None, config, log_level)
