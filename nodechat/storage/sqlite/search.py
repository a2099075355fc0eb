"""SQLite full-text search: the FTS5 table ``messages_fts`` (schema migration 7).

``messages_fts`` is an external-content index over ``messages.body`` keyed by
the messages rowid; triggers keep it in step (see schema.py). Ranking is FTS5's
``bm25()`` (smaller is better), over the newest ``window`` matches. Each term goes to MATCH as a double-quoted
string, so no user text is ever read as FTS5 query syntax (``NEAR``, ``*``,
``-``, ``:``, ``^``, parentheses): a quoted string is a phrase of its tokens.

A search over a common word ranks every match (tens of milliseconds per 100k
matches), so it runs off the event loop: on a connection of its own in a worker
thread, one search at a time per process (the others wait their turn), while
the loop's reader keeps serving history and the rest.

SQLite's ``VACUUM`` may renumber the rowids of a table without an INTEGER
PRIMARY KEY; nodechat never runs it, and after a manual one the index needs
``INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')``.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from typing import Any

from nodechat.errors import InternalError
from nodechat.models import Message
from nodechat.storage.base import SearchQuery, SearchStore
from nodechat.storage.sqlite.engine import Database, connect
from nodechat.storage.sqlite.messages import message_from_row

_COLUMNS = (
    "m.id, m.conversation_id, m.seq, m.author_id, m.body, m.nonce, m.reply_to,"
    " m.created_at, m.edited_at, m.deleted"
)


def match_expression(terms: tuple[str, ...]) -> str:
    """The MATCH string for ``terms``: each a quoted string (inner quotes doubled), all
    required (FTS5's implicit AND)."""
    return " ".join('"' + term.replace('"', '""') + '"' for term in terms)


class SqliteSearchStore(SearchStore):
    """Search on a shared :class:`Database` (its reader connection)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = asyncio.Lock()
        self._conn: sqlite3.Connection | None = None

    def _read(self, sql: str, params: list[Any]) -> list[sqlite3.Row]:
        if self._conn is None:
            self._conn = connect(self.db.path)
            self._conn.execute("PRAGMA query_only=ON")
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise InternalError("store read failed") from exc

    async def close(self) -> None:
        """Close the search connection (the store's close calls this)."""
        async with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    async def search(self, query: SearchQuery, *, offset: int, limit: int) -> list[Message]:
        """Matching undeleted messages of the given conversations, bm25 order."""
        if not query.terms or not query.conversation_ids:
            return []
        where = ["m.deleted = 0", "m.conversation_id IN (SELECT value FROM json_each(?))"]
        params: list[object] = [json.dumps(list(query.conversation_ids))]
        if query.author_id is not None:
            where.append("m.author_id = ?")
            params.append(query.author_id)
        if query.before is not None:
            where.append("m.created_at < ?")
            params.append(query.before)
        if query.after is not None:
            where.append("m.created_at > ?")
            params.append(query.after)
        match = match_expression(query.terms)
        filters = " AND ".join(where)
        # The window: FTS5 walks the matches newest rowid first and stops at the
        # window-th that passes the filters; bm25 then ranks only those (the
        # rowid bound is a range FTS5 itself applies).
        sql = (
            "WITH recent AS (SELECT f.rowid AS r FROM messages_fts f"
            " JOIN messages m ON m.rowid = f.rowid"
            f" WHERE f.messages_fts MATCH ? AND {filters} ORDER BY f.rowid DESC LIMIT ?)"
            f" SELECT {_COLUMNS} FROM messages_fts JOIN messages m ON m.rowid = messages_fts.rowid"
            " WHERE messages_fts MATCH ? AND messages_fts.rowid >= (SELECT min(r) FROM recent)"
            f" AND {filters}"
            " ORDER BY bm25(messages_fts), m.created_at DESC, m.id DESC LIMIT ? OFFSET ?"
        )
        params = [match, *params, self.window, match, *params, limit, offset]
        if self.db.path == ":memory:":  # another connection would see another database
            rows = self.db.read(sql, params)
        else:
            async with self._lock:
                rows = await asyncio.to_thread(self._read, sql, params)
        return [message_from_row(row) for row in rows]
