"""Copy everything from one store to another, resumably, and verify the copy.

Tables are copied in dependency order (nodechat.storage.portable.TABLES), in
key order, a page at a time. After each page a checkpoint records the last key
copied, so an interrupted run continues where it stopped; imports skip rows
that already exist, so a page that was copied but not checkpointed is harmless.
Verification compares row counts per table and, per conversation, the message
count and an order-independent checksum of every message's content.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from nodechat.storage.base import Store
from nodechat.storage.portable import TABLES, TableSpec

PAGE = 1000
_MOD = 1 << 256

Progress = Callable[[str, int, int], None]  # (table, rows done, rows total)


@dataclass
class Checkpoint:
    """Where a migration got to; saved as JSON after every page."""

    path: Path | None
    source: str
    target: str
    tables: dict[str, Any] = field(default_factory=dict)  # name -> {"after": [...], "done": bool}

    @classmethod
    def load(cls, path: Path | None, source: str, target: str) -> Checkpoint:
        """The checkpoint at ``path`` if it belongs to the same source and target."""
        if path is not None and path.exists():
            data = json.loads(path.read_text())
            if data.get("source") == source and data.get("target") == target:
                return cls(path, source, target, data.get("tables", {}))
        return cls(path, source, target)

    def save(self) -> None:
        """Write atomically."""
        if self.path is None:
            return
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(
            json.dumps({"source": self.source, "target": self.target, "tables": self.tables})
        )
        tmp.replace(self.path)


async def copy_table(
    source: Store,
    target: Store,
    spec: TableSpec,
    checkpoint: Checkpoint,
    progress: Progress | None = None,
) -> int:
    """Copy one table from where the checkpoint says; return rows newly inserted."""
    state = checkpoint.tables.setdefault(spec.name, {"after": None, "done": False, "copied": 0})
    if state["done"]:
        return 0
    total = await source.count_rows(spec.name)
    after = tuple(state["after"]) if state["after"] is not None else None
    inserted = 0
    while True:
        rows = await source.export_rows(spec.name, after=after, limit=PAGE)
        if rows:
            inserted += await target.import_rows(spec.name, rows)
            after = tuple(rows[-1][k] for k in spec.key)
            state["after"] = list(after)
            state["copied"] += len(rows)
        if len(rows) < PAGE:
            state["done"] = True
        checkpoint.save()
        if progress is not None:
            progress(spec.name, min(state["copied"], total), total)
        if state["done"]:
            return inserted


async def copy_all(
    source: Store, target: Store, checkpoint: Checkpoint, progress: Progress | None = None
) -> dict[str, int]:
    """Copy every table; return rows newly inserted per table."""
    return {
        spec.name: await copy_table(source, target, spec, checkpoint, progress) for spec in TABLES
    }


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One difference found by :func:`verify`."""

    what: str
    source: object
    target: object


async def _conversation_sums(store: Store) -> dict[str, tuple[int, int]]:
    sums: dict[str, tuple[int, int]] = {}
    after: tuple[Any, ...] | None = None
    while True:
        rows = await store.export_rows("messages", after=after, limit=PAGE)
        for row in rows:
            digest = int.from_bytes(
                hashlib.sha256(orjson.dumps(row, option=orjson.OPT_SORT_KEYS)).digest(), "big"
            )
            count, total = sums.get(row["conversation_id"], (0, 0))
            sums[row["conversation_id"]] = (count + 1, (total + digest) % _MOD)
        if len(rows) < PAGE:
            return sums
        after = (rows[-1]["id"],)


async def verify(source: Store, target: Store) -> list[Mismatch]:
    """Counts per table and a checksum per conversation; empty when the copy is faithful."""
    problems = []
    for spec in TABLES:
        a, b = await source.count_rows(spec.name), await target.count_rows(spec.name)
        if a != b:
            problems.append(Mismatch(f"rows in {spec.name}", a, b))
    left, right = await _conversation_sums(source), await _conversation_sums(target)
    for conversation in sorted(set(left) | set(right)):
        a_sum, b_sum = left.get(conversation), right.get(conversation)
        if a_sum != b_sum:
            problems.append(
                Mismatch(
                    f"messages of {conversation}",
                    a_sum[0] if a_sum else 0,
                    b_sum[0] if b_sum else 0,
                )
            )
    return problems
