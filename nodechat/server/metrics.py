"""Prometheus metrics of one process, on a registry of its own.

Each :class:`Metrics` owns a ``CollectorRegistry`` (never the global one), so a
test can build as many as it likes and a process exposes exactly what it
measured. Every metric name carries the ``nodechat_`` prefix:

    nodechat_build_info{version}                 gauge, always 1
    nodechat_connections                         gauge: open client connections
    nodechat_sessions                            gauge: authenticated connections
    nodechat_messages_in_total                   counter: messages accepted from clients
    nodechat_messages_out_total                  counter: deliveries to client connections
    nodechat_errors_total{code}                  counter: error replies by stable code
    nodechat_rpc_latency_seconds{method}         histogram: service calls
    nodechat_http_requests_total{method,route,status}  counter
    nodechat_http_latency_seconds{method,route}  histogram

The four client-traffic metrics (connections, sessions, messages in and out)
exist only where clients connect: ``Metrics(client_traffic=False)`` (the gRPC
data roles) leaves them out of ``render()``, so a data role does not report a
``nodechat_connections 0`` that means nothing there.

``route`` is the route template (``/api/v1/groups/{group_id}``), never the raw
path, so label cardinality stays bounded.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from nodechat import __version__

T = TypeVar("T")

# Service calls are local (sub-ms) or one gRPC hop (ms); a bcrypt login is ~0.25 s.
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """The metrics of one process; ``render()`` is what ``GET /metrics`` serves."""

    def __init__(self, namespace: str = "nodechat", *, client_traffic: bool = True) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        ns = namespace
        # Unregistered (registry None) client metrics still count, but are never rendered.
        clients = registry if client_traffic else None
        info = Gauge(
            "build_info",
            "Build of this process (value is always 1).",
            ["version"],
            namespace=ns,
            registry=registry,
        )
        info.labels(version=__version__).set(1)
        self.connections = Gauge(
            "connections", "Open client connections.", namespace=ns, registry=clients
        )
        self.sessions = Gauge(
            "sessions", "Authenticated client connections.", namespace=ns, registry=clients
        )
        self.messages_in = Counter(
            "messages_in", "Messages accepted from clients.", namespace=ns, registry=clients
        )
        self.messages_out = Counter(
            "messages_out",
            "Messages delivered to client connections.",
            namespace=ns,
            registry=clients,
        )
        self.voice_frames = Counter(
            "voice_frames",
            "Voice frames from clients (in) and written to clients (out).",
            ["direction"],
            namespace=ns,
            registry=clients,
        )
        self.voice_dropped = Counter(
            "voice_frames_dropped",
            "Voice frames not relayed: queue (receiver behind), late, throttled, muted, refused.",
            ["reason"],
            namespace=ns,
            registry=clients,
        )
        self.errors = Counter(
            "errors",
            "Error replies, by stable error code.",
            ["code"],
            namespace=ns,
            registry=registry,
        )
        self.rpc_latency = Histogram(
            "rpc_latency_seconds",
            "Latency of service calls.",
            ["method"],
            namespace=ns,
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        self.http_requests = Counter(
            "http_requests",
            "HTTP requests answered.",
            ["method", "route", "status"],
            namespace=ns,
            registry=registry,
        )
        self.http_latency = Histogram(
            "http_latency_seconds",
            "HTTP request latency.",
            ["method", "route"],
            namespace=ns,
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )

    def connection_opened(self) -> None:
        """A client connection was accepted."""
        self.connections.inc()

    def connection_closed(self) -> None:
        """A client connection ended."""
        self.connections.dec()

    def session_started(self) -> None:
        """A connection authenticated."""
        self.sessions.inc()

    def session_ended(self) -> None:
        """An authenticated connection ended."""
        self.sessions.dec()

    def message_received(self, count: int = 1) -> None:
        """``count`` messages were accepted from clients."""
        self.messages_in.inc(count)

    def messages_delivered(self, count: int) -> None:
        """``count`` messages were written to client connections."""
        self.messages_out.inc(count)

    def error(self, code: str) -> None:
        """An error with this stable code was sent to a client."""
        self.errors.labels(code=code).inc()

    def observe_rpc(self, method: str, seconds: float) -> None:
        """Record the latency of one service call."""
        self.rpc_latency.labels(method=method).observe(seconds)

    def observe_call(self, method: str, seconds: float, error_code: str) -> None:
        """An RPC finished (client or server side): its latency, and its error if any."""
        self.rpc_latency.labels(method=method).observe(seconds)
        if error_code:
            self.errors.labels(code=error_code).inc()

    def observe_http(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one answered HTTP request."""
        self.http_requests.labels(method=method, route=route, status=str(status)).inc()
        self.http_latency.labels(method=method, route=route).observe(seconds)

    async def time_rpc(self, method: str, call: Awaitable[T]) -> T:
        """Await ``call`` and record its latency under ``method``, failed or not."""
        start = time.perf_counter()
        try:
            return await call
        finally:
            self.observe_rpc(method, time.perf_counter() - start)

    def render(self) -> bytes:
        """Every metric in the Prometheus text format (see :data:`CONTENT_TYPE`)."""
        return generate_latest(self.registry)


__all__ = ["CONTENT_TYPE", "LATENCY_BUCKETS", "Metrics"]
