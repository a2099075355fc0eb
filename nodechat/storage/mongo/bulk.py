"""MongoDB bulk writes: one unordered ``insert_many`` per collection and call.

There is no transaction, so the steps follow the backend's patterns
(compound.py): memberships are inserted, then their groups are checked again
and the memberships of a group deleted meanwhile are removed; sessions go in
before their refresh tokens, and are removed again if the tokens cannot be
stored (a session without a refresh token only expires).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from pymongo.errors import BulkWriteError

from nodechat.errors import Conflict, NotFound
from nodechat.models import Member, User
from nodechat.storage.bulk import BulkStore, NewSession
from nodechat.storage.mongo.accounts import user_document, user_from_document
from nodechat.storage.mongo.compound import LIVE, member_document
from nodechat.storage.mongo.engine import Db, Document, Engine, is_duplicate


def _insert_new(db: Db, collection: str, docs: list[Document]) -> int:
    """Insert the documents whose unique keys are free; how many went in."""
    try:
        return len(db[collection].insert_many(docs, ordered=False).inserted_ids)
    except BulkWriteError as exc:
        if not is_duplicate(exc):
            raise
        return int(exc.details.get("nInserted", 0))


def _live_groups(db: Db, group_ids: list[str]) -> set[str]:
    found = db.groups.find({"_id": {"$in": group_ids}, **LIVE}, {"_id": 1})
    return {doc["_id"] for doc in found}


class MongoBulkStore(BulkStore):
    """Bulk writes in the ``users``, ``members``, ``sessions`` and ``refresh_tokens``
    collections."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def find_users(self, usernames: Sequence[str]) -> list[tuple[User, str]]:
        """The users with these usernames (case-insensitive), with their password hashes."""
        if not usernames:
            return []
        keys = list({name.lower() for name in usernames})
        docs = await self.engine.run(
            lambda db: list(db.users.find({"username_key": {"$in": keys}}))
        )
        return [(user_from_document(doc), doc["password_hash"]) for doc in docs]

    async def create_users(self, users: Sequence[User], password_hash: str) -> int:
        """Insert users sharing one hash, skipping taken ids, usernames and emails."""
        docs = [user_document(u, password_hash) for u in users]
        if not docs:
            return 0
        return await self.engine.run(lambda db: _insert_new(db, "users", docs))

    async def add_members(self, members: Sequence[Member]) -> int:
        """Insert memberships, skipping existing ones; NotFound if a group is missing."""
        if not members:
            return 0
        group_ids = sorted({m.group_id for m in members})
        docs = [member_document(m) for m in members]

        def fn(db: Db) -> int:
            if len(_live_groups(db, group_ids)) != len(group_ids):
                raise NotFound("no such group", code="group_not_found")
            added = _insert_new(db, "members", docs)
            gone = sorted(set(group_ids) - _live_groups(db, group_ids))
            if gone:  # deleted meanwhile: the cascade may have swept before the insert
                db.members.delete_many({"group_id": {"$in": gone}})
                raise NotFound("no such group", code="group_not_found")
            return added

        return await self.engine.run(fn)

    async def create_sessions(self, sessions: Sequence[NewSession]) -> None:
        """Store the sessions, then their first refresh tokens."""
        if not sessions:
            return
        docs = []
        for n in sessions:
            doc = {f.name: getattr(n.session, f.name) for f in dataclasses.fields(n.session)}
            doc["_id"] = doc.pop("id")
            docs.append(doc)
        tokens = [
            {
                "_id": n.refresh_hash,
                "session_id": n.session.id,
                "expires_at": n.refresh_expires_at,
                "used_at": None,
            }
            for n in sessions
        ]
        ids = [n.session.id for n in sessions]

        def fn(db: Db) -> None:
            try:
                db.sessions.insert_many(docs, ordered=False)
            except BulkWriteError as exc:
                if not is_duplicate(exc):
                    raise
                # undo what went in; the rows refused (by index) are someone else's
                refused = {e.get("index") for e in exc.details.get("writeErrors", [])}
                mine = [i for k, i in enumerate(ids) if k not in refused]
                db.sessions.delete_many({"_id": {"$in": mine}})
                raise Conflict("a session with this id exists", code="session_exists") from exc
            try:
                db.refresh_tokens.insert_many(tokens, ordered=False)
            except Exception as exc:
                db.refresh_tokens.delete_many({"session_id": {"$in": ids}})
                db.sessions.delete_many({"_id": {"$in": ids}})
                if isinstance(exc, BulkWriteError) and is_duplicate(exc):
                    raise Conflict(
                        "this refresh token exists", code="refresh_token_exists"
                    ) from exc
                raise

        await self.engine.run(fn)
