"""What a valid value of each setting is: ranges, ports, addresses, URL schemes.

``nodechat.config`` coerces every value to its field's type, then asks
:func:`check` here; a problem comes back as ``(what is wrong, how to fix it)``
so the message can name the value, where it came from and the fix in one line.
Keys without a rule accept any value of their type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Verdict = tuple[str, str] | None  # (reason, fix), or None when the value is fine
Rule = Callable[[Any], Verdict]

STORE_SCHEMES = ("sqlite:///", "postgresql://", "postgres://", "mongodb://", "mongodb+srv://")
BUS_SCHEMES = ("memory://", "redis://", "rediss://")
LOG_LEVELS = ("debug", "info", "warning", "error")


def at_least(low: float, unit: str = "") -> Rule:
    """A number no smaller than ``low``."""
    suffix = f" {unit}" if unit else ""

    def rule(value: Any) -> Verdict:
        if value < low:
            return f"is below {low:g}{suffix}", f"give {low:g}{suffix} or more"
        return None

    return rule


def positive(unit: str = "") -> Rule:
    """A number greater than zero."""
    what = f"a number of {unit}" if unit else "a number"

    def rule(value: Any) -> Verdict:
        if value <= 0:
            return "is not above 0", f"give {what} above 0"
        return None

    return rule


def between(low: int, high: int) -> Rule:
    """An integer from ``low`` to ``high``."""

    def rule(value: Any) -> Verdict:
        if not low <= value <= high:
            return f"is outside {low}-{high}", f"give {low}-{high}"
        return None

    return rule


def port_fix(*, off: bool = False) -> str:
    """How to write a port."""
    return "give 1-65535, or 0 for a free port" + (", or -1 for off" if off else "")


def port(*, off: bool = False) -> Rule:
    """A TCP port, 0 for any free one (and -1 for off, if ``off``)."""
    fix = port_fix(off=off)

    def rule(value: Any) -> Verdict:
        if off and value == -1:
            return None
        if not 0 <= value <= 65535:
            return "is not a port number", fix
        return None

    return rule


def port_text(text: str) -> bool:
    """Whether ``text`` is a port number 0-65535."""
    return text.isdigit() and int(text) <= 65535


def address(value: Any) -> Verdict:
    """``HOST:PORT`` or ``:PORT`` (empty: the role's default)."""
    if value == "":
        return None
    _, sep, tail = str(value).rpartition(":")
    if not sep or not port_text(tail):
        return "is not HOST:PORT", "give e.g. 127.0.0.1:7810, or :0 for a free port"
    return None


def url(schemes: tuple[str, ...], *, empty: bool = False) -> Rule:
    """A URL starting with one of ``schemes`` (or empty, if ``empty``)."""

    def rule(value: Any) -> Verdict:
        if (empty and value == "") or str(value).startswith(schemes):
            return None
        return "is not a supported URL", f"give a URL starting with {' or '.join(schemes)}"

    return rule


def one_of(choices: tuple[str, ...]) -> Rule:
    """One of ``choices``."""

    def rule(value: Any) -> Verdict:
        if value not in choices:
            return "is not a known value", "give one of " + ", ".join(choices)
        return None

    return rule


def not_empty(what: str) -> Rule:
    """Any non-blank string."""

    def rule(value: Any) -> Verdict:
        if not str(value).strip():
            return "is empty", f"give {what}"
        return None

    return rule


RULES: dict[str, Rule] = {
    "serve.host": not_empty("a host name or IP address to listen on"),
    "serve.port": port(),
    "serve.api_port": port(off=True),
    "serve.data_dir": not_empty("a directory"),
    "serve.store": url(STORE_SCHEMES, empty=True),
    "serve.bus": url(BUS_SCHEMES),
    "auth.access_ttl": positive("seconds"),
    "auth.refresh_ttl": positive("seconds"),
    "auth.bcrypt_rounds": between(12, 31),
    "auth.login_failures_per_account": at_least(1),
    "auth.login_failures_per_address": at_least(1),
    "auth.login_failure_window": positive("seconds"),
    "socket.max_frame": at_least(1024, "bytes"),
    "socket.auth_deadline": positive("seconds"),
    "socket.ping_interval": positive("seconds"),
    "socket.ping_timeout": positive("seconds"),
    "socket.send_buffer": at_least(1024, "bytes"),
    "socket.requests_per_second": positive(),
    "socket.request_burst": at_least(1),
    "socket.account_requests_per_second": positive(),
    "socket.account_request_burst": at_least(1),
    "socket.typing_interval": at_least(0, "seconds"),
    "socket.replay_limit": at_least(0),
    "socket.forwarded_header": one_of(("x-forwarded-for", "forwarded")),
    "socket.voice_frames_per_second": positive(),
    "socket.voice_bytes_per_second": positive(),
    "socket.voice_queue": at_least(2048, "bytes"),
    "socket.voice_late_ms": positive(),
    "socket.voice_speaking_hold": positive("seconds"),
    "socket.voice_sweep_interval": positive("seconds"),
    "rpc.timeout": positive("seconds"),
    "rpc.retries": at_least(1),
    "rpc.auth": address,
    "rpc.group": address,
    "rpc.message": address,
    "node.listen": address,
    "node.public_url": url(("ws://", "wss://"), empty=True),
    "node.http": address,
    "node.registry_ttl": positive("seconds"),
    "node.bus_prefix": not_empty("a key prefix such as nodechat:"),
    "files.max_size": at_least(1, "bytes"),
    "files.quota": at_least(0, "bytes"),
    "files.unattached_ttl": at_least(60, "seconds"),
    "files.collect_interval": positive("seconds"),
    "files.backend": one_of(("fs", "s3")),
}


# What a value of the wrong type is, where "is not a whole number" would say too little.
TYPE_VERDICTS: dict[str, tuple[str, str]] = {
    "serve.port": ("is not a port number", port_fix()),
    "serve.api_port": ("is not a port number", port_fix(off=True)),
}


def check(key: str, value: Any) -> Verdict:
    """What is wrong with ``value`` for the setting ``key`` (``section.name``), if anything."""
    rule = RULES.get(key)
    return rule(value) if rule is not None else None
