"""Connecting to MongoDB: what a ``mongodb://`` URL names, the write concern, the start-up ping.

The write concern defaults to ``w: "majority", j: true``: an acknowledged write
is in the journal of a majority of the replica set, so it survives the loss of
the primary and a power cut (the ack-after-durable-write rule of
docs/architecture.md). The URL's own ``w=``, ``journal=`` (or ``j=``),
``wtimeoutMS=`` and ``fsync=`` options override each part, e.g. ``?w=1`` for a
single development server.

Only :func:`connect` touches a real server; it is the code mongomock cannot
stand in for (tests pass their own client to ``open_mongo``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from pymongo import MongoClient
from pymongo.errors import ConfigurationError, InvalidURI, PyMongoError
from pymongo.write_concern import WriteConcern

from nodechat.errors import InvalidRequest, Unavailable

Document = dict[str, Any]

DEFAULT_DATABASE = "nodechat"
SCHEMES = ("mongodb://", "mongodb+srv://")
# Fail fast when no server answers: a chat request should not hang for pymongo's
# default 30 s. A URL's own serverSelectionTimeoutMS wins.
SERVER_SELECTION_TIMEOUT_MS = 5_000


@dataclass(frozen=True, slots=True)
class MongoUrl:
    """The parts of a MongoDB URL nodechat needs, with no credentials."""

    scheme: str
    hosts: str
    database: str
    options: dict[str, str]  # lower-cased option names

    @property
    def redacted(self) -> str:
        """The URL for logs and errors: scheme, hosts and database, never a password."""
        return f"{self.scheme}://{self.hosts}/{self.database}"

    def write_concern(self) -> WriteConcern:
        """Majority and journaled unless the URL says otherwise."""
        opts = self.options
        w: int | str = opts.get("w", "majority")
        if isinstance(w, str) and w.isdigit():
            w = int(w)
        fsync = _flag(opts["fsync"]) if "fsync" in opts else None
        journal_text = opts.get("journal", opts.get("j"))
        journal = _flag(journal_text) if journal_text is not None else None
        if journal is None and not fsync:  # fsync and j are mutually exclusive
            journal = True
        try:
            wtimeout = int(opts["wtimeoutms"]) if "wtimeoutms" in opts else None
            return WriteConcern(w=w, wtimeout=wtimeout, j=journal, fsync=fsync)
        except (ConfigurationError, ValueError, TypeError) as exc:
            raise InvalidRequest(
                f"bad write concern in {self.redacted}: {exc}", code="bad_config"
            ) from exc


def _flag(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise InvalidRequest(f"expected true or false, got {text!r}", code="bad_config")


def parse_url(url: str) -> MongoUrl:
    """Split ``mongodb[+srv]://[user:pass@]hosts[/database][?options]``."""
    scheme, sep, rest = url.partition("://")
    if not sep or f"{scheme}://" not in SCHEMES:
        raise InvalidRequest(
            "a MongoDB URL starts with mongodb:// or mongodb+srv://", code="bad_config"
        )
    authority, _, tail = rest.partition("/")
    path, _, query = tail.partition("?")
    if "?" in authority:  # mongodb://host?w=1 (pymongo wants the slash; be lenient)
        authority, _, query = authority.partition("?")
    hosts = authority.rsplit("@", 1)[-1]
    if not hosts:
        raise InvalidRequest("the MongoDB URL names no host", code="bad_config")
    database = unquote(path) or DEFAULT_DATABASE
    if any(ch in database for ch in '/\\. "$') or len(database) > 63:
        raise InvalidRequest(f"bad MongoDB database name {database!r}", code="bad_config")
    options = {key.lower(): value for key, value in parse_qsl(query, keep_blank_values=True)}
    return MongoUrl(scheme, hosts, database, options)


def connect(url: str, parsed: MongoUrl) -> MongoClient[Document]:
    """A pooled client for ``url``, after one ping proved a server answers.

    ``Unavailable(code='store_unavailable')`` names the hosts when nothing
    answers within the server selection timeout; ``InvalidRequest(bad_config)``
    for a URL pymongo rejects. Needs a real server: not covered by mongomock.
    """
    kwargs: dict[str, Any] = {}
    if "serverselectiontimeoutms" not in parsed.options:
        kwargs["serverSelectionTimeoutMS"] = SERVER_SELECTION_TIMEOUT_MS
    if "appname" not in parsed.options:
        kwargs["appname"] = "nodechat"
    try:
        client: MongoClient[Document] = MongoClient(url, **kwargs)
    except InvalidURI as exc:
        raise InvalidRequest(
            f"bad MongoDB URL {parsed.redacted}: {_scrub(exc, url)}", code="bad_config"
        ) from exc
    except ConfigurationError as exc:
        if parsed.scheme == "mongodb+srv":  # the SRV/TXT lookup failed
            raise _unreachable(parsed, _scrub(exc, url)) from exc
        raise InvalidRequest(
            f"bad MongoDB URL {parsed.redacted}: {_scrub(exc, url)}", code="bad_config"
        ) from exc
    except (ValueError, TypeError) as exc:
        raise InvalidRequest(
            f"bad MongoDB URL {parsed.redacted}: {_scrub(exc, url)}", code="bad_config"
        ) from exc
    try:
        client.admin.command("ping")
    except PyMongoError as exc:
        client.close()
        raise _unreachable(parsed, _scrub(exc, url)) from exc
    return client


def _unreachable(parsed: MongoUrl, reason: str) -> Unavailable:
    return Unavailable(
        f"cannot reach MongoDB at {parsed.hosts} (database {parsed.database}): {reason}",
        code="store_unavailable",
    )


def _scrub(exc: Exception, url: str) -> str:
    """A short reason from a pymongo error, with any credential of ``url`` removed."""
    text = str(exc).split(", Timeout:", 1)[0].split(", Topology Description:", 1)[0][:300]
    userinfo = url.partition("://")[2].partition("/")[0].rpartition("@")[0]
    password = userinfo.partition(":")[2]
    if password:
        for secret in (userinfo, password, unquote(password)):
            text = text.replace(secret, "***")
    return text
