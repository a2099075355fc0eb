"""Portable rows (nodechat.storage.portable) in and out of the PostgreSQL tables.

The tables have the portable columns plus, for members and invites, an
identity column ``ord`` (insertion order for ties), which PostgreSQL fills
on import. Booleans are native, so rows need no conversion either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nodechat.errors import InvalidRequest
from nodechat.storage.portable import TABLE_BY_NAME, TableSpec
from nodechat.storage.postgres.engine import Conn, Database


def _spec(table: str) -> TableSpec:
    spec = TABLE_BY_NAME.get(table)
    if spec is None:
        raise InvalidRequest(f"unknown table {table!r}", code="unknown_table")
    return spec


async def export_rows(
    db: Database, table: str, after: tuple[Any, ...] | None, limit: int
) -> list[dict[str, Any]]:
    """Rows of ``table`` in key order after ``after``."""
    spec = _spec(table)
    key = ", ".join(spec.key)
    where, params = "", []
    if after is not None:
        if len(after) != len(spec.key):
            raise InvalidRequest(f"{table} is keyed by {key}", code="bad_cursor")
        where = f"WHERE ({key}) > ({', '.join(['%s'] * len(spec.key))})"
        params = list(after)
    found = await db.read(
        f"SELECT {', '.join(spec.columns)} FROM {table} {where} ORDER BY {key} LIMIT %s",
        [*params, max(limit, 0)],
    )
    return [dict(row) for row in found]


async def import_rows(db: Database, table: str, rows: Sequence[dict[str, Any]]) -> int:
    """Insert rows whose key is new; one transaction; how many were new."""
    spec = _spec(table)
    if not rows:
        return 0
    sql = (
        f"INSERT INTO {table} ({', '.join(spec.columns)})"
        f" VALUES ({', '.join(['%s'] * len(spec.columns))}) ON CONFLICT DO NOTHING"
    )
    try:
        values = [
            [bool(row[c]) if c in spec.booleans else row[c] for c in spec.columns] for row in rows
        ]
    except KeyError as exc:
        raise InvalidRequest(
            f"a {table} row lacks the column {exc.args[0]!r}", code="bad_row"
        ) from exc

    async def write(conn: Conn) -> int:
        cur = conn.cursor()
        await cur.executemany(sql, values)
        return cur.rowcount

    return await db.write(write)


async def count_rows(db: Database, table: str) -> int:
    """How many rows ``table`` holds."""
    _spec(table)
    row = await db.read_one(f"SELECT count(*) AS n FROM {table}")
    return int(row["n"]) if row is not None else 0
