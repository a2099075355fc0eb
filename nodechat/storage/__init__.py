"""Storage: the :class:`Store` interface and :func:`open_store`, which picks a backend by URL."""

from __future__ import annotations

from nodechat.errors import InvalidRequest
from nodechat.storage.base import (
    AccountStore,
    AppendResult,
    GroupStore,
    MessageStore,
    RefreshOutcome,
    RefreshResult,
    Store,
)

_SQLITE = "sqlite:///"
_MONGODB = ("mongodb://", "mongodb+srv://")
_POSTGRES = ("postgresql://", "postgres://")


def open_store(url: str) -> Store:
    """Open the store a URL names: ``sqlite:///relative.db``, ``sqlite:////abs/path.db``,
    ``postgresql://user@host:5432/dbname`` (``postgres://`` too),
    or ``mongodb://[user:pass@]host[,host2]/dbname[?options]`` (``mongodb+srv://`` too)."""
    if url.startswith(_SQLITE):
        path = url[len(_SQLITE) :]
        if not path or path == ":memory:":
            raise InvalidRequest(
                f"store URL {url!r} names no database file; use sqlite:///path/to/chat.db "
                "(an in-memory database cannot be shared by the writer and the reader)",
                code="bad_config",
            )
        from nodechat.storage.sqlite import open_sqlite

        return open_sqlite(path)
    if url.startswith(_POSTGRES):
        from nodechat.storage.postgres import open_postgres

        return open_postgres(url)
    if url.startswith(_MONGODB):
        from nodechat.storage.mongo import open_mongo

        return open_mongo(url)
    scheme = url.split(":", 1)[0] if ":" in url else url
    raise InvalidRequest(
        f"unsupported store URL scheme {scheme!r} in {_redact(url)!r}: use "
        "sqlite:///relative/path.db, sqlite:////absolute/path.db, "
        "postgresql://user@host:5432/dbname or mongodb://host/dbname (mongodb+srv:// too)",
        code="bad_config",
    )


def _redact(url: str) -> str:
    """The URL without a ``user:password@`` part."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


__all__ = [
    "AccountStore",
    "AppendResult",
    "GroupStore",
    "MessageStore",
    "RefreshOutcome",
    "RefreshResult",
    "Store",
    "open_store",
]
