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

from nodechat.config_rules import TYPE_VERDICTS, check
from nodechat.errors import InvalidRequest


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """Accounts and tokens."""

    issuer: str = "nodechat"
    audience: str = "nodechat"
    access_ttl: int = 900  # seconds
    refresh_ttl: int = 30 * 24 * 3600  # seconds
    bcrypt_rounds: int = 12
    # failed logins per (account, address) within the window, then a lockout that
    # doubles each time; per address (any account) within the window
    login_failures_per_account: int = 5
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
    # peers (reverse proxies) whose forwarded-client header is believed, on the WebSocket
    # and the HTTP API alike, and which header they append to (x-forwarded-for, forwarded)
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    forwarded_header: str = "x-forwarded-for"
    # voice relay (docs/voice.md): per sender, frames and bytes a second (PCM needs ~97 KB/s)
    voice_frames_per_second: float = 60.0
    voice_bytes_per_second: float = 128 * 1024
    voice_queue: int = 32 * 1024  # unsent bytes past which a receiver gets no voice frames
    voice_late_ms: float = 200.0  # frames from other nodes older than this are dropped
    voice_speaking_hold: float = 0.3  # seconds without frames before speaking ends
    voice_sweep_interval: float = 2.0  # seconds between removals of dead nodes' participants


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
    reflection: bool = False  # gRPC server reflection; lists every service, AdminService too


@dataclass(frozen=True, slots=True)
class NodeSettings:
    """A split-role process: where it listens and how others find it."""

    listen: str = ""  # host:port; each role has its own default port
    public_url: str = ""  # socket role: the ws:// URL clients use (advertised by the gateway)
    http: str = ""  # gRPC roles: host:port of /healthz, /readyz and /metrics (default: off)
    registry_ttl: float = 10.0  # seconds a socket node stays listed without a heartbeat
    bus_prefix: str = "nodechat:"  # Redis key and channel prefix (several clusters, one Redis)


@dataclass(frozen=True, slots=True)
class FileSettings:
    """Uploaded files: limits, the collection of unattached uploads, and the blob store."""

    max_size: int = 25 * 1024 * 1024  # bytes per file
    quota: int = 500 * 1024 * 1024  # bytes of files one user may keep
    unattached_ttl: int = 24 * 3600  # seconds an upload may wait for a message
    collect_interval: float = 600.0  # seconds between collections of stale uploads
    backend: str = "fs"  # fs (under data_dir/files, or path) | s3
    path: str = ""  # fs: the blob directory (default: <serve.data_dir>/files)
    s3_bucket: str = ""
    s3_endpoint: str = ""  # an S3-compatible server's URL (empty: AWS)
    s3_region: str = ""
    s3_access_key: str = ""  # empty: boto3's own credential chain
    s3_secret_key: str = ""
    s3_prefix: str = ""  # key prefix (several deployments, one bucket)


@dataclass(frozen=True, slots=True)
class Settings:
    """Every section."""

    serve: ServeSettings = field(default_factory=ServeSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    socket: SocketSettings = field(default_factory=SocketSettings)
    rpc: RpcSettings = field(default_factory=RpcSettings)
    node: NodeSettings = field(default_factory=NodeSettings)
    files: FileSettings = field(default_factory=FileSettings)


ENV_ALIASES = {
    "NODECHAT_DATA_DIR": ("serve", "data_dir"),
    "NODECHAT_STORE": ("serve", "store"),
    "NODECHAT_BUS": ("serve", "bus"),
    "NODECHAT_HOST": ("serve", "host"),
    "NODECHAT_PORT": ("serve", "port"),
    "NODECHAT_API_PORT": ("serve", "api_port"),
    "NODECHAT_SERVICE_TOKEN": ("rpc", "service_token"),
    "NODECHAT_LISTEN": ("node", "listen"),
    "NODECHAT_BUS_PREFIX": ("node", "bus_prefix"),
    "NODECHAT_TRUSTED_PROXIES": ("socket", "trusted_proxies"),
}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def env_name(key: str) -> str:
    """The environment variable an operator sets for ``section.name`` (the short form if any)."""
    section, name = key.split(".", 1)
    for var, target in ENV_ALIASES.items():
        if target == (section, name):
            return var
    return f"NODECHAT_{section.upper()}_{name.upper()}"


@dataclass(frozen=True, slots=True)
class Problem:
    """One bad setting: what was given where, what is wrong with it, and the fix."""

    key: str  # section.name (or the section, for an unknown one)
    given: str  # as the operator wrote it: "--port 'abc'", "NODECHAT_PORT='abc'", ...
    reason: str
    fix: str

    def line(self) -> str:
        """``--port 'abc' is not a port number (give 1-65535 ...)``."""
        return f"{self.given} {self.reason} ({self.fix})"

    def to_dict(self) -> dict[str, str]:
        """The JSON form (``config check --json``)."""
        return {"key": self.key, "given": self.given, "reason": self.reason, "fix": self.fix}


class ConfigError(InvalidRequest):
    """Settings that cannot be used; ``problems`` lists every bad key and value at once."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(
            "; ".join(p.line() for p in problems),
            code="bad_config",
            key=problems[0].key,
            problems=[p.to_dict() for p in problems],
        )
        self.problems = tuple(problems)


@dataclass(frozen=True, slots=True)
class _Given:
    """A raw value and where it came from."""

    value: Any
    kind: str  # "file", "env", "flag"
    name: str  # the config key, variable or flag
    path: Path | None = None

    def show(self) -> str:
        value = str(self.value) if isinstance(self.value, Path) else self.value
        if self.kind == "env":
            return f"{self.name}={value!r}"
        if self.kind == "file":
            return f"{self.name} = {value!r} in {self.path}"
        return f"{self.name} {value!r}"


def _coerce(kind: str, value: Any) -> Any:
    """``value`` as a field of type ``kind``; ValueError names what it is not."""
    if "tuple" in kind:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        if not isinstance(value, list | tuple):
            raise ValueError("is not a list")
        return tuple(str(v) for v in value)
    if "Path" in kind:
        return Path(str(value))
    if "bool" in kind:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError("is not true or false")
    if "int" in kind:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError("is not a whole number")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValueError("is not a whole number") from None
    if "float" in kind:
        if isinstance(value, bool):
            raise ValueError("is not a number")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError("is not a number") from None
    if isinstance(value, dict | list):
        raise ValueError("is not a string")
    return str(value)


def _type_fix(kind: str) -> str:
    for word, fix in (
        ("tuple", "give a list (comma-separated in a variable or flag)"),
        ("bool", "give true or false"),
        ("int", "give a whole number"),
        ("float", "give a number"),
    ):
        if word in kind:
            return fix
    return "give a string"


def _read_file(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except OSError as exc:
        raise InvalidRequest(
            f"cannot read config file {path}: {exc.strerror}", code="bad_config"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise InvalidRequest(
            f"config file {path} is not valid TOML: {exc}", code="bad_config"
        ) from exc


def _gather(
    path: Path | None,
    env: Mapping[str, str],
    overrides: Mapping[str, Mapping[str, Any]],
    flags: Mapping[str, str],
    problems: list[Problem],
) -> dict[str, dict[str, _Given]]:
    """Every given value by section and name; later sources replace earlier ones."""
    values: dict[str, dict[str, _Given]] = {f.name: {} for f in dataclasses.fields(Settings)}
    if path is not None:
        for section, table in _read_file(path).items():
            if section not in values or not isinstance(table, dict):
                problems.append(
                    Problem(
                        section,
                        f"[{section}] in {path}",
                        "is not a section",
                        f"use {', '.join(values)}",
                    )
                )
                continue
            for name, raw in table.items():
                values[section][name] = _Given(raw, "file", f"{section}.{name}", path)
    for section in values:
        prefix = f"NODECHAT_{section.upper()}_"
        for var, raw in env.items():
            if var.startswith(prefix):
                values[section][var[len(prefix) :].lower()] = _Given(raw, "env", var)
    for var, (section, name) in ENV_ALIASES.items():
        if var in env:
            values[section][name] = _Given(env[var], "env", var)
    for section, table in overrides.items():
        for name, raw in table.items():
            if raw is not None:
                key = f"{section}.{name}"
                values[section][name] = _Given(raw, "flag", flags.get(key, key))
    return values


def given_as(
    key: str,
    *,
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    flags: Mapping[str, str] | None = None,
) -> str:
    """How the operator gave ``key`` (same sources as :func:`load_settings`), for messages:
    ``--data-dir '/x'``, ``NODECHAT_DATA_DIR='/x'``, ``serve.data_dir = '/x' in f.toml``."""
    env = os.environ if env is None else env
    path = config_file or (Path(env["NODECHAT_CONFIG"]) if env.get("NODECHAT_CONFIG") else None)
    section, name = key.split(".", 1)
    given = _gather(path, env, overrides or {}, flags or {}, [])[section].get(name)
    if given is None:
        part = getattr(Settings(), section)
        return f"{key} {str(getattr(part, name))!r} (the default)"
    return given.show()


def load_settings(
    *,
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    flags: Mapping[str, str] | None = None,
) -> Settings:
    """Build the settings from defaults, file, environment and CLI ``overrides``.

    ``flags`` names the CLI flag of each overridden ``section.name``, so an error
    says ``--port 'abc'`` rather than the key. Every bad key and value is
    reported at once, in one :class:`ConfigError`.
    """
    env = os.environ if env is None else env
    path = config_file or (Path(env["NODECHAT_CONFIG"]) if env.get("NODECHAT_CONFIG") else None)
    problems: list[Problem] = []
    values = _gather(path, env, overrides or {}, flags or {}, problems)
    built: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        cls = type(getattr(Settings(), f.name))
        known = {sf.name: str(sf.type) for sf in dataclasses.fields(cls)}
        kwargs = {}
        for name, given in values[f.name].items():
            key = f"{f.name}.{name}"
            if name not in known:
                fix = "check the spelling; `nodechat admin config generate` lists every setting"
                problems.append(Problem(key, given.show(), "is not a setting", fix))
                continue
            try:
                value = _coerce(known[name], given.value)
            except ValueError as exc:
                reason, fix = TYPE_VERDICTS.get(key, (str(exc), _type_fix(known[name])))
                problems.append(Problem(key, given.show(), reason, fix))
                continue
            verdict = check(key, value)
            if verdict is not None:
                problems.append(Problem(key, given.show(), *verdict))
                continue
            kwargs[name] = value
        built[f.name] = cls(**kwargs)
    if problems:
        raise ConfigError(problems)
    return Settings(**built)
