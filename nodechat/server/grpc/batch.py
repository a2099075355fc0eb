"""Micro-batching of sends: concurrent ``send()`` calls travel as one SendMany RPC.

A send waits for the end of the current event-loop turn (or until
``max_batch`` are queued); then everything queued goes out together. At most
``max_in_flight`` batches are in flight; while they are, new sends queue up
and go in the next batch, so batches grow with the load and the message
role's group commit acknowledges many messages per fsync. Each caller gets
its own result or error.

``send_group()`` queues several sends that must travel together: a group is
never split over two batches, so the message role stores its items in order
(a connection's pipelined sends; see ``MessageService.send_many``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from nodechat.errors import ChatError, Unavailable, settle
from nodechat.proto.v1 import messages_pb2
from nodechat.server.grpc.convert import error_from_pb, send_result_from_pb
from nodechat.server.grpc.errors import SERVICE_UNAVAILABLE, copy_error
from nodechat.services.api import SendOutcome, SendResult, fold

SendMany = Callable[[messages_pb2.SendManyRequest], Awaitable[messages_pb2.SendManyResponse]]


@dataclass(slots=True)
class _Pending:
    item: messages_pb2.SendItem
    future: asyncio.Future[SendResult]


class SendBatcher:
    """Collects sends and flushes them as SendMany calls."""

    def __init__(
        self, send_many: SendMany, *, max_batch: int = 256, max_in_flight: int = 4
    ) -> None:
        self._send_many = send_many
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._queue: list[list[_Pending]] = []  # groups, each kept within one batch
        self._queued = 0  # sends in the queue
        self._scheduled = False
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self.batches = 0  # SendMany calls made

    async def send(self, item: messages_pb2.SendItem) -> SendResult:
        """Queue one send and wait for its own result."""
        return await self._enqueue([item])[0]

    async def send_group(self, items: Sequence[messages_pb2.SendItem]) -> list[SendOutcome]:
        """Queue sends that go in one batch, in order; each one's result or error."""
        if not items:
            return []
        futures = self._enqueue(items)
        await asyncio.wait(futures)
        return [await settle(future) for future in futures]

    def _enqueue(self, items: Sequence[messages_pb2.SendItem]) -> list[asyncio.Future[SendResult]]:
        if self._closed:
            raise Unavailable("the message client is closed", code=SERVICE_UNAVAILABLE)
        loop = asyncio.get_running_loop()
        group = [_Pending(item, loop.create_future()) for item in items]
        self._queue.append(group)
        self._queued += len(group)
        if self._queued >= self._max_batch:
            self._flush()
        elif not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._tick)
        return [p.future for p in group]

    def _tick(self) -> None:
        self._scheduled = False
        self._flush()

    def _flush(self) -> None:
        while self._queue and self._in_flight < self._max_in_flight:
            batch: list[_Pending] = []
            taken = 0
            for group in self._queue:  # whole groups, at least one, up to max_batch sends
                if batch and len(batch) + len(group) > self._max_batch:
                    break
                batch += group
                taken += 1
            del self._queue[:taken]
            self._queued -= len(batch)
            self._in_flight += 1
            self.batches += 1
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: Sequence[_Pending]) -> None:
        try:
            request = messages_pb2.SendManyRequest(items=[p.item for p in batch])
            outcomes = await fold(self._outcomes(request, len(batch)), len(batch))
            for p, outcome in zip(batch, outcomes, strict=True):
                if p.future.done():
                    continue
                if isinstance(outcome, ChatError):
                    # a fresh instance per waiting caller, so their tracebacks stay apart
                    p.future.set_exception(copy_error(outcome))
                else:
                    p.future.set_result(outcome)
        finally:
            self._in_flight -= 1
            if self._queue and not self._scheduled:
                self._flush()

    async def _outcomes(self, request: messages_pb2.SendManyRequest, n: int) -> list[SendOutcome]:
        """The ``n`` items' outcomes of one SendMany call (a skipped item is Unavailable)."""
        response = await self._send_many(request)
        outcomes: list[SendOutcome] = [
            send_result_from_pb(o.result) if o.HasField("result") else error_from_pb(o.error)
            for o in response.outcomes[:n]
        ]
        skipped = Unavailable("the message role skipped a send", code=SERVICE_UNAVAILABLE)
        return outcomes + [skipped] * (n - len(outcomes))

    async def close(self) -> None:
        """Fail what is queued and wait for the batches in flight."""
        self._closed = True
        queued, self._queue, self._queued = self._queue, [], 0
        for p in (p for group in queued for p in group):
            if not p.future.done():
                p.future.set_exception(
                    Unavailable("the message client is closed", code=SERVICE_UNAVAILABLE)
                )
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
