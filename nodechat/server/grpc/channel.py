"""One client connection to a role: metadata, deadlines, retries and errors.

Every call carries the service token and (when acting for a user) the
caller's identity, has a deadline of ``rpc.timeout`` seconds, and is retried
with exponential backoff and full jitter on ``UNAVAILABLE`` when it is
idempotent. Every failure is a ChatError. A call only returns its reply: the
role that made a change publishes its events on the bus itself.

Reads marked ``batch`` travel together as one ``Batch`` RPC (each answered on
its own): a read waits for the end of its event-loop turn, and while one batch
of the channel is being answered, for that one; so a storm of session starts
pays gRPC's per-call cost (about 0.5 ms of CPU here) once per batch instead of
once per read, and a read at light load waits for nothing. A lone read goes
out as itself, and a role too old to know ``Batch`` gets single calls from
then on.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message as ProtoMessage

from nodechat.coalesce import Coalescer
from nodechat.config import RpcSettings
from nodechat.errors import ChatError, InternalError, InvalidRequest, Unavailable
from nodechat.models import Identity
from nodechat.proto.v1 import common_pb2
from nodechat.server.grpc import metadata
from nodechat.server.grpc.convert import error_from_pb
from nodechat.server.grpc.errors import SERVICE_UNAVAILABLE, copy_error, error_from_rpc
from nodechat.server.grpc.tls import channel_credentials

log = logging.getLogger(__name__)

R = TypeVar("R", bound=ProtoMessage)

BACKOFF_BASE = 0.05  # seconds before the first retry, doubled each time
BACKOFF_CAP = 1.0
MAX_MESSAGE = 16 * 1024 * 1024
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    # gRPC's default reconnect backoff (1 s, x1.6, up to 120 s) kept calls failing for
    # 4-12 s after a role came back from a 10-30 s outage; at most 1 s between attempts
    # to reach a role on a private network costs nothing (benchmarks/outage_recovery.py).
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1_000),
]


MAX_BATCH_CALLS = 256  # reads in one Batch RPC (the server takes up to 512)
# Batches of one channel in flight at once; reads made meanwhile wait and go in the
# next one, so batches grow with the load (as the sends' SendBatcher does) while a
# read at light load goes out at the end of its own loop turn. One: with 4, the
# reads of a connect storm went out in batches of about 3, a third of them alone;
# with 1, about 5 a batch, and the roles' CPU per connect halved (docs/performance.md,
# "2026-12-04: connect storms, split").
MAX_BATCHES_IN_FLIGHT = 1


@dataclass(slots=True)
class _Queued:
    """A batchable read waiting for the end of the loop turn."""

    name: str
    request: ProtoMessage
    reply_type: type[ProtoMessage]
    identity: Identity | None


def _serialize(message: ProtoMessage) -> bytes:
    return message.SerializeToString()


def build(message_type: type[R], **fields: Any) -> R:
    """A request message; ``InvalidRequest`` if a value cannot be encoded (lone surrogates)."""
    try:
        return message_type(**fields)
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise InvalidRequest(
            f"a field of {message_type.__name__} cannot be encoded: {exc}", code="invalid_encoding"
        ) from exc


def backoff(attempt: int) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): full jitter over a capped doubling."""
    return random.uniform(0.0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))


def open_channel(target: str, settings: RpcSettings) -> Any:
    """A ``grpc.aio.Channel`` to ``target`` (TLS when configured)."""
    credentials = channel_credentials(settings)
    if credentials is None:
        return grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS)
    return grpc.aio.secure_channel(target, credentials, options=CHANNEL_OPTIONS)


class RpcChannel:
    """Calls to one gRPC service (``nodechat.v1.<Name>``) of one role."""

    def __init__(self, target: str, service: str, settings: RpcSettings) -> None:
        if not target:
            raise InvalidRequest(f"no address configured for {service}", code="bad_config")
        token = metadata.service_token(settings)
        self.target = target
        self.service = service
        self._settings = settings
        self._channel = open_channel(target, settings)
        self._token = metadata.authorization(token)
        self._methods: dict[str, Any] = {}
        self.calls = 0  # RPCs attempted, retries included (for tests and metrics)
        self.batches = 0  # Batch RPCs made (each carrying two or more reads)
        self.batching = True  # off once the role answers Batch with UNIMPLEMENTED
        self._reads: Coalescer[_Queued, Any] = Coalescer(
            self._run, max_items=MAX_BATCH_CALLS, in_flight=MAX_BATCHES_IN_FLIGHT
        )
        # metrics hook: (method, seconds, error code or "") after every call
        self.observer: Callable[[str, float, str], None] | None = None

    def _method(self, name: str, reply_type: type[ProtoMessage]) -> Any:
        method = self._methods.get(name)
        if method is None:
            method = self._channel.unary_unary(
                f"/{self.service}/{name}",
                request_serializer=_serialize,
                response_deserializer=reply_type.FromString,
            )
            self._methods[name] = method
        return method

    async def call(
        self,
        name: str,
        request: ProtoMessage,
        reply_type: type[R],
        identity: Identity | None = None,
        *,
        idempotent: bool = False,
        batch: bool = False,
    ) -> R:
        """Call RPC ``name``; return the reply or raise a ChatError.

        ``batch`` (a read, so idempotent): it may share one ``Batch`` RPC with the
        other batchable calls of this loop turn.
        """
        started = time.perf_counter()
        try:
            if batch and self.batching:
                reply: R = await self._enqueue(name, request, reply_type, identity)
            else:
                reply = await self._single(name, request, reply_type, identity, idempotent)
        except ChatError as exc:
            self._observe(name, started, exc.code)
            raise
        self._observe(name, started, "")
        return reply

    async def _single(
        self,
        name: str,
        request: ProtoMessage,
        reply_type: type[R],
        identity: Identity | None,
        idempotent: bool,
    ) -> R:
        md: list[tuple[str, str]] = [self._token]
        if identity is not None:
            md += [(metadata.USER, identity.user_id), (metadata.SESSION, identity.session_id)]
        method = self._method(name, reply_type)
        reply: R = await self._attempts(name, method, request, md, idempotent)
        return reply

    # -- batching ----------------------------------------------------------

    async def _enqueue(
        self,
        name: str,
        request: ProtoMessage,
        reply_type: type[ProtoMessage],
        identity: Identity | None,
    ) -> Any:
        outcome = await self._reads(_Queued(name, request, reply_type, identity))
        if isinstance(outcome, ChatError):
            raise outcome
        return outcome

    async def _run(self, chunk: list[_Queued]) -> list[Any]:
        """Each read's reply or ChatError: one read alone, else all of them as one Batch."""
        if len(chunk) == 1 or not self.batching:
            return list(await asyncio.gather(*(self._run_single(q) for q in chunk)))
        request = common_pb2.BatchRequest(
            calls=[
                common_pb2.BatchCall(
                    method=q.name,
                    request=q.request.SerializeToString(),
                    user_id=q.identity.user_id if q.identity else "",
                    session_id=q.identity.session_id if q.identity else "",
                )
                for q in chunk
            ]
        )
        method = self._method("Batch", common_pb2.BatchResponse)
        self.batches += 1
        try:
            response = await self._attempts("Batch", method, request, [self._token], True)
        except ChatError as exc:
            if exc.details.get("status") != grpc.StatusCode.UNIMPLEMENTED.name:
                return [copy_error(exc) for _ in chunk]
            log.warning(
                "%s at %s has no Batch: single calls from now on", self.service, self.target
            )
            self.batching = False
            return list(await asyncio.gather(*(self._run_single(q) for q in chunk)))
        outcomes = response.outcomes
        return [
            self._outcome(q, outcomes[i] if i < len(outcomes) else None)
            for i, q in enumerate(chunk)
        ]

    def _outcome(self, q: _Queued, outcome: common_pb2.BatchOutcome | None) -> Any:
        if outcome is None:
            return Unavailable(f"{self.service} skipped a batched call", code=SERVICE_UNAVAILABLE)
        if outcome.HasField("error"):
            return error_from_pb(outcome.error)
        try:
            return q.reply_type.FromString(outcome.reply)
        except Exception:  # a reply that does not decode: the role is broken
            log.exception("%s/%s: a batched reply does not decode", self.service, q.name)
            return InternalError(f"{self.service} sent a bad reply", code="rpc_failed")

    async def _run_single(self, q: _Queued) -> Any:
        try:
            return await self._single(q.name, q.request, q.reply_type, q.identity, True)
        except ChatError as exc:
            return exc

    def _observe(self, name: str, started: float, code: str) -> None:
        if self.observer is not None:
            self.observer(f"{self.service}/{name}", time.perf_counter() - started, code)

    async def _attempts(
        self,
        name: str,
        method: Any,
        request: ProtoMessage,
        md: list[tuple[str, str]],
        idempotent: bool,
    ) -> Any:
        attempts = max(1, self._settings.retries) if idempotent else 1
        for attempt in range(attempts):
            self.calls += 1
            try:
                call = method(request, metadata=md, timeout=self._settings.timeout)
                return await call
            except grpc.aio.AioRpcError as err:
                if err.code() is grpc.StatusCode.UNAVAILABLE and attempt + 1 < attempts:
                    await asyncio.sleep(backoff(attempt))
                    continue
                raise error_from_rpc(err, self.service) from err
            except grpc.aio.UsageError as err:
                raise Unavailable(
                    f"{self.service}: the channel is closed", code=SERVICE_UNAVAILABLE
                ) from err
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def close(self) -> None:
        """Close the channel (calls in flight are cancelled)."""
        await self._channel.close()
        self._reads.cancel(
            Unavailable(f"{self.service}: the channel is closed", code=SERVICE_UNAVAILABLE)
        )
