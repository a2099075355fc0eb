"""The store contract runs against every backend.

Each backend contributes one opener: given a test's ``tmp_path``, it returns a
function that opens a store at one place (the same place every call, so a
test can close and reopen). Adding a backend is one opener and one entry in
``OPENERS``; a backend whose server is absent should ``pytest.skip``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from nodechat.storage import Store
from nodechat.storage.sqlite import open_sqlite

StoreOpener = Callable[[], Store]


def _sqlite(tmp_path: Path) -> StoreOpener:
    path = tmp_path / "chat.db"
    return lambda: open_sqlite(path)


OPENERS: dict[str, Callable[[Path], StoreOpener]] = {
    "sqlite": _sqlite,
    # "postgresql": _postgresql,  (a fresh database per test, from NODECHAT_TEST_POSTGRES_URL)
    # "mongodb": _mongodb,
}


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
