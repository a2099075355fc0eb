"""PostgreSQL full-text search: ``messages.body_tsv`` and its GIN index (migration 7).

``body_tsv`` is a generated ``to_tsvector('simple', body)`` column, so edits and
deletes re-index it in the same row write. Terms reach PostgreSQL through
``plainto_tsquery``, which reads its text as plain words joined by AND and never
raises a syntax error, whatever the user typed. Ranking is ``ts_rank`` (larger is
better; normalization 1 divides by 1 + log(length), so a short match outranks
a long one that mentions the word in passing, as bm25 does), over the newest
``window`` matches: ``messages_created (created_at, id)`` lets a common word's
search read the newest messages first and stop there.
"""

from __future__ import annotations

from typing import Any

from nodechat.models import Message
from nodechat.storage.base import SearchQuery, SearchStore
from nodechat.storage.postgres.engine import Database
from nodechat.storage.postgres.messages import message_from_row

_COLUMNS = (
    "m.id, m.conversation_id, m.seq, m.author_id, m.body, m.nonce, m.reply_to,"
    " m.created_at, m.edited_at, m.deleted"
)


class PostgresSearchStore(SearchStore):
    """Search on a shared :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def search(self, query: SearchQuery, *, offset: int, limit: int) -> list[Message]:
        """Matching undeleted messages of the given conversations, ts_rank order."""
        if not query.terms or not query.conversation_ids:
            return []
        where = ["m.body_tsv @@ plainto_tsquery('simple', %s)", "NOT m.deleted"]
        params: list[Any] = [" ".join(query.terms)]
        where.append("m.conversation_id = ANY(%s)")
        params.append(list(query.conversation_ids))
        if query.author_id is not None:
            where.append("m.author_id = %s")
            params.append(query.author_id)
        if query.before is not None:
            where.append("m.created_at < %s")
            params.append(query.before)
        if query.after is not None:
            where.append("m.created_at > %s")
            params.append(query.after)
        # The window: the newest matches that pass the filters (for a common word the
        # planner walks messages_created backwards and stops early; for a rare one it
        # takes the GIN index), then ts_rank orders only those.
        rows = await self.db.read(
            f"WITH recent AS (SELECT {_COLUMNS}, m.body_tsv FROM messages m"
            f" WHERE {' AND '.join(where)}"
            " ORDER BY m.created_at DESC, m.id DESC LIMIT %s)"
            f" SELECT {_COLUMNS.replace('m.', 'r.')} FROM recent r"
            " ORDER BY ts_rank(r.body_tsv, plainto_tsquery('simple', %s), 1) DESC,"
            " r.created_at DESC, r.id DESC LIMIT %s OFFSET %s",
            [*params, self.window, params[0], limit, offset],
        )
        return [message_from_row(row) for row in rows]
