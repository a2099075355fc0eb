"""The one error tree of nodechat.

Every failure a client can see is a :class:`ChatError` with a stable ``code``.
Each boundary maps it: the WebSocket adapter to an error frame, the CLI to an
exit code and a message. Lower-layer exceptions (sqlite3, jwt, bcrypt) are
caught in their adapter and re-raised as one of these with ``raise ... from``.

    ChatError
    ├── InvalidRequest        invalid_request   bad fields, types, values
    │   └── TooLarge          too_large         file_too_large, quota_exceeded (HTTP 413)
    ├── Unauthenticated       unauthenticated   no / bad / expired token
    │   └── InvalidCredentials invalid_credentials
    ├── Forbidden             forbidden         authenticated, but not allowed
    ├── NotFound              not_found         absent, or hidden from the caller
    ├── Conflict              conflict          unique field taken (username_taken, ...)
    ├── RateLimited           rate_limited      slow down; ``retry_after`` seconds
    ├── Unavailable           unavailable       shutting down, backend unreachable
    └── InternalError         internal          a bug; details are logged, not sent
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class ChatError(Exception):
    """Root of every error a client may see; ``code`` is stable and documented."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The wire form: ``{"code", "message", **details}``."""
        return {"code": self.code, "message": self.message, **self.details}


class InvalidRequest(ChatError):
    """The request is malformed or a field has a bad value."""

    code = "invalid_request"


class TooLarge(InvalidRequest):
    """Too many bytes: a file over the size limit, or past its owner's quota."""

    code = "too_large"


class Unauthenticated(ChatError):
    """The caller is not (or no longer) authenticated."""

    code = "unauthenticated"


class InvalidCredentials(Unauthenticated):
    """Unknown user or wrong password: deliberately the same answer."""

    code = "invalid_credentials"


class Forbidden(ChatError):
    """The caller is known but may not do this."""

    code = "forbidden"


class NotFound(ChatError):
    """The thing does not exist, or the caller may not learn that it does."""

    code = "not_found"


class Conflict(ChatError):
    """A unique value is already taken, or the state does not allow this."""

    code = "conflict"


class RateLimited(ChatError):
    """Too many requests; ``retry_after`` says when to try again."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float, code: str | None = None) -> None:
        super().__init__(message, code=code, retry_after=round(max(retry_after, 0.0), 3))
        self.retry_after = retry_after


class Unavailable(ChatError):
    """The server cannot serve this now (shutting down, backend down)."""

    code = "unavailable"


class InternalError(ChatError):
    """An unexpected failure; the cause is logged on the server only."""

    code = "internal"


__all__ = [
    "ChatError",
    "Conflict",
    "Forbidden",
    "InternalError",
    "InvalidCredentials",
    "InvalidRequest",
    "NotFound",
    "RateLimited",
    "TooLarge",
    "Unauthenticated",
    "Unavailable",
]


async def settle(one: Awaitable[T]) -> T | ChatError:
    """One item's outcome: its result, or the ChatError it failed with (others propagate)."""
    try:
        return await one
    except ChatError as exc:
        return exc


async def fold(batch: Awaitable[Sequence[T | ChatError]], n: int) -> list[T | ChatError]:
    """A batch's ``n`` per-item outcomes; a failure of the whole batch is every item's error.

    An unexpected exception is logged and becomes ``InternalError`` for each item,
    so a batching stage never raises past its callers' per-item answers.
    """
    try:
        return list(await batch)
    except ChatError as exc:
        return [exc] * n
    except Exception:
        log.exception("a batch of %d failed", n)
        return [InternalError("internal error")] * n
