"""TLS material for the gRPC server and channels, from :class:`~nodechat.config.RpcSettings`.

``tls_cert``/``tls_key``/``tls_ca`` are paths to PEM files, or the PEM text itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc

from nodechat.config import RpcSettings
from nodechat.errors import InvalidRequest


def read_pem(value: str, setting: str) -> bytes:
    """The PEM bytes named by a setting (a path, or inline PEM)."""
    if value.lstrip().startswith("-----BEGIN"):
        return value.encode()
    try:
        return Path(value).read_bytes()
    except OSError as exc:
        raise InvalidRequest(
            f"rpc.{setting}: cannot read {value}: {exc.strerror}",
            code="bad_config",
            key=f"rpc.{setting}",
        ) from exc


def _key_pair(settings: RpcSettings) -> tuple[bytes, bytes] | None:
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise InvalidRequest(
            "rpc.tls_cert and rpc.tls_key go together", code="bad_config", key="rpc.tls_cert"
        )
    if not settings.tls_cert:
        return None
    return read_pem(settings.tls_key, "tls_key"), read_pem(settings.tls_cert, "tls_cert")


def server_credentials(settings: RpcSettings) -> Any | None:
    """Server TLS credentials (client certificates required when ``tls_ca`` is set), or None."""
    pair = _key_pair(settings)
    if pair is None:
        if settings.tls_ca:
            raise InvalidRequest(
                "rpc.tls_ca needs rpc.tls_cert and rpc.tls_key on a server",
                code="bad_config",
                key="rpc.tls_ca",
            )
        return None
    ca = read_pem(settings.tls_ca, "tls_ca") if settings.tls_ca else None
    return grpc.ssl_server_credentials(
        [pair], root_certificates=ca, require_client_auth=ca is not None
    )


def channel_credentials(settings: RpcSettings) -> Any | None:
    """Channel TLS credentials (with this process's certificate when set), or None: plaintext."""
    pair = _key_pair(settings)
    if pair is None and not settings.tls_ca:
        return None
    ca = read_pem(settings.tls_ca, "tls_ca") if settings.tls_ca else None
    key, cert = pair if pair is not None else (None, None)
    return grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=cert
    )
