"""The server commands' options: each flag is one setting (nodechat.config).

Typer does not read these flags' variables itself (no ``envvar=``):
:func:`nodechat.config.load_settings` is the one reader of ``NODECHAT_*``, so
flags beat variables beat the file everywhere, and an error can say which of
the three a bad value came from. The help text still names the variable and
the default. Values are taken as text and converted by the settings loader,
so ``--port abc`` is reported like ``NODECHAT_PORT=abc``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import typer

from nodechat.config import env_name

# flag -> setting (section.name)
FLAGS = {
    "--host": "serve.host",
    "--port": "serve.port",
    "--api-port": "serve.api_port",
    "--data-dir": "serve.data_dir",
    "--store": "serve.store",
    "--bus": "serve.bus",
    "--listen": "node.listen",
    "--http": "node.http",
    "--public-url": "node.public_url",
    "--auth": "rpc.auth",
    "--group": "rpc.group",
    "--message": "rpc.message",
    "--tls-cert": "rpc.tls_cert",
    "--tls-key": "rpc.tls_key",
    "--tls-ca": "rpc.tls_ca",
}
KEYS = {key: flag for flag, key in FLAGS.items()}


def setting(flag: str, text: str, *, metavar: str, default: str = "") -> Any:
    """A typer option for the setting behind ``flag``, its variable and default in the help."""
    # Rich markup would swallow a bare "[default: …]", hence the escaped brackets.
    shown = f"{text} \\[env var: {env_name(FLAGS[flag])}]"
    if default:
        shown += f" \\[default: {default}]"
    return typer.Option(flag, help=shown, metavar=metavar, show_default=False)


def overrides(given: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Flag values (None: not given) as ``load_settings`` overrides, by section."""
    out: dict[str, dict[str, Any]] = {}
    for flag, value in given.items():
        section, name = FLAGS[flag].split(".", 1)
        out.setdefault(section, {})[name] = value
    return out


def flag_names(given: Mapping[str, Any]) -> dict[str, str]:
    """``section.name`` -> the flag it was given with."""
    return {FLAGS[flag]: flag for flag in given}


def listen(port: int) -> Any:
    """``--listen`` of a role whose default port is ``port``."""
    return setting(
        "--listen",
        "HOST:PORT to listen on (port 0 picks a free one).",
        metavar="HOST:PORT",
        default=f"127.0.0.1:{port}",
    )


DATA_DIR_HELP = "Where the database and keys live."
STORE_HELP = "Store URL (sqlite:///…, postgresql://…, mongodb://…)."
BUS_HELP = "Event bus URL: redis://HOST:6379/0 (or memory:// for one process)."


def data_dir() -> Any:
    """``--data-dir``."""
    return setting("--data-dir", DATA_DIR_HELP, metavar="DIR", default="./nodechat-data")


def store() -> Any:
    """``--store``."""
    return setting("--store", STORE_HELP, metavar="URL", default="sqlite:///<data-dir>/nodechat.db")


def bus(default: str = "") -> Any:
    """``--bus``."""
    return setting("--bus", BUS_HELP, metavar="URL", default=default)


def tls(flag: str) -> Any:
    """``--tls-cert``, ``--tls-key`` or ``--tls-ca``."""
    text = {
        "--tls-cert": "PEM certificate of this process (a path); without it: plaintext.",
        "--tls-key": "Its private key (a path; inline PEM only in the variable).",
        "--tls-ca": "CA certificate of the peers; with --tls-cert/--tls-key: mutual TLS.",
    }[flag]
    return setting(flag, text, metavar="PATH")


LOG_LEVEL_HELP = "debug, info, warning or error."
SECRETS_EPILOG = (
    "The service token every role shares is read from NODECHAT_SERVICE_TOKEN "
    "(or rpc.service_token in --config), never from a flag, so it does not show in ps. "
    "Mutual TLS: NODECHAT_RPC_TLS_CERT, NODECHAT_RPC_TLS_KEY and NODECHAT_RPC_TLS_CA "
    "(or the --tls-* flags). Generate a token with `nodechat keygen --service-token`."
)
