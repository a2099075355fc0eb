"""What every servicer method shares: caller identity and error mapping.

A servicer is a plain class with one ``async def snake_case(request, call)``
per RPC of its service descriptor. :func:`method_handlers` wraps each in a
gRPC handler that maps a :class:`~nodechat.errors.ChatError` to a status plus
the trailer ``x-nodechat-error-bin``. A method the servicer lacks is a startup
error, except ``Batch``: it is served here for every service, by running each
call it carries through the same servicer methods, concurrently, with that
call's identity, and answering each with its reply or its error. Events are
not a concern of this layer: the role's local service publishes them on the
role's own bus, as it does in ``serve``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message as ProtoMessage

from nodechat.errors import ChatError, InternalError, InvalidRequest, Unauthenticated
from nodechat.models import Identity
from nodechat.proto.v1 import common_pb2
from nodechat.server.grpc import metadata
from nodechat.server.grpc.convert import error_to_pb
from nodechat.server.grpc.errors import error_trailer, status_of

log = logging.getLogger(__name__)

MISSING_IDENTITY = "missing_identity"
BATCH = "Batch"  # the RPC every service has for several of its calls at once
MAX_BATCH_CALLS = 512  # calls in one Batch request; more is refused as a whole


class CallContext:
    """One call as a servicer method sees it: who calls."""

    __slots__ = ("_metadata",)

    def __init__(self, invocation_metadata: Sequence[Any] | None) -> None:
        self._metadata = invocation_metadata

    @property
    def me(self) -> Identity:
        """The caller; ``Unauthenticated(missing_identity)`` if the metadata does not name one."""
        user = metadata.first(self._metadata, metadata.USER)
        session = metadata.first(self._metadata, metadata.SESSION)
        if not isinstance(user, str) or not user or not isinstance(session, str) or not session:
            raise Unauthenticated(
                f"this call needs the caller's identity ({metadata.USER}, {metadata.SESSION})",
                code=MISSING_IDENTITY,
            )
        return Identity(user, session)


ServicerMethod = Callable[[Any, CallContext], Awaitable[ProtoMessage]]


def python_name(rpc_name: str) -> str:
    """``LogoutAll`` -> ``logout_all``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", rpc_name).lower()


Observer = Callable[[str, float, str], None]  # (method, seconds, error code or "")


async def _outcome(
    full_name: str, fn: ServicerMethod, request: Any, call: CallContext, observer: Observer | None
) -> tuple[Any, ChatError | None]:
    """Run one servicer method: its reply, or the ChatError it ended with (reported)."""
    service, _, rpc = full_name.rpartition(".")
    started = time.perf_counter()
    reply: Any = None
    error: ChatError | None = None
    try:
        reply = await fn(request, call)
    except ChatError as exc:
        error = exc
    except Exception:
        log.exception("unexpected error in %s", full_name)
        error = InternalError("internal error")
    if observer is not None:  # the same label the client side uses
        observer(f"{service}/{rpc}", time.perf_counter() - started, error.code if error else "")
    return reply, error


def _behaviour(
    full_name: str, fn: ServicerMethod, observer: Observer | None = None
) -> Callable[[Any, Any], Awaitable[Any]]:
    async def handle(request: Any, context: Any) -> Any:
        call = CallContext(context.invocation_metadata())
        reply, error = await _outcome(full_name, fn, request, call, observer)
        if error is not None:
            await context.abort(
                status_of(error), error.message, trailing_metadata=error_trailer(error)
            )
        return reply

    return handle


_Method = tuple[str, Any, ServicerMethod]  # (full name, request class, servicer method)


def _batch_behaviour(
    methods: dict[str, _Method], observer: Observer | None
) -> Callable[[Any, Any], Awaitable[Any]]:
    """The handler of ``Batch``: every call it carries, run concurrently, each answered."""

    async def one(c: common_pb2.BatchCall) -> common_pb2.BatchOutcome:
        method = methods.get(c.method)
        if method is None:
            error: ChatError = InvalidRequest(
                f"no method {c.method!r} can be batched here", code="unknown_method"
            )
            return common_pb2.BatchOutcome(error=error_to_pb(error))
        full_name, request_type, fn = method
        try:
            request = request_type.FromString(c.request)
        except Exception:  # DecodeError, or bytes that are no message of that type
            error = InvalidRequest(f"the {c.method} request does not decode", code="bad_request")
            return common_pb2.BatchOutcome(error=error_to_pb(error))
        md = ((metadata.USER, c.user_id), (metadata.SESSION, c.session_id)) if c.user_id else ()
        reply, failed = await _outcome(full_name, fn, request, CallContext(md), observer)
        if failed is not None:
            return common_pb2.BatchOutcome(error=error_to_pb(failed))
        return common_pb2.BatchOutcome(reply=reply.SerializeToString())

    async def handle(request: common_pb2.BatchRequest, context: Any) -> Any:
        if len(request.calls) > MAX_BATCH_CALLS:
            error = InvalidRequest(
                f"a batch holds at most {MAX_BATCH_CALLS} calls", code="batch_too_large"
            )
            await context.abort(
                status_of(error), error.message, trailing_metadata=error_trailer(error)
            )
        if len(request.calls) == 1:
            outcomes = [await one(request.calls[0])]
        else:
            outcomes = await asyncio.gather(*(one(c) for c in request.calls))
        return common_pb2.BatchResponse(outcomes=outcomes)

    return handle


def _serialize(message: ProtoMessage) -> bytes:
    return message.SerializeToString()


def method_handlers(
    service: ServiceDescriptor, servicer: object, observer: Observer | None = None
) -> dict[str, Any]:
    """gRPC method handlers for every RPC of ``service``, served by ``servicer``."""
    handlers: dict[str, Any] = {}
    batchable: dict[str, _Method] = {}
    for method in service.methods:
        request_type = message_factory.GetMessageClass(method.input_type)
        if method.name == BATCH:
            behaviour = _batch_behaviour(batchable, observer)
        else:
            fn = getattr(servicer, python_name(method.name), None)
            if fn is None:
                raise TypeError(
                    f"{type(servicer).__name__} lacks {python_name(method.name)}"
                    f" for {method.full_name}"
                )
            batchable[method.name] = (method.full_name, request_type, fn)
            behaviour = _behaviour(method.full_name, fn, observer)
        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            behaviour, request_deserializer=request_type.FromString, response_serializer=_serialize
        )
    return handlers


def add_servicer(
    server: Any, service: ServiceDescriptor, servicer: object, observer: Observer | None = None
) -> None:
    """Register ``servicer`` for ``service`` on a ``grpc.aio.Server``."""
    handlers = method_handlers(service, servicer, observer)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service.full_name, handlers),)
    )
    server.add_registered_method_handlers(service.full_name, handlers)
