"""MongoDB full-text search: the text index ``body_text`` on ``messages.body``.

The index (indexes.py, layout version 5) uses ``default_language: "none"``: no
stemming and no stop words, so any language is searchable, as PostgreSQL's
``simple`` configuration. MongoDB keeps a text index in step with every write,
so edits re-index and a deleted message (its body becomes ``""``) leaves it.
Each term goes to ``$search`` as a quoted phrase, so all are required and no
user text is read as ``-negation``. Ranking is ``textScore`` (larger is better), over the newest ``window`` matches.

mongomock has no ``$text``: this part is tested against a real server only
(``NODECHAT_TEST_MONGO_URL``, the ``mongodb-real`` contract backend).
"""

from __future__ import annotations

from typing import Any

from nodechat.models import Message
from nodechat.storage.base import SearchQuery, SearchStore
from nodechat.storage.mongo.engine import Db, Document, Engine
from nodechat.storage.mongo.messages import message_from_row

_SCORE = {"$meta": "textScore"}


def text_search(terms: tuple[str, ...]) -> str:
    """The ``$search`` string for ``terms``: each a quoted phrase (all required)."""
    return " ".join('"' + term.replace('"', " ").replace("\\", " ") + '"' for term in terms)


class MongoSearchStore(SearchStore):
    """Search on a shared :class:`Engine`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def search(self, query: SearchQuery, *, offset: int, limit: int) -> list[Message]:
        """Matching undeleted messages of the given conversations, textScore order."""
        if not query.terms or not query.conversation_ids:
            return []
        spec: Document = {
            "$text": {"$search": text_search(query.terms)},
            "conversation_id": {"$in": list(query.conversation_ids)},
            "deleted": {"$ne": True},
        }
        if query.author_id is not None:
            spec["author_id"] = query.author_id
        created: dict[str, Any] = {}
        if query.before is not None:
            created["$lt"] = query.before
        if query.after is not None:
            created["$gt"] = query.after
        if created:
            spec["created_at"] = created

        def fn(db: Db) -> list[Message]:
            # the window: the newest matches' ids first, then textScore ranks only those
            newest = db.messages.find(spec, {"_id": 1}).sort([("created_at", -1), ("_id", -1)])
            ids = [doc["_id"] for doc in newest.limit(self.window)]
            if not ids:
                return []
            ranked = {**spec, "_id": {"$in": ids}}
            cursor = (
                db.messages.find(ranked, {"score": _SCORE})
                .sort([("score", _SCORE), ("created_at", -1), ("_id", -1)])
                .skip(offset)
                .limit(limit)
            )
            return [message_from_row(doc) for doc in cursor]

        return await self.engine.run(fn)
