"""A TCP proxy in front of PostgreSQL that can swallow the server's answer to one COMMIT.

A role whose store URL points here works as usual until
:meth:`CommitHolder.hold_commit`: then the server's next answer that a
transaction of at least ``rows`` result rows committed (its CommandComplete
message tagged ``COMMIT``; the query itself may be a prepared statement, so it
is the answer that is matched) is not passed on, nor anything after it on that
connection. The client waits for an answer that never comes: its transaction is
durable and it does not know. Killing the client then is the "committed, never
acknowledged" crash, every time, with no hook in the code under test.

The proxy runs its own event loop in a thread, so it keeps forwarding while the
test's loop is blocked (starting or killing a process).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

DATA_ROW = b"D"
COMMAND_COMPLETE = b"C"
COMMIT_TAG = b"COMMIT\x00"
ROLLBACK_TAG = b"ROLLBACK\x00"


class _Answers:
    """Splits what a PostgreSQL server sends into whole messages (type, int32 length)."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._first = True

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        """The messages completed by ``chunk``, each whole, in order."""
        self._buffer += chunk
        if self._first and self._buffer:
            self._first = False
            if self._buffer[:1] == b"N":  # a one-byte "no" to the client's SSL request
                yield bytes(self._buffer[:1])
                del self._buffer[:1]
        while len(self._buffer) >= 5:
            end = 1 + int.from_bytes(self._buffer[1:5], "big")
            if len(self._buffer) < end:
                return
            yield bytes(self._buffer[:end])
            del self._buffer[:end]


class CommitHolder:
    """Forwards 127.0.0.1:<port> to PostgreSQL; can hold back the answer to one COMMIT."""

    def __init__(self, host: str, port: int) -> None:
        self._upstream = (host, port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._lock = threading.Lock()
        self._rows: int | None = None  # armed: hold a commit of at least this many rows
        self._streams: set[asyncio.StreamWriter] = set()
        self.committed = threading.Event()  # a COMMIT succeeded and its answer is held
        self.held_rows = 0  # result rows of the held transaction

    def start(self) -> int:
        """Listen; the port."""
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop
        )
        self._server = started.result(10)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def hold_commit(self, rows: int = 0) -> None:
        """Hold back the answer to the next commit of a transaction that returned at
        least ``rows`` rows, and everything after it on its connection."""
        with self._lock:
            self._rows = rows

    def _holds(self, rows: int) -> bool:
        with self._lock:
            if self._rows is None or rows < self._rows:
                return False
            self._rows = None
            self.held_rows = rows
            self.committed.set()
            return True

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*self._upstream)
        except OSError:
            client_w.close()
            return
        self._streams |= {client_w, server_w}

        async def upstream() -> None:
            while chunk := await client_r.read(65536):
                server_w.write(chunk)
                await server_w.drain()

        async def downstream() -> None:
            answers, rows, holding = _Answers(), 0, False
            while chunk := await server_r.read(65536):
                passed = bytearray()
                for message in answers.feed(chunk):
                    kind = message[:1]
                    if kind == DATA_ROW:
                        rows += 1
                    elif kind == COMMAND_COMPLETE and message[5:] == COMMIT_TAG:
                        holding = holding or self._holds(rows)
                        rows = 0
                    elif kind == COMMAND_COMPLETE and message[5:] == ROLLBACK_TAG:
                        rows = 0
                    if not holding:
                        passed += message
                if passed:
                    client_w.write(passed)
                    await client_w.drain()

        # When either side closes, close both: a killed client ends its server session.
        tasks = [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        for stream in (client_w, server_w):
            self._streams.discard(stream)
            stream.close()
        await asyncio.gather(*tasks, return_exceptions=True)

    def close(self) -> None:
        """Drop every connection and stop."""

        async def shut() -> None:
            if self._server is not None:
                self._server.close()
            for stream in list(self._streams):
                stream.close()

        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(shut(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
