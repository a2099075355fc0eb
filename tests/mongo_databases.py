"""MongoDB for tests: mongomock by default, a real server when NODECHAT_TEST_MONGO_URL is set.

mongomock keeps each client's data in that client, so a test place (its
``tmp_path``) gets one client, shared by every open of that place: closing and
reopening a store sees the same data, as with a file or a server.

mongomock is not thread-safe for what the store relies on: an insert checks
the unique indexes after adding the document, and ``find_one_and_update``
finds, then updates, with nothing in between held. A real server does each
of those atomically. So every mongomock call goes through one lock here: the
store's thread pool still runs its multi-step operations concurrently (the
300 concurrent appends really race between steps), but each single step is
atomic, as on a server. The production code has no such lock.

Against a real server (``NODECHAT_TEST_MONGO_URL``, e.g.
``mongodb://localhost:27017/?replicaSet=rs0``) each test gets a fresh
``nodechat_test_<random>`` database, dropped afterwards.
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import mongomock
import pymongo
import pytest
from mongomock.collection import Cursor
from mongomock.command_cursor import CommandCursor

MONGO_URL = os.environ.get("NODECHAT_TEST_MONGO_URL", "")
MOCK_URL = "mongodb://mongomock.invalid/nodechat"

_LOCK = threading.RLock()
_PROXIED = (mongomock.MongoClient, mongomock.Database, mongomock.Collection)


class Locked:
    """A mongomock client, database or collection whose every call holds one lock."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if isinstance(attr, _PROXIED):
            return Locked(attr)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with _LOCK:
                return _locked(attr(*args, **kwargs))

        return call

    def __getitem__(self, name: str) -> Any:
        with _LOCK:
            return _locked(self._target[name])


def _locked(value: Any) -> Any:
    if isinstance(value, _PROXIED):
        return Locked(value)
    if isinstance(value, (Cursor, CommandCursor)):  # read it all while holding the lock
        return list(value)
    return value


_MOCK_CLIENTS: dict[Path, Locked] = {}
_REAL_DATABASES: list[str] = []


def mock_client(place: Path) -> Any:
    """The one (locked) mongomock client of a test place."""
    return _MOCK_CLIENTS.setdefault(place, Locked(mongomock.MongoClient()))


def real_database_url() -> str:
    """A fresh database on the test server; skips the test when none is configured."""
    if not MONGO_URL:
        pytest.skip("NODECHAT_TEST_MONGO_URL is not set (see docs/storage.md, Testing)")
    name = f"nodechat_test_{uuid.uuid4().hex[:16]}"
    url = urlsplit(MONGO_URL)._replace(path=f"/{name}").geturl()
    _REAL_DATABASES.append(url)
    return url


def cleanup() -> None:
    """Forget the mock clients and drop the real databases of the test that ended."""
    _MOCK_CLIENTS.clear()
    while _REAL_DATABASES:
        url = _REAL_DATABASES.pop()
        name = urlsplit(url).path.lstrip("/")
        assert name.startswith("nodechat_test_"), name
        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
            url, serverSelectionTimeoutMS=5000
        )
        try:
            client.drop_database(name)
        finally:
            client.close()
