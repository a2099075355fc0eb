"""SQLite engine: one writer thread with group commit, one reader on the event loop.

Writes from concurrent requests queue up; the writer runs everything queued in
one transaction (each job in its own SAVEPOINT, so one failing job does not
undo the others) and commits once, so one fsync acknowledges many messages.
WAL mode with ``synchronous=FULL``: a job's future resolves after its commit
is on disk. Reads use a second connection on the event-loop thread; WAL lets
them run while the writer commits, and they see every committed write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from nodechat.errors import ChatError, InternalError, Unavailable
from nodechat.files import create_private_file, make_private_dir

log = logging.getLogger(__name__)

T = TypeVar("T")
WriteJob = Callable[[sqlite3.Connection], Any]

MAX_BATCH = 1024


class _Job:
    __slots__ = ("fn", "future", "loop")

    def __init__(self, fn: WriteJob, future: asyncio.Future[Any], loop: asyncio.AbstractEventLoop):
        self.fn = fn
        self.future = future
        self.loop = loop


def _settle(results: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in results:
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def connect(path: str) -> sqlite3.Connection:
    """A connection as the store's own are set up (rows by name, foreign keys, timeout)."""
    return _connect(path)


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class Database:
    """A SQLite file with a group-committing writer thread and a loop-side reader."""

    def __init__(self, path: str | Path, migrations: Sequence[str]) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            # password hashes and every message live here: owner-only, whatever the umask
            make_private_dir(Path(self.path).parent)
            create_private_file(Path(self.path))
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = False
        writer = _connect(self.path)
        try:
            writer.execute("PRAGMA journal_mode=WAL")
            writer.execute("PRAGMA synchronous=FULL")
            _migrate(writer, migrations)
        except BaseException:  # e.g. schema_too_new: do not leak the open file
            writer.close()
            raise
        self._writer = writer
        self.reader = _connect(self.path)
        self.reader.execute("PRAGMA query_only=ON")
        self._thread = threading.Thread(target=self._run, name="sqlite-writer", daemon=True)
        self._thread.start()

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in the writer's next transaction; return once it is committed."""
        if self._closed:
            raise Unavailable("the store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Job(fn, future, loop))
        return await future

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Run a query on the reader connection."""
        try:
            return self.reader.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise InternalError("store read failed") from exc

    def read_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        """The first row of a query, or None."""
        try:
            row: sqlite3.Row | None = self.reader.execute(sql, params).fetchone()
            return row
        except sqlite3.Error as exc:
            raise InternalError("store read failed") from exc

    async def close(self) -> None:
        """Drain pending writes, stop the writer, close both connections."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join)
        self.reader.close()

    # -- writer thread ---------------------------------------------------

    def _run(self) -> None:
        conn = self._writer
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                batch.append(job)
            self._run_batch(conn, batch)
        conn.close()

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Job]) -> None:
        outcomes: list[tuple[asyncio.Future[Any], bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in batch:
                conn.execute("SAVEPOINT job")
                try:
                    value = job.fn(conn)
                except ChatError as exc:
                    conn.execute("ROLLBACK TO job")
                    outcomes.append((job.future, False, exc))
                except Exception as exc:  # a bug or a database fault: keep the writer alive
                    log.exception("store write failed")
                    conn.execute("ROLLBACK TO job")
                    err = InternalError("store write failed")
                    err.__cause__ = exc
                    outcomes.append((job.future, False, err))
                else:
                    outcomes.append((job.future, True, value))
                conn.execute("RELEASE job")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            log.error("store commit failed: %s", exc)
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            failure = Unavailable("the store could not commit")
            failure.__cause__ = exc
            outcomes = [(job.future, False, failure) for job in batch]
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
        for job, outcome in zip(batch, outcomes, strict=True):
            by_loop.setdefault(job.loop, []).append(outcome)
        for loop, results in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting
                loop.call_soon_threadsafe(_settle, results)


def _migrate(conn: sqlite3.Connection, migrations: Sequence[str]) -> None:
    """Apply the migrations past the stored ``user_version``, each in its own transaction."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current > len(migrations):
        raise Unavailable(
            f"the database schema is version {current}, newer than this nodechat "
            f"understands ({len(migrations)}); upgrade nodechat",
            code="schema_too_new",
        )
    for version, script in enumerate(migrations[current:], start=current + 1):
        conn.execute("BEGIN IMMEDIATE")
        # Roles started together on a new file race here: whoever got the write lock
        # first may have applied this version already, so look again under the lock.
        if conn.execute("PRAGMA user_version").fetchone()[0] >= version:
            conn.execute("COMMIT")
            continue
        log.info("applying schema migration %d", version)
        try:
            for statement in script.split(";\n"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={version}")
            conn.execute("COMMIT")
        except Exception:
            conn.execute("ROLLBACK")
            raise
