"""The HTTP boundary of the error tree: ChatError → status + JSON body.

Every error response is ``{"error": {"code", "message", ...details}}`` with a
stable ``code`` (docs/protocol.md §7). The status follows the error's class:

    TooLarge (file_too_large, quota_exceeded)                      413
    InvalidRequest (and invalid_request, bad_frame, unknown_op)  400
    Unauthenticated                                                401
    Forbidden                                                      403
    NotFound                                                       404
    Conflict                                                       409
    RateLimited                                                    429 + Retry-After
    Unavailable                                                    503
    InternalError, any other ChatError                             500

The HTTP layer adds four codes of its own: ``not_found`` (no such route),
``method_not_allowed`` (405, with ``Allow``), ``payload_too_large`` (413)
and ``bad_frame`` for a body that is not a JSON object.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from aiohttp import web

from nodechat.errors import (
    ChatError,
    Conflict,
    Forbidden,
    InternalError,
    InvalidRequest,
    NotFound,
    RateLimited,
    TooLarge,
    Unauthenticated,
    Unavailable,
)

_BY_CLASS: tuple[tuple[type[ChatError], int], ...] = (
    (TooLarge, 413),  # before its base class InvalidRequest
    (InvalidRequest, 400),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (RateLimited, 429),
    (Unavailable, 503),
    (InternalError, 500),
)
# Codes raised as a bare ChatError (e.g. the frame codec's FrameError) rather than a subclass.
_BY_CODE = {
    "invalid_request": 400,
    "bad_frame": 400,
    "unknown_op": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "rate_limited": 429,
    "unavailable": 503,
}
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}

INTERNAL_MESSAGE = "internal server error"
JSON_TYPE = "application/json"


def status_of(error: ChatError) -> int:
    """The HTTP status of a ChatError."""
    for cls, status in _BY_CLASS:
        if isinstance(error, cls):
            return status
    return _BY_CODE.get(error.code, 500)


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response that no cache keeps."""
    return web.Response(
        body=orjson.dumps(body),
        status=status,
        content_type=JSON_TYPE,
        headers={
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            **(headers or {}),
        },
    )


def error_response(error: ChatError) -> web.Response:
    """The response for a ChatError, with ``Retry-After`` or ``WWW-Authenticate`` if due."""
    status = status_of(error)
    headers: dict[str, str] = {}
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="nodechat"'
    return json_response({"error": error.to_dict()}, status, headers)


def from_http_exception(exc: web.HTTPException) -> ChatError:
    """The ChatError for an aiohttp routing/body exception (404, 405, 413, ...)."""
    code = _HTTP_CODES.get(exc.status, "invalid_request" if exc.status < 500 else "internal")
    message = exc.reason.lower() if exc.reason else code.replace("_", " ")
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return ChatError(
            f"method {exc.method} is not allowed here",
            code=code,
            allowed=sorted(exc.allowed_methods),
        )
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return ChatError(exc.text or message, code=code)
    if exc.status == 404:
        return NotFound("no such route; the API is under /api/v1, see /docs", code=code)
    return ChatError(message, code=code)


def http_error_response(exc: web.HTTPException) -> web.Response:
    """A JSON response with the status of an aiohttp exception."""
    error = from_http_exception(exc)
    headers = {}
    if isinstance(exc, web.HTTPMethodNotAllowed):
        headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
    return json_response({"error": error.to_dict()}, exc.status, headers)


def internal_response() -> web.Response:
    """The answer to an unexpected exception (its traceback goes to the log only)."""
    return json_response({"error": {"code": "internal", "message": INTERNAL_MESSAGE}}, 500)
