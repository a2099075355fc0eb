"""Running pymongo's synchronous API from asyncio, and mapping its errors.

pymongo's client is thread-safe and pools connections, so a store method packs
its (few) MongoDB operations into one plain function and runs it on a bounded
thread pool: the event loop never blocks on the network, and no more than
``workers`` operations are in flight. mongomock mocks only this synchronous
API, which is why the backend is built on it rather than on pymongo's asyncio
client.

A caller that is cancelled while its function runs does not stop the function:
the write still completes (or fails) on its own. That is safe because every
write is idempotent to retry (a message send repeats with the same nonce).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from bson.errors import BSONError, InvalidDocument
from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    DocumentTooLarge,
    DuplicateKeyError,
    ExecutionTimeout,
    OperationFailure,
    PyMongoError,
    WriteConcernError,
)

from nodechat.errors import ChatError, Conflict, InternalError, InvalidRequest, Unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
Document = dict[str, Any]
Db = Database[Document]

DUPLICATE_KEY = 11000
_AUTH_CODES = {13, 18}  # Unauthorized, AuthenticationFailed


class Engine:
    """One database handle, the thread pool that drives it, and the open/closed state."""

    def __init__(
        self,
        db: Db,
        *,
        owned_client: MongoClient[Document] | None,
        description: str,
        workers: int = 32,
    ) -> None:
        self.db = db
        self.description = description
        self._owned_client = owned_client
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mongo")
        self._closed = False

    async def run(self, fn: Callable[[Db], T]) -> T:
        """Run ``fn(db)`` on the pool; pymongo and bson errors come back as ChatErrors."""
        if self._closed:
            raise Unavailable("the store is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn, self.db)
        except ChatError:
            raise
        except (PyMongoError, BSONError) as exc:
            raise map_error(exc) from exc
        except Exception as exc:  # a bug: keep the message generic, log the details
            log.exception("store operation failed")
            raise InternalError("store operation failed") from exc

    async def close(self) -> None:
        """Let running operations finish, then release the pool and the owned client."""
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._executor.shutdown, True)
        if self._owned_client is not None:
            with contextlib.suppress(PyMongoError):  # closing only releases sockets
                self._owned_client.close()


def is_duplicate(exc: PyMongoError) -> bool:
    """Whether a write failed only because a unique index already holds the key."""
    if isinstance(exc, DuplicateKeyError):
        return True
    if isinstance(exc, BulkWriteError):
        errors = exc.details.get("writeErrors", [])
        return (
            bool(errors)
            and all(e.get("code") == DUPLICATE_KEY for e in errors)
            and not exc.details.get("writeConcernErrors")
        )
    return isinstance(exc, OperationFailure) and exc.code == DUPLICATE_KEY


def map_error(exc: PyMongoError | BSONError) -> ChatError:
    """The nodechat error for a pymongo or bson failure (the one mapping of the backend)."""
    if isinstance(exc, DuplicateKeyError):
        return Conflict("a record with this key exists")
    if isinstance(exc, WriteConcernError):
        # Applied on the primary, perhaps, but not confirmed durable: the caller
        # must not report success; a retry is idempotent.
        log.warning("write concern not satisfied: %s", exc)
        return Unavailable(
            "the store could not confirm the write as durable", code="store_unavailable"
        )
    if isinstance(exc, ConnectionFailure):
        log.warning("MongoDB unreachable: %s", exc)
        return Unavailable("the store is unreachable", code="store_unavailable")
    if isinstance(exc, ExecutionTimeout):
        return Unavailable("the store took too long", code="store_unavailable")
    if isinstance(exc, (DocumentTooLarge, InvalidDocument)):
        return InvalidRequest("the record is too large or malformed for the store")
    if isinstance(exc, OperationFailure) and exc.code in _AUTH_CODES:
        log.error("MongoDB refused the credentials or the operation: %s", exc)
        return Unavailable("the store refused the operation", code="store_unavailable")
    log.error("MongoDB operation failed: %r", exc)
    return InternalError("store operation failed")
