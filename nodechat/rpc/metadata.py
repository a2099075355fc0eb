"""The metadata keys nodechat's gRPC calls carry, and reading them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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
