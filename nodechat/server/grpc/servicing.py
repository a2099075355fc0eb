"""What every servicer method shares: caller identity and error mapping.

A servicer is a plain class with one ``async def snake_case(request, call)``
per RPC of its service descriptor. :func:`method_handlers` wraps each in a
gRPC handler that maps a :class:`~nodechat.errors.ChatError` to a status plus
the trailer ``x-nodechat-error-bin``. A method the servicer lacks is a startup
error. Events are not a concern of this layer: the role's local service
publishes them on the role's own bus, as it does in ``serve``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message as ProtoMessage

from nodechat.errors import ChatError, InternalError, Unauthenticated
from nodechat.models import Identity
from nodechat.server.grpc import metadata
from nodechat.server.grpc.errors import error_trailer, status_of

log = logging.getLogger(__name__)

MISSING_IDENTITY = "missing_identity"


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


def _behaviour(
    full_name: str, fn: ServicerMethod, observer: Observer | None = None
) -> Callable[[Any, Any], Awaitable[Any]]:
    service, _, rpc = full_name.rpartition(".")
    label = f"{service}/{rpc}"  # the same label the client side uses

    async def handle(request: Any, context: Any) -> Any:
        started = time.perf_counter()
        error: ChatError | None = None
        call = CallContext(context.invocation_metadata())
        try:
            reply = await fn(request, call)
        except ChatError as exc:
            error = exc
        except Exception:
            log.exception("unexpected error in %s", full_name)
            error = InternalError("internal error")
        if observer is not None:
            observer(label, time.perf_counter() - started, error.code if error else "")
        if error is not None:
            await context.abort(
                status_of(error), error.message, trailing_metadata=error_trailer(error)
            )
        return reply

    return handle


def _serialize(message: ProtoMessage) -> bytes:
    return message.SerializeToString()


def method_handlers(
    service: ServiceDescriptor, servicer: object, observer: Observer | None = None
) -> dict[str, Any]:
    """gRPC method handlers for every RPC of ``service``, served by ``servicer``."""
    handlers: dict[str, Any] = {}
    for method in service.methods:
        fn = getattr(servicer, python_name(method.name), None)
        if fn is None:
            raise TypeError(
                f"{type(servicer).__name__} lacks {python_name(method.name)} for {method.full_name}"
            )
        request_type = message_factory.GetMessageClass(method.input_type)
        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            _behaviour(method.full_name, fn, observer),
            request_deserializer=request_type.FromString,
            response_serializer=_serialize,
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
