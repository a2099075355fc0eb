"""Portable rows (nodechat.storage.portable) in and out of the SQLite tables."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from nodechat.errors import InvalidRequest
from nodechat.storage.portable import TABLE_BY_NAME, TableSpec
from nodechat.storage.sqlite.engine import Database

# Columns SQLite keeps beside the portable ones, derived on import.
_DERIVED: dict[str, dict[str, Callable[[dict[str, Any]], Any]]] = {
    "users": {
        "username_key": lambda r: r["username"].lower(),
        "email_key": lambda r: r["email"].lower(),
    }
}


def _spec(table: str) -> TableSpec:
    spec = TABLE_BY_NAME.get(table)
    if spec is None:
        raise InvalidRequest(f"unknown table {table!r}", code="unknown_table")
    return spec


def export_rows(
    db: Database, table: str, after: tuple[Any, ...] | None, limit: int
) -> list[dict[str, Any]]:
    """Rows of ``table`` in key order after ``after``."""
    spec = _spec(table)
    cols = ", ".join(spec.columns)
    key = ", ".join(spec.key)
    where, params = "", []
    if after is not None:
        where = f"WHERE ({key}) > ({', '.join('?' * len(spec.key))})"
        params = list(after)
    rows = db.read(f"SELECT {cols} FROM {table} {where} ORDER BY {key} LIMIT ?", [*params, limit])
    out = []
    for row in rows:
        item = dict(zip(spec.columns, row, strict=True))
        for name in spec.booleans:
            item[name] = bool(item[name])
        out.append(item)
    return out


async def import_rows(db: Database, table: str, rows: Sequence[dict[str, Any]]) -> int:
    """Insert rows whose key is new; one transaction."""
    spec = _spec(table)
    derived = _DERIVED.get(table, {})
    columns = [*spec.columns, *derived]
    sql = (
        f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})"
    )
    values = []
    for row in rows:
        record = [int(row[c]) if c in spec.booleans else row[c] for c in spec.columns]
        record += [fn(row) for fn in derived.values()]
        values.append(record)

    def write(conn: sqlite3.Connection) -> int:
        # rowcount, not total_changes: that also counts what triggers change
        return int(conn.executemany(sql, values).rowcount)

    return await db.write(write)


def count_rows(db: Database, table: str) -> int:
    """How many rows ``table`` holds."""
    _spec(table)
    row = db.read_one(f"SELECT COUNT(*) FROM {table}")
    return int(row[0]) if row else 0
