"""A connection's ``message.send`` requests, pipelined without losing their order.

A client may send the next message before the previous one is acknowledged.
Instead of handling them one at a time, the connection's reader hands sends to
a :class:`SendLane`; the lane takes everything queued (up to ``max_group``) as
one group and hands it to ``MessageService.send_many``, which stores a group's
messages in order. The next group starts when the previous one is answered, so
a connection has at most one group in flight and its messages keep their
order across groups too. Every other request waits until the lane is empty,
so it sees the effect of the sends before it, as if handled one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from nodechat.protocol.frames import Request

log = logging.getLogger(__name__)

Process = Callable[[list[Request]], Awaitable[None]]


class SendLane:
    """Queues one connection's sends and processes them a group at a time."""

    def __init__(self, process: Process, *, max_queued: int = 64, max_group: int = 32) -> None:
        self._process = process
        self._max_group = max_group
        self._max_queued = max_queued
        # made at the first send: a connection that never sends (most of them, in a big
        # community) does not pay the 3 KiB of a queue and its task
        self._queue: asyncio.Queue[Request] | None = None
        self._task: asyncio.Task[None] | None = None

    async def submit(self, request: Request) -> None:
        """Queue a send; waits while the lane is full (back-pressure on the reader)."""
        if self._queue is None:
            self._queue = asyncio.Queue(self._max_queued)
            self._task = asyncio.get_running_loop().create_task(self._run(self._queue))
        await self._queue.put(request)

    async def idle(self) -> None:
        """Wait until every queued send has been answered."""
        if self._queue is not None:
            await self._queue.join()

    async def close(self) -> None:
        """Finish the queued sends, then stop."""
        if self._task is None or self._queue is None:
            return
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self, queue: asyncio.Queue[Request]) -> None:
        while True:
            group = [await queue.get()]
            while len(group) < self._max_group and not queue.empty():
                group.append(queue.get_nowait())
            try:
                await self._process(group)
            except Exception:  # the processor answers its own errors; this is a bug
                log.exception("a send group failed")
            finally:
                for _ in group:
                    queue.task_done()
