"""MongoDB files: the ``files`` collection, one document per file (``_id`` the file id).

Without transactions, the quota follows the "re-check after inserting" pattern
of compound.py: insert, sum the owner's sizes, and undo the insert if it went
past the quota (two racing uploads may both be refused; none is kept past it).
Attaching is one conditional ``update_many``; if it did not take every file,
the ones it took are given back, so the result is all or none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING

from nodechat.models import FileRecord
from nodechat.storage.files import (
    FILE_COLUMNS,
    FileStore,
    FileUsage,
    file_record,
    group_attachments,
    not_attachable,
    quota_exceeded,
)
from nodechat.storage.mongo.engine import Db, Document, Engine

_UNATTACHED: Document = {"message_id": None, "conversation_id": None, "released": False}


def _record(doc: Document) -> FileRecord:
    return file_record(tuple(doc.get("_id" if c == "id" else c) for c in FILE_COLUMNS))


def _usage(db: Db, owner_id: str) -> FileUsage:
    found = list(
        db.files.aggregate(
            [
                {"$match": {"owner_id": owner_id}},
                {"$group": {"_id": None, "n": {"$sum": 1}, "total": {"$sum": "$size"}}},
            ]
        )
    )
    if not found:
        return FileUsage(0, 0)
    return FileUsage(int(found[0]["n"]), int(found[0]["total"]))


class MongoFileStore(FileStore):
    """File documents in one collection of the store's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def create_file(self, record: FileRecord, *, quota: int) -> FileRecord:
        """Insert, re-check the owner's usage, and undo if it passed the quota."""
        doc: dict[str, Any] = {
            "_id": record.id,
            "owner_id": record.owner_id,
            "name": record.name,
            "size": record.size,
            "sha256": record.sha256,
            "content_type": record.content_type,
            "created_at": record.created_at,
            **_UNATTACHED,
        }

        def fn(db: Db) -> FileRecord:
            if _usage(db, record.owner_id).bytes + record.size > quota:
                raise quota_exceeded(quota)
            db.files.insert_one(doc)
            if _usage(db, record.owner_id).bytes > quota:
                db.files.delete_one({"_id": record.id})
                raise quota_exceeded(quota)
            return record

        return await self.engine.run(fn)

    async def get_file(self, file_id: str) -> FileRecord | None:
        """One document by id."""
        doc = await self.engine.run(lambda db: db.files.find_one({"_id": file_id}))
        return _record(doc) if doc is not None else None

    async def list_files(self, owner_id: str, *, limit: int = 100) -> list[FileRecord]:
        """The owner's files, newest first."""
        docs = await self.engine.run(
            lambda db: list(
                db.files.find(
                    {"owner_id": owner_id},
                    sort=[("created_at", DESCENDING), ("_id", DESCENDING)],
                    limit=limit,
                )
            )
        )
        return [_record(d) for d in docs]

    async def usage(self, owner_id: str) -> FileUsage:
        """Count and total size of the owner's files."""
        return await self.engine.run(lambda db: _usage(db, owner_id))

    async def attach_files(
        self, file_ids: Sequence[str], owner_id: str, message_id: str, conversation_id: str
    ) -> list[FileRecord]:
        """Attach with one conditional update; give back a partial result."""
        wanted = list(dict.fromkeys(file_ids))

        def fn(db: Db) -> list[FileRecord]:
            changed = db.files.update_many(
                {"_id": {"$in": wanted}, "owner_id": owner_id, **_UNATTACHED},
                {"$set": {"message_id": message_id, "conversation_id": conversation_id}},
            ).modified_count
            if changed != len(wanted):
                db.files.update_many(
                    {"message_id": message_id},
                    {"$set": {"message_id": None, "conversation_id": None}},
                )
                raise not_attachable()
            by_id = {d["_id"]: _record(d) for d in db.files.find({"message_id": message_id})}
            return [by_id[i] for i in wanted]

        return await self.engine.run(fn)

    async def detach_message(self, message_id: str) -> int:
        """Unattach the message's files."""
        return await self.engine.run(
            lambda db: (
                db.files.update_many(
                    {"message_id": message_id},
                    {"$set": {"message_id": None, "conversation_id": None}},
                ).modified_count
            )
        )

    async def release_message(self, message_id: str) -> int:
        """Detach and mark released."""
        return await self.engine.run(
            lambda db: (
                db.files.update_many(
                    {"message_id": message_id}, {"$set": {"message_id": None, "released": True}}
                ).modified_count
            )
        )

    async def attachments(self, message_ids: Sequence[str]) -> dict[str, tuple[FileRecord, ...]]:
        """Attached documents per message, in upload order."""
        if not message_ids:
            return {}
        docs = await self.engine.run(
            lambda db: list(
                db.files.find(
                    {"message_id": {"$in": list(message_ids)}},
                    sort=[("created_at", ASCENDING), ("_id", ASCENDING)],
                )
            )
        )
        return group_attachments([_record(d) for d in docs])

    async def stale_files(self, created_before: int, *, limit: int = 500) -> list[FileRecord]:
        """Released documents, and unattached ones older than ``created_before``."""
        query = {
            "message_id": None,
            "$or": [{"released": True}, {"created_at": {"$lt": created_before}}],
        }
        docs = await self.engine.run(
            lambda db: list(
                db.files.find(
                    query, sort=[("created_at", ASCENDING), ("_id", ASCENDING)], limit=limit
                )
            )
        )
        return [_record(d) for d in docs]

    async def delete_file(self, file_id: str) -> bool:
        """Delete one document."""
        return await self.engine.run(
            lambda db: db.files.delete_one({"_id": file_id}).deleted_count > 0
        )
