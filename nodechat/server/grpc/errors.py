"""ChatError <-> gRPC status, both ways, so a remote call fails exactly like a local one.

The server maps each :class:`~nodechat.errors.ChatError` to a status code and
puts ``ChatError.to_dict()`` in the trailer ``x-nodechat-error-bin``; the client
rebuilds the same subclass with the same ``code``, ``message`` and details.
A failure without that trailer (deadline, connection, TLS) becomes
``Unavailable(code="service_unavailable")``.
"""

from __future__ import annotations

import logging
from typing import Any

import grpc
import orjson

from nodechat.errors import (
    ChatError,
    Conflict,
    Forbidden,
    InternalError,
    InvalidCredentials,
    InvalidRequest,
    NotFound,
    RateLimited,
    Unauthenticated,
    Unavailable,
)
from nodechat.server.grpc import metadata

log = logging.getLogger(__name__)

S = grpc.StatusCode

_STATUS_OF: list[tuple[type[ChatError], Any]] = [
    (InvalidRequest, S.INVALID_ARGUMENT),
    (Unauthenticated, S.UNAUTHENTICATED),
    (Forbidden, S.PERMISSION_DENIED),
    (NotFound, S.NOT_FOUND),
    (RateLimited, S.RESOURCE_EXHAUSTED),
    (Unavailable, S.UNAVAILABLE),
]

_CLASS_OF: dict[Any, type[ChatError]] = {
    S.INVALID_ARGUMENT: InvalidRequest,
    S.UNAUTHENTICATED: Unauthenticated,
    S.PERMISSION_DENIED: Forbidden,
    S.NOT_FOUND: NotFound,
    S.ALREADY_EXISTS: Conflict,
    S.FAILED_PRECONDITION: Conflict,
    S.RESOURCE_EXHAUSTED: RateLimited,
    S.UNAVAILABLE: Unavailable,
}

SERVICE_UNAVAILABLE = "service_unavailable"
SERVICE_UNAUTHENTICATED = "service_unauthenticated"


def status_of(exc: ChatError) -> Any:
    """The gRPC status code of an error (a ``grpc.StatusCode``)."""
    if isinstance(exc, Conflict):
        taken = exc.code == "conflict" or exc.code.endswith(("_taken", "_exists"))
        return S.ALREADY_EXISTS if taken or exc.code == "already_member" else S.FAILED_PRECONDITION
    for cls, status in _STATUS_OF:
        if isinstance(exc, cls):
            return status
    return S.INTERNAL


def error_trailer(exc: ChatError) -> metadata.Metadata:
    """The trailing metadata that carries ``exc`` to the client."""
    return ((metadata.ERROR, orjson.dumps(exc.to_dict(), default=str)),)


def build_error(status: Any, data: dict[str, Any]) -> ChatError:
    """The ChatError a server sent as ``status`` and ``to_dict()`` form ``data``."""
    details = dict(data)
    code = str(details.pop("code", "") or "internal")
    message = str(details.pop("message", "") or code)
    cls = _CLASS_OF.get(status, InternalError)
    if cls is Unauthenticated and code == InvalidCredentials.code:
        cls = InvalidCredentials
    if cls is RateLimited:
        retry_after = details.pop("retry_after", 0.0)
        limited = RateLimited(message, retry_after=float(retry_after or 0.0), code=code)
        limited.details.update(details)
        return limited
    return cls(message, code=code, **details)


def copy_error(exc: ChatError) -> ChatError:
    """A fresh instance equal to ``exc`` (one per waiting caller, so tracebacks stay apart)."""
    return build_error(status_of(exc), exc.to_dict())


def _trailer_error(err: Any) -> dict[str, Any] | None:
    try:
        raw = metadata.first(err.trailing_metadata(), metadata.ERROR)
    except Exception:  # a locally generated error may carry no metadata at all
        return None
    if raw is None:
        return None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        log.warning("malformed %s trailer ignored", metadata.ERROR)
        return None
    return data if isinstance(data, dict) else None


def has_chat_error(err: Any) -> bool:
    """Whether a failed call carries a nodechat error (the service answered) in its trailer."""
    return _trailer_error(err) is not None


def error_from_rpc(err: Any, service: str) -> ChatError:
    """The ChatError for a failed call (a ``grpc.aio.AioRpcError``) to ``service``."""
    status = err.code()
    data = _trailer_error(err)
    if data is not None:
        return build_error(status, data)
    detail = err.details() or status.name
    if status in (S.UNAVAILABLE, S.DEADLINE_EXCEEDED, S.CANCELLED):
        return Unavailable(
            f"{service} is unavailable: {detail}", code=SERVICE_UNAVAILABLE, status=status.name
        )
    if status is S.UNAUTHENTICATED:
        return Unauthenticated(
            f"{service} refused the call: {detail}", code=SERVICE_UNAUTHENTICATED
        )
    return InternalError(f"{service} failed: {detail}", code="rpc_failed", status=status.name)


_BY_NUMBER = {status.value[0]: status for status in S}


def status_from_number(number: int) -> Any:
    """The ``grpc.StatusCode`` with the wire number ``number`` (INTERNAL if unknown)."""
    return _BY_NUMBER.get(number, S.INTERNAL)
