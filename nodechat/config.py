"""Settings: frozen dataclasses per section, read once, passed explicitly.

Sources, later ones winning: built-in defaults, an optional TOML file
(``--config`` / ``NODECHAT_CONFIG``), ``NODECHAT_<SECTION>_<KEY>`` environment
variables (and the short forms listed in ``ENV_ALIASES``), then CLI flags.
Nothing else in nodechat reads ``os.environ``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nodechat.errors import InvalidRequest


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """Accounts and tokens."""

    issuer: str = "nodechat"
    audience: str = "nodechat"
    access_ttl: int = 900  # seconds
    refresh_ttl: int = 30 * 24 * 3600  # seconds
    bcrypt_rounds: int = 12
    login_failures_per_account: int = 5  # per window, then rate_limited
    login_failures_per_address: int = 20
    login_failure_window: int = 300  # seconds


@dataclass(frozen=True, slots=True)
class SocketSettings:
    """The client WebSocket endpoint."""

    max_frame: int = 64 * 1024
    auth_deadline: float = 30.0
    ping_interval: float = 20.0
    ping_timeout: float = 20.0
    send_buffer: int = 1024 * 1024  # bytes queued to one client before it is dropped
    requests_per_second: float = 200.0
    request_burst: int = 400
    account_requests_per_second: float = 400.0  # all of one account's connections together
    account_request_burst: int = 800
    typing_interval: float = 2.0  # at most one typing event per conversation per interval
    replay_limit: int = 1000  # messages per conversation a resume may replay
    allowed_origins: tuple[str, ...] = ()  # browsers' Origin values; clients without Origin pass


@dataclass(frozen=True, slots=True)
class ServeSettings:
    """``nodechat serve``: where to listen and where the data lives."""

    host: str = "127.0.0.1"
    port: int = 7801
    api_port: int = 7800  # the HTTP/JSON API (gateway) of serve; -1 turns it off
    data_dir: Path = Path("nodechat-data")
    store: str = ""  # default: sqlite:///<data_dir>/nodechat.db
    bus: str = "memory://"

    @property
    def store_url(self) -> str:
        """The store URL, defaulting to SQLite in the data dir."""
        return self.store or f"sqlite:///{self.data_dir / 'nodechat.db'}"


@dataclass(frozen=True, slots=True)
class RpcSettings:
    """gRPC between the split roles (``nodechat auth|group|message|socket|gateway``)."""

    service_token: str = ""  # shared secret every caller presents; split roles require it
    tls_cert: str = ""  # PEM certificate of this process (server and client side)
    tls_key: str = ""  # its private key
    tls_ca: str = ""  # CA that signs peers' certificates; with cert+key: mutual TLS
    timeout: float = 5.0  # deadline of every call, in seconds
    retries: int = 3  # attempts of an idempotent call on UNAVAILABLE
    auth: str = ""  # host:port of the auth role
    group: str = ""  # host:port of the group role
    message: str = ""  # host:port of the message role


@dataclass(frozen=True, slots=True)
class NodeSettings:
    """A split-role process: where it listens and how others find it."""

    listen: str = ""  # host:port; each role has its own default port
    public_url: str = ""  # socket role: the ws:// URL clients use (advertised by the gateway)
    http: str = ""  # gRPC roles: host:port of /healthz, /readyz and /metrics (default: off)
    registry_ttl: float = 10.0  # seconds a socket node stays listed without a heartbeat
    bus_prefix: str = "nodechat:"  # Redis key and channel prefix (several clusters, one Redis)


@dataclass(frozen=True, slots=True)
class Settings:
    """Every section."""

    serve: ServeSettings = field(default_factory=ServeSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    socket: SocketSettings = field(default_factory=SocketSettings)
    rpc: RpcSettings = field(default_factory=RpcSettings)
    node: NodeSettings = field(default_factory=NodeSettings)


ENV_ALIASES = {
    "NODECHAT_DATA_DIR": ("serve", "data_dir"),
    "NODECHAT_STORE": ("serve", "store"),
    "NODECHAT_BUS": ("serve", "bus"),
    "NODECHAT_HOST": ("serve", "host"),
    "NODECHAT_PORT": ("serve", "port"),
    "NODECHAT_SERVICE_TOKEN": ("rpc", "service_token"),
    "NODECHAT_LISTEN": ("node", "listen"),
    "NODECHAT_BUS_PREFIX": ("node", "bus_prefix"),
}


def _coerce(section: str, name: str, target: type | str, value: Any) -> Any:
    kind = target if isinstance(target, str) else target.__name__
    try:
        if "tuple" in kind:
            if isinstance(value, str):
                return tuple(v.strip() for v in value.split(",") if v.strip())
            return tuple(str(v) for v in value)
        if "Path" in kind:
            return Path(value)
        if "bool" in kind:
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if "int" in kind:
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if "float" in kind:
            return float(value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(
            f"setting {section}.{name}: {value!r} is not a valid {kind}",
            code="bad_config",
            key=f"{section}.{name}",
        ) from exc


def load_settings(
    *,
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Build the settings from defaults, file, environment and CLI ``overrides``."""
    env = os.environ if env is None else env
    values: dict[str, dict[str, Any]] = {f.name: {} for f in dataclasses.fields(Settings)}
    path = config_file or (Path(env["NODECHAT_CONFIG"]) if env.get("NODECHAT_CONFIG") else None)
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except OSError as exc:
            raise InvalidRequest(
                f"cannot read config file {path}: {exc.strerror}", code="bad_config"
            ) from exc
        except tomllib.TOMLDecodeError as exc:
            raise InvalidRequest(
                f"config file {path} is not valid TOML: {exc}", code="bad_config"
            ) from exc
        for section, table in data.items():
            if section not in values or not isinstance(table, dict):
                raise InvalidRequest(
                    f"config file {path}: unknown section [{section}]",
                    code="bad_config",
                    key=section,
                )
            values[section].update(table)
    for section in values:
        prefix = f"NODECHAT_{section.upper()}_"
        for key, raw in env.items():
            if key.startswith(prefix):
                values[section][key[len(prefix) :].lower()] = raw
    for key, (section, name) in ENV_ALIASES.items():
        if key in env:
            values[section][name] = env[key]
    for section, table in (overrides or {}).items():
        values[section].update({k: v for k, v in table.items() if v is not None})
    built: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        cls = type(getattr(Settings(), f.name))
        known = {sf.name: sf.type for sf in dataclasses.fields(cls)}
        kwargs = {}
        for name, value in values[f.name].items():
            if name not in known:
                raise InvalidRequest(
                    f"unknown setting {f.name}.{name}", code="bad_config", key=f"{f.name}.{name}"
                )
            kwargs[name] = _coerce(f.name, name, known[name], value)
        built[f.name] = cls(**kwargs)
    settings = Settings(**built)
    if settings.auth.bcrypt_rounds < 12:
        raise InvalidRequest(
            "auth.bcrypt_rounds must be at least 12", code="bad_config", key="auth.bcrypt_rounds"
        )
    return settings
