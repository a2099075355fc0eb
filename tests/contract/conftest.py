"""The store contract runs against every backend.

Each backend contributes one opener: given a test's ``tmp_path``, it returns a
function that opens a store at one place (the same place every call, so a
test can close and reopen). Adding a backend is one opener and one entry in
``OPENERS``; a backend whose server is absent should ``pytest.skip`` (and
fail in CI, ``CI=true``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from nodechat.storage import Store
from nodechat.storage.mongo import open_mongo
from nodechat.storage.postgres import open_postgres
from nodechat.storage.sqlite import open_sqlite
from tests import mongo_databases
from tests.postgres_databases import create_database, drop_database

StoreOpener = Callable[[], Store]

_POSTGRES_DATABASES: list[str] = []  # made during the current test; dropped after it


def _sqlite(tmp_path: Path) -> StoreOpener:
    path = tmp_path / "chat.db"
    return lambda: open_sqlite(path)


def _postgresql(tmp_path: Path) -> StoreOpener:
    url = create_database()  # from NODECHAT_TEST_POSTGRES_URL
    _POSTGRES_DATABASES.append(url)
    return lambda: open_postgres(url)


def _mongodb(tmp_path: Path) -> StoreOpener:
    client = mongo_databases.mock_client(tmp_path)  # mongomock, one client per place
    return lambda: open_mongo(mongo_databases.MOCK_URL, client=client)


def _mongodb_real(tmp_path: Path) -> StoreOpener:
    url = mongo_databases.real_database_url()  # skips unless NODECHAT_TEST_MONGO_URL is set
    return lambda: open_mongo(url)


OPENERS: dict[str, Callable[[Path], StoreOpener]] = {
    "sqlite": _sqlite,
    "postgresql": _postgresql,
    "mongodb": _mongodb,
    "mongodb-real": _mongodb_real,
}


@pytest.fixture(autouse=True)
def _drop_postgres_databases() -> Iterator[None]:
    """Drop the databases the test's openers made, after its stores are closed."""
    yield
    while _POSTGRES_DATABASES:
        drop_database(_POSTGRES_DATABASES.pop())


@pytest.fixture(autouse=True)
def _drop_mongo_databases() -> Iterator[None]:
    """Forget the test's mongomock clients and drop its real MongoDB databases."""
    yield
    mongo_databases.cleanup()


@pytest.fixture(params=sorted(OPENERS))
def store_opener(request: pytest.FixtureRequest, tmp_path: Path) -> StoreOpener:
    """Opens a store of the parametrized backend, at the same place every call."""
    opener: StoreOpener = OPENERS[request.param](tmp_path)
    return opener


@pytest.fixture
async def store(store_opener: StoreOpener) -> AsyncIterator[Store]:
    """An open, empty store; closed after the test."""
    opened = store_opener()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def store_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Callable[[], Awaitable[Store]]]:
    """Opens more empty stores of the test's backend (e.g. a migration target)."""
    backend = request.node.callspec.params["store_opener"]
    opened: list[Store] = []

    async def make() -> Store:
        place = tmp_path / f"extra{len(opened)}"
        place.mkdir()
        extra = OPENERS[backend](place)()
        opened.append(extra)
        return extra

    yield make
    for extra in opened:
        await extra.close()
