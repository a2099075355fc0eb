"""Many callers, one round trip: calls of one loop turn answered by one call.

A :class:`Coalescer` queues each call's item; at the end of the event-loop turn
(or, while the previous group is being answered, when it is) it hands every
queued item to one ``run`` call and gives each caller its own result. At
light load a call waits for nothing but the end of its turn; under a storm
(thousands of connects) the groups grow with the load. A failure of the
whole call is every caller's failure, a fresh copy each, so their
tracebacks stay apart.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Coalescer(Generic[T, R]):
    """Queue items; answer them in groups through ``run`` (one result per item, in order)."""

    def __init__(
        self,
        run: Callable[[list[T]], Awaitable[Sequence[R]]],
        *,
        max_items: int = 500,
        in_flight: int = 1,
    ) -> None:
        self._run = run
        self._max_items = max_items
        self._max_in_flight = in_flight
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._scheduled = False
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.groups = 0  # run calls made (for tests and benchmarks)
        self._failure: Exception | None = None  # what cancel() gives the callers in flight

    async def __call__(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._queue.append((item, future))
        if not self._scheduled and self._in_flight < self._max_in_flight:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._scheduled = False
        loop = asyncio.get_running_loop()
        while self._queue and self._in_flight < self._max_in_flight:
            group = self._queue[: self._max_items]
            del self._queue[: self._max_items]
            self._in_flight += 1
            self.groups += 1
            task = loop.create_task(self._answer(group))
            self._tasks.add(task)
            task.add_done_callback(self._answered)

    def _answered(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._in_flight -= 1
        if self._queue and not self._scheduled:
            self._flush()

    async def _answer(self, group: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._run([item for item, _ in group])
            if len(results) != len(group):
                raise RuntimeError(f"{len(results)} results for {len(group)} items")
        except BaseException as exc:
            failure = self._failure if isinstance(exc, asyncio.CancelledError) else None
            for _, future in group:
                if not future.done():
                    future.set_exception(copy.copy(failure or exc))
            if not isinstance(exc, Exception):
                raise  # cancelled: the callers have their error, the task ends as asked
            return
        for (_, future), result in zip(group, results, strict=True):
            if not future.done():  # its caller gave up meanwhile
                future.set_result(result)

    def cancel(self, error: Exception) -> None:
        """Stop: the groups being answered are cancelled, and every caller still waiting
        (in flight or queued) gets a copy of ``error``."""
        queued, self._queue = self._queue, []
        for _, future in queued:
            if not future.done():
                future.set_exception(copy.copy(error))
        self._failure = error
        for task in list(self._tasks):
            task.cancel()
