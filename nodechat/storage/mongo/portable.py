"""Portable rows (nodechat.storage.portable) in and out of the MongoDB collections.

Each portable table is the collection of the same name. A single-column key is
stored as ``_id``; compound keys are plain fields with a unique index, which
is also what makes a repeated import skip the rows it already holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING
from pymongo.errors import BulkWriteError

from nodechat.errors import InvalidRequest
from nodechat.storage.mongo.engine import Db, Document, Engine, is_duplicate
from nodechat.storage.portable import TABLE_BY_NAME, TableSpec


def _spec(table: str) -> TableSpec:
    spec = TABLE_BY_NAME.get(table)
    if spec is None:
        raise InvalidRequest(f"unknown table {table!r}", code="unknown_table")
    return spec


def _field(spec: TableSpec, column: str) -> str:
    """Where a portable column lives in the document."""
    return "_id" if spec.key == (column,) else column


def _after(spec: TableSpec, after: tuple[Any, ...]) -> Document:
    """Keyset filter: the key tuple compares greater than ``after``."""
    if len(after) != len(spec.key):
        raise InvalidRequest(f"a {spec.name} key has {len(spec.key)} parts", code="bad_key")
    fields = [_field(spec, column) for column in spec.key]
    branches = []
    for i, field in enumerate(fields):
        branch: Document = {fields[j]: after[j] for j in range(i)}
        branch[field] = {"$gt": after[i]}
        branches.append(branch)
    return branches[0] if len(branches) == 1 else {"$or": branches}


def _row(spec: TableSpec, doc: Document) -> dict[str, Any]:
    row = {column: doc.get(_field(spec, column)) for column in spec.columns}
    for column in spec.booleans:
        row[column] = bool(row[column])
    return row


def _document(spec: TableSpec, row: dict[str, Any]) -> Document:
    try:
        doc = {_field(spec, column): row[column] for column in spec.columns}
    except KeyError as exc:
        raise InvalidRequest(f"a {spec.name} row lacks {exc.args[0]!r}", code="bad_row") from exc
    for column in spec.booleans:
        doc[column] = bool(doc[column])
    if spec.name == "users":  # the derived lookup keys (see accounts.user_document)
        doc["username_key"] = doc["username"].lower()
        doc["email_key"] = doc["email"].lower()
    return doc


async def export_rows(
    engine: Engine, table: str, after: tuple[Any, ...] | None, limit: int
) -> list[dict[str, Any]]:
    """Rows of ``table`` in key order after ``after``."""
    spec = _spec(table)
    if limit <= 0:  # MongoDB reads limit 0 as "no limit"
        return []
    query = _after(spec, after) if after is not None else {}
    sort = [(_field(spec, column), ASCENDING) for column in spec.key]
    docs = await engine.run(lambda db: list(db[table].find(query, sort=sort, limit=limit)))
    return [_row(spec, doc) for doc in docs]


async def import_rows(engine: Engine, table: str, rows: Sequence[dict[str, Any]]) -> int:
    """Insert rows whose key is new; return how many were.

    One unordered ``insert_many`` (pymongo splits it into server-sized
    batches); rows refused as duplicates are skipped, any other error is
    raised. Not one transaction, unlike SQLite: an interrupted import leaves
    some rows in, and running it again inserts the rest.
    """
    spec = _spec(table)
    docs = [_document(spec, row) for row in rows]
    if not docs:
        return 0

    def fn(db: Db) -> int:
        try:
            return len(db[table].insert_many(docs, ordered=False).inserted_ids)
        except BulkWriteError as exc:
            if not is_duplicate(exc):
                raise
            return int(exc.details.get("nInserted", 0))

    return await engine.run(fn)


async def count_rows(engine: Engine, table: str) -> int:
    """How many rows ``table`` holds."""
    _spec(table)
    return await engine.run(lambda db: db[table].count_documents({}))
