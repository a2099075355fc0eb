"""``nodechat auth|group|message`` (gRPC data roles), ``socket``, ``gateway`` and ``keygen``."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Any

import typer

from nodechat.cli import options, preflight
from nodechat.cli.common import (
    ConfigOption,
    DataDirOption,
    LogLevelOption,
    StoreOption,
    TlsCaOption,
    TlsCertOption,
    TlsKeyOption,
    cli_errors,
    load,
    run_until_signal,
    say,
    setup_logging,
)
from nodechat.server.roles import DataRole, split_address

OpsOption = Annotated[
    str | None,
    options.setting(
        "--http",
        "HOST:PORT for /healthz, /readyz and /metrics.",
        metavar="HOST:PORT",
        default="off",
    ),
]

BusOption = Annotated[str | None, options.bus()]


def _tls(cert: str | None, key: str | None, ca: str | None) -> dict[str, Any]:
    return {"--tls-cert": cert, "--tls-key": key, "--tls-ca": ca}


def _run_data_role(role: str, config: Path | None, log_level: str, given: dict[str, Any]) -> None:
    with cli_errors(role):
        setup_logging(log_level)
        loaded = load(config, given)
        if loaded.settings.serve.bus.startswith("redis"):
            preflight.bus(loaded)
        node = DataRole(role, loaded.settings)

        def announce() -> None:
            say(f"nodechat {role} listening on {node.address} (gRPC)")
            ops = node.ops_url()
            if ops:
                say(f"health and metrics on {ops}")
            describe = node.store.describe() if node.store else ""
            say(f"store: {describe}")

        run_until_signal(node.start, node.stop, announce)


def auth(
    listen: Annotated[str | None, options.listen(7810)] = None,
    store: StoreOption = None,
    data_dir: DataDirOption = None,
    bus: BusOption = None,
    http: OpsOption = None,
    tls_cert: TlsCertOption = None,
    tls_key: TlsKeyOption = None,
    tls_ca: TlsCaOption = None,
    config: ConfigOption = None,
    log_level: LogLevelOption = "info",
) -> None:
    """Run the auth role: accounts, passwords, tokens, sessions (gRPC, default port 7810)."""
    given = {
        "--listen": listen,
        "--store": store,
        "--data-dir": data_dir,
        "--bus": bus,
        "--http": http,
    }
    _run_data_role("auth", config, log_level, given | _tls(tls_cert, tls_key, tls_ca))


def group(
    listen: Annotated[str | None, options.listen(7811)] = None,
    store: StoreOption = None,
    data_dir: DataDirOption = None,
    bus: BusOption = None,
    http: OpsOption = None,
    tls_cert: TlsCertOption = None,
    tls_key: TlsKeyOption = None,
    tls_ca: TlsCaOption = None,
    config: ConfigOption = None,
    log_level: LogLevelOption = "info",
) -> None:
    """Run the group role: groups, channels, members, invites (gRPC, default port 7811)."""
    given = {
        "--listen": listen,
        "--store": store,
        "--data-dir": data_dir,
        "--bus": bus,
        "--http": http,
    }
    _run_data_role("group", config, log_level, given | _tls(tls_cert, tls_key, tls_ca))


def message(
    listen: Annotated[str | None, options.listen(7812)] = None,
    store: StoreOption = None,
    data_dir: DataDirOption = None,
    bus: BusOption = None,
    http: OpsOption = None,
    tls_cert: TlsCertOption = None,
    tls_key: TlsKeyOption = None,
    tls_ca: TlsCaOption = None,
    config: ConfigOption = None,
    log_level: LogLevelOption = "info",
) -> None:
    """Run the message role: message persistence, history, read markers (gRPC, port 7812)."""
    given = {
        "--listen": listen,
        "--store": store,
        "--data-dir": data_dir,
        "--bus": bus,
        "--http": http,
    }
    _run_data_role("message", config, log_level, given | _tls(tls_cert, tls_key, tls_ca))


def keygen(
    data_dir: DataDirOption = None,
    service_token: Annotated[
        bool,
        typer.Option(
            "--service-token",
            help="Print a new random service token on stdout instead (the value of "
            "NODECHAT_SERVICE_TOKEN); writes no file.",
        ),
    ] = False,
) -> None:
    """Create the auth role's token signing key (Ed25519, mode 0600), or print a service token."""
    if service_token:
        # 32 random bytes, URL-safe: goes into an environment file and a gRPC header as is.
        typer.echo(secrets.token_urlsafe(32))
        return
    from nodechat.services.tokens import PRIVATE_KEY_FILE, load_or_create_keys

    with cli_errors("keygen"):
        loaded = load(None, {"--data-dir": data_dir})
        keys = load_or_create_keys(preflight.data_dir(loaded))
        say(
            f"signing key: {loaded.settings.serve.data_dir / 'keys' / PRIVATE_KEY_FILE} "
            f"(key id {keys.key_id})"
        )


UpstreamAuth = Annotated[
    str | None, options.setting("--auth", "HOST:PORT of the auth role.", metavar="HOST:PORT")
]
UpstreamGroup = Annotated[
    str | None, options.setting("--group", "HOST:PORT of the group role.", metavar="HOST:PORT")
]
UpstreamMessage = Annotated[
    str | None,
    options.setting("--message", "HOST:PORT of the message role.", metavar="HOST:PORT"),
]


def _run_split(role: str, config: Path | None, log_level: str, given: dict[str, Any]) -> None:
    from nodechat.server.roles import SplitNode

    with cli_errors(role):
        setup_logging(log_level)
        loaded = load(config, given)
        settings = loaded.settings
        if settings.serve.bus.startswith("redis"):
            preflight.bus(loaded)
        node = SplitNode(role, settings)

        def announce() -> None:
            if node.socket is not None:
                # Where this process listens, and apart from it the URL clients are sent
                # to (often one nginx URL shared by every node): never one for the other.
                host, _ = split_address(settings.node.listen, role)
                say(
                    f"nodechat socket listening on ws://{host}:{node.socket.server.port}/ "
                    "(health: /healthz, /readyz, /metrics on the same port)"
                )
                say(f"public URL (advertised by the gateway): {node.address}")
            else:
                say(f"nodechat gateway on {node.address} (API docs: {node.address}docs)")

        run_until_signal(node.start, node.stop, announce)


def socket(
    listen: Annotated[str | None, options.listen(7801)] = None,
    auth_addr: UpstreamAuth = None,
    group_addr: UpstreamGroup = None,
    message_addr: UpstreamMessage = None,
    bus: BusOption = None,
    public_url: Annotated[
        str | None,
        options.setting(
            "--public-url",
            "The ws:// URL clients use for this node (advertised by the gateway).",
            metavar="URL",
            default="ws://<listen>/",
        ),
    ] = None,
    tls_cert: TlsCertOption = None,
    tls_key: TlsKeyOption = None,
    tls_ca: TlsCaOption = None,
    config: ConfigOption = None,
    log_level: LogLevelOption = "info",
) -> None:
    """Run a socket node: client WebSockets, fan-out over Redis (default port 7801)."""
    given = {
        "--listen": listen,
        "--auth": auth_addr,
        "--group": group_addr,
        "--message": message_addr,
        "--bus": bus,
        "--public-url": public_url,
    }
    _run_split("socket", config, log_level, given | _tls(tls_cert, tls_key, tls_ca))


def gateway(
    listen: Annotated[str | None, options.listen(7800)] = None,
    auth_addr: UpstreamAuth = None,
    group_addr: UpstreamGroup = None,
    message_addr: UpstreamMessage = None,
    bus: BusOption = None,
    tls_cert: TlsCertOption = None,
    tls_key: TlsKeyOption = None,
    tls_ca: TlsCaOption = None,
    config: ConfigOption = None,
    log_level: LogLevelOption = "info",
) -> None:
    """Run the gateway: public HTTP/JSON API, OpenAPI docs, socket-node discovery (port 7800)."""
    given = {
        "--listen": listen,
        "--auth": auth_addr,
        "--group": group_addr,
        "--message": message_addr,
        "--bus": bus,
    }
    _run_split("gateway", config, log_level, given | _tls(tls_cert, tls_key, tls_ca))
