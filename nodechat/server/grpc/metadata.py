"""The metadata keys nodechat's gRPC calls carry, reading them, and the service token."""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import Any

from nodechat.config import RpcSettings
from nodechat.errors import InvalidRequest

AUTHORIZATION = "authorization"  # "Bearer <service token>" on every call
USER = "x-nodechat-user"  # the caller's user id, for methods that act for a user
SESSION = "x-nodechat-session"  # the caller's session id
ERROR = "x-nodechat-error-bin"  # trailer: orjson of ChatError.to_dict()

Metadata = tuple[tuple[str, str | bytes], ...]


def first(metadata: Iterable[Any] | None, key: str) -> str | bytes | None:
    """The first value of ``key`` in gRPC metadata (pairs of key and value), or None."""
    for item in metadata or ():
        k, v = item[0], item[1]
        if k == key:
            value: str | bytes = v
            return value
    return None


# Whoever holds the token is fully trusted, so it must not be guessable: at least
# this many characters, and this many different ones (`nodechat keygen
# --service-token` makes 43 random URL-safe ones).
MIN_TOKEN_LENGTH = 24
MIN_TOKEN_DISTINCT = 8
GENERATE = "generate one with `nodechat keygen --service-token`"


def service_token(settings: RpcSettings) -> str:
    """The shared service token; ``InvalidRequest(bad_config)`` when it is not set or weak.

    The message never shows the token itself."""
    token = settings.service_token
    if not token:
        raise InvalidRequest(
            "rpc.service_token is empty: split roles need a service token, set "
            "NODECHAT_SERVICE_TOKEN (the same secret on every role) or rpc.service_token "
            f"in the config file; {GENERATE}",
            code="bad_config",
            key="rpc.service_token",
        )
    if len(token) < MIN_TOKEN_LENGTH or len(set(token)) < MIN_TOKEN_DISTINCT:
        raise InvalidRequest(
            f"rpc.service_token is too weak: give at least {MIN_TOKEN_LENGTH} characters, "
            f"{MIN_TOKEN_DISTINCT} of them different ({GENERATE})",
            code="weak_service_token",
            key="rpc.service_token",
        )
    return token


def authorization(token: str) -> tuple[str, str]:
    """The metadata pair that presents the service token."""
    return AUTHORIZATION, f"Bearer {token}"


def presents(metadata: Iterable[Any] | None, token: str) -> bool:
    """Whether the metadata carries ``authorization: Bearer <token>`` (constant-time compare)."""
    presented = first(metadata, AUTHORIZATION)
    expected = authorization(token)[1].encode()
    return isinstance(presented, str) and hmac.compare_digest(presented.encode(), expected)
