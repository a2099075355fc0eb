"""PostgreSQL engine: a pool of autocommit connections for reads, one group-committing writer.

Writes from concurrent requests queue up; the writer task runs everything
queued in one transaction on its own connection and commits once, so one
commit (one WAL flush) acknowledges many requests. A *job* (Python code
issuing statements) runs in its own SAVEPOINT, so one failing job does not
undo the others. A *call* is one statement that reports its outcome in its
result and never fails on bad input (``nodechat_append``): it needs no
savepoint, and consecutive calls of one statement go to the server as one
pipeline, in one round trip, ordered by their lock key so that writers in
several processes lock conversations in the same order. A job's future
resolves after ``COMMIT`` returns (``synchronous_commit`` on: durable).

Several processes may write one database: row locks serialize what must be
(a conversation's seq). A batch that loses a deadlock or a serialization
conflict is rolled back and run again. The pool and the writer start on
first use, in the running loop, so opening a store needs no event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg import AsyncConnection
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from nodechat.errors import ChatError, InternalError, InvalidRequest, Unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
Conn = AsyncConnection[DictRow]
Job = Callable[[Conn], Awaitable[Any]]
Outcome = tuple[bool, Any]  # (succeeded, value or exception)

MAX_BATCH = 512
ATTEMPTS = 3  # a batch that loses a deadlock is run again, up to this many times in all
CONNECT_TIMEOUT = 5  # seconds, unless the URL says otherwise
POOL_TIMEOUT = 10.0  # seconds a read waits for a connection before Unavailable
POOL_SIZE = 8

# The server cannot be used for writes now: the connection is gone or the database
# refuses them (read-only: a standby after a failover, or set so by an operator).
UNAVAILABLE = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    psycopg.errors.ReadOnlySqlTransaction,
)


def where(conninfo: str) -> str:
    """``host:port/dbname`` of a URL or conninfo string, without credentials."""
    try:
        parts = conninfo_to_dict(conninfo)
    except psycopg.Error:
        return "an unparsable address"
    host = parts.get("host") or parts.get("hostaddr") or "localhost"
    return f"{host}:{parts.get('port') or 5432}/{parts.get('dbname') or parts.get('user') or ''}"


def unavailable(place: str, exc: BaseException) -> Unavailable:
    """The error for a server that cannot be reached or used, naming where it should be."""
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return Unavailable(
        f"the PostgreSQL store at {place} is unavailable: {reason}", code="store_unavailable"
    )


def connect_options(conninfo: str) -> dict[str, Any]:
    """Connection options nodechat adds, unless the URL sets them itself."""
    try:
        given = conninfo_to_dict(conninfo)
    except psycopg.Error:
        given = {}
    defaults = {"connect_timeout": CONNECT_TIMEOUT, "application_name": "nodechat"}
    return {key: value for key, value in defaults.items() if key not in given}


async def rows(conn: Conn, sql: str, params: Sequence[Any] = ()) -> list[DictRow]:
    """Run one statement in a job and return its rows."""
    cur = await conn.execute(sql, params)
    return await cur.fetchall() if cur.description is not None else []


async def rowcount(conn: Conn, sql: str, params: Sequence[Any] = ()) -> int:
    """Run one statement in a job and return how many rows it changed."""
    cur = await conn.execute(sql, params)
    return cur.rowcount


@dataclass(slots=True)
class _Job:
    future: asyncio.Future[Any]
    fn: Job | None = None
    sql: str = ""
    params: Sequence[Any] = ()
    lock_key: str = ""


class Database:
    """One PostgreSQL database: pooled reads and a group-committing writer task."""

    def __init__(self, conninfo: str, *, pool_timeout: float = POOL_TIMEOUT) -> None:
        self.conninfo = conninfo
        self.where = where(conninfo)
        self._options = connect_options(conninfo)
        self._pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            conninfo,
            connection_class=AsyncConnection[DictRow],
            open=False,
            kwargs={"autocommit": True, "row_factory": dict_row, **self._options},
            min_size=1,
            max_size=POOL_SIZE,
            timeout=pool_timeout,
            name="nodechat-read",
        )
        self._pool_lock = asyncio.Lock()
        self._pool_open = False
        self._queue: asyncio.Queue[_Job | None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._conn: Conn | None = None
        self._closed = False

    # -- reads -----------------------------------------------------------

    async def read(self, sql: str, params: Sequence[Any] = ()) -> list[DictRow]:
        """Run a query on a pooled connection (it sees every committed write)."""
        pool = await self._open_pool()
        for attempt in (1, 2):
            conn: Conn | None = None
            try:
                async with pool.connection() as conn:
                    cur = await conn.execute(sql, params)
                    return await cur.fetchall()
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                if attempt == 1 and conn is not None and conn.broken:
                    # The server dropped idle connections (a restart, a failover): a read
                    # is safe to repeat, once the pool has replaced the dead ones.
                    await pool.check()
                    continue
                raise unavailable(self.where, exc) from exc
            except psycopg.DataError as exc:
                raise InvalidRequest(f"a value the store cannot take: {exc}") from exc
            except psycopg.Error as exc:
                log.exception("store read failed")
                raise InternalError("store read failed") from exc
        raise AssertionError("not reached")

    async def read_one(self, sql: str, params: Sequence[Any] = ()) -> DictRow | None:
        """The first row of a query, or None."""
        found = await self.read(sql, params)
        return found[0] if found else None

    async def _open_pool(self) -> AsyncConnectionPool[Conn]:
        if self._closed:
            raise Unavailable("the store is closed")
        if not self._pool_open:
            async with self._pool_lock:
                if not self._pool_open:
                    await self._pool.open(wait=False)
                    self._pool_open = True
        return self._pool

    # -- writes ----------------------------------------------------------

    async def write(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """Run ``fn`` in the writer's next transaction, in a savepoint; return once committed."""
        value: T = await self._submit(lambda future: _Job(future, fn=fn))
        return value

    async def call(self, sql: str, params: Sequence[Any], *, lock_key: str = "") -> list[DictRow]:
        """Run one never-failing statement in the writer's next transaction; its rows."""
        found: list[DictRow] = await self._submit(
            lambda future: _Job(future, sql=sql, params=params, lock_key=lock_key)
        )
        return found

    async def _submit(self, make: Callable[[asyncio.Future[Any]], _Job]) -> Any:
        if self._closed:
            raise Unavailable("the store is closed")
        if self._queue is None or self._writer is None or self._writer.done():
            self._queue = asyncio.Queue()
            self._writer = asyncio.create_task(self._run(self._queue), name="postgres-writer")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(make(future))
        return await future

    async def close(self) -> None:
        """Commit the queued writes, stop the writer, close every connection."""
        if self._closed:
            return
        self._closed = True
        if self._queue is not None and self._writer is not None:
            self._queue.put_nowait(None)
            try:
                await self._writer
            except Exception:  # a bug in the writer: it is gone either way
                log.exception("the store writer failed")
        await self._drop_connection()
        if self._pool_open:
            await self._pool.close()

    # -- writer task -----------------------------------------------------

    async def _run(self, queue: asyncio.Queue[_Job | None]) -> None:
        stop = False
        while not stop:
            first = await queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < MAX_BATCH and not queue.empty():
                job = queue.get_nowait()
                if job is None:
                    stop = True
                    break
                batch.append(job)
            outcomes = await self._run_batch(batch)
            for job, (ok, value) in zip(batch, outcomes, strict=True):
                if job.future.done():  # the caller gave up; the write stands
                    continue
                if ok:
                    job.future.set_result(value)
                else:
                    job.future.set_exception(value)
        await self._drop_connection()

    async def _run_batch(self, batch: list[_Job]) -> list[Outcome]:
        failure: ChatError = InternalError("store write failed")
        for attempt in range(1, ATTEMPTS + 1):
            try:
                conn = await self._begin()
            except psycopg.Error as exc:
                log.error("store write failed: %s", exc)
                failure = unavailable(self.where, exc)
                failure.__cause__ = exc
                break
            try:
                outcomes = await self._run_jobs(conn, batch)
                await conn.execute("COMMIT")
                return outcomes
            except psycopg.Error as exc:
                await self._rollback(conn)
                if (
                    exc.sqlstate is not None
                    and exc.sqlstate.startswith("40")
                    and attempt < ATTEMPTS
                ):
                    log.warning(
                        "store batch lost a lock conflict (%s); running it again", exc.sqlstate
                    )
                    continue
                log.error("store commit failed: %s", exc)
                if isinstance(exc, UNAVAILABLE):
                    failure = unavailable(self.where, exc)
                if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
                    # the session stays read-only; a new one may not be
                    await self._drop_connection()
                failure.__cause__ = exc
                break
            except Exception as exc:  # a bug: fail this batch, keep the writer alive
                log.exception("store batch failed")
                await self._rollback(conn)
                failure.__cause__ = exc
                break
        return [(False, failure)] * len(batch)

    async def _begin(self) -> Conn:
        """``BEGIN`` on the writer connection, replacing it once if it died while idle."""
        conn = await self._connection()
        try:
            await conn.execute("BEGIN")
        except psycopg.OperationalError:
            if not conn.broken:
                raise
            # Nothing of this batch ran yet: safe to go on with a new connection.
            await self._drop_connection()
            conn = await self._connection()
            await conn.execute("BEGIN")
        return conn

    async def _rollback(self, conn: Conn) -> None:
        if not conn.broken and not conn.closed:
            try:
                await conn.execute("ROLLBACK")
                return
            except psycopg.Error:
                log.debug("rollback failed", exc_info=True)
        await self._drop_connection()

    async def _run_jobs(self, conn: Conn, batch: list[_Job]) -> list[Outcome]:
        outcomes: list[Outcome] = [(False, InternalError("store write failed"))] * len(batch)
        i = 0
        while i < len(batch):
            job = batch[i]
            if job.fn is not None:
                outcomes[i] = await self._run_job(conn, job.fn)
                i += 1
                continue
            end = i
            while end < len(batch) and batch[end].fn is None and batch[end].sql == job.sql:
                end += 1
            run = sorted(range(i, end), key=lambda k: batch[k].lock_key)  # stable: FIFO
            results = await _pipeline(conn, job.sql, [batch[k].params for k in run])
            for k, result in zip(run, results, strict=True):
                outcomes[k] = (True, result)
            i = end
        return outcomes

    async def _run_job(self, conn: Conn, fn: Job) -> Outcome:
        await conn.execute("SAVEPOINT job")
        try:
            value = await fn(conn)
        except UNAVAILABLE:
            raise  # the connection is lost or refuses writes: the batch fails or retries
        except ChatError as exc:
            await conn.execute("ROLLBACK TO SAVEPOINT job")
            return (False, exc)
        except psycopg.DataError as exc:
            await conn.execute("ROLLBACK TO SAVEPOINT job")
            err = InvalidRequest(f"a value the store cannot take: {exc}")
            err.__cause__ = exc
            return (False, err)
        except Exception as exc:  # a bug: keep the writer and the other jobs alive
            log.exception("store write failed")
            await conn.execute("ROLLBACK TO SAVEPOINT job")
            failure = InternalError("store write failed")
            failure.__cause__ = exc
            return (False, failure)
        await conn.execute("RELEASE SAVEPOINT job")
        return (True, value)

    async def _connection(self) -> Conn:
        if self._conn is None or self._conn.closed or self._conn.broken:
            await self._drop_connection()
            conn = await AsyncConnection.connect(
                self.conninfo, autocommit=True, row_factory=dict_row, **self._options
            )
            setting = await rows(conn, "SELECT current_setting('synchronous_commit') AS value")
            if setting and setting[0]["value"] == "off":
                # An ack promises the message survives a crash: the commit must be flushed.
                log.warning(
                    "synchronous_commit is off for this database; the store turns it "
                    "on for its writes"
                )
                await conn.execute("SET synchronous_commit = on")
            self._conn = conn
        return self._conn

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            try:
                await conn.close()
            except psycopg.Error:
                log.debug("closing the writer connection failed", exc_info=True)


async def _pipeline(conn: Conn, sql: str, params: list[Sequence[Any]]) -> list[list[DictRow]]:
    """Run one statement once per parameter set in one round trip; the rows of each."""
    cur = conn.cursor()
    await cur.executemany(sql, params, returning=True)
    results = [await cur.fetchall()]
    while cur.nextset():
        results.append(await cur.fetchall())
    return results
