"""Fresh PostgreSQL databases for tests: created from NODECHAT_TEST_POSTGRES_URL, then dropped.

A missing server skips the test locally and fails it in CI (``CI=true``).
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit

import psycopg
import pytest

POSTGRES_URL = os.environ.get(
    "NODECHAT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    """A connection to the server's maintenance database; skip or fail if there is none."""
    try:
        return psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        message = f"no PostgreSQL at {POSTGRES_URL} ({str(exc).strip()})"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)


def database_url(name: str) -> str:
    """The test server's URL with another database name."""
    return urlsplit(POSTGRES_URL)._replace(path=f"/{name}").geturl()


def create_database() -> str:
    """Create an empty ``nodechat_test_<random>`` database; its URL."""
    name = f"nodechat_test_{uuid.uuid4().hex[:16]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return database_url(name)


def drop_database(url: str) -> None:
    """Drop a database made by :func:`create_database`, whoever is still connected."""
    name = urlsplit(url).path.lstrip("/")
    assert name.startswith("nodechat_test_"), name
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
