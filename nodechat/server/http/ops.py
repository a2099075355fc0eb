"""Ops endpoints (``/healthz``, ``/readyz``, ``/metrics``) and serving an app on host:port.

A probe is a callable that returns the reasons the process is not healthy
(or not ready), possibly as an awaitable; an empty list means all is well.
``start_ops_server`` serves only the ops endpoints, for processes without
another HTTP server (the gRPC roles).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from aiohttp.typedefs import Handler

from nodechat import __version__
from nodechat.server.http.errors import json_response
from nodechat.server.http.middleware import boundary
from nodechat.server.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger(__name__)

Probe = Callable[[], Sequence[str] | Awaitable[Sequence[str]]]
PROBE_TIMEOUT = 2.0  # seconds; a probe that takes longer counts as failing
SHUTDOWN_TIMEOUT = 5.0  # seconds in-flight requests get when the server stops


async def run_probe(probe: Probe | None) -> list[str]:
    """The reasons a probe reports; a probe that fails or hangs is a reason itself."""
    if probe is None:
        return []
    try:
        result = probe()
        if inspect.isawaitable(result):
            result = await asyncio.wait_for(result, PROBE_TIMEOUT)
        if isinstance(result, str):  # one reason given bare
            return [result]
        return [str(reason) for reason in result]
    except TimeoutError:
        return [f"probe timed out after {PROBE_TIMEOUT:g} s"]
    except Exception:
        log.exception("probe failed")
        return ["probe failed"]


def ops_handlers(*, health: Probe | None, ready: Probe, metrics: Metrics) -> dict[str, Handler]:
    """Handlers of ``healthz``, ``readyz`` and ``metrics``, by route name."""

    async def healthz(request: web.Request) -> web.StreamResponse:
        reasons = await run_probe(health)
        if reasons:
            return json_response(
                {"status": "failing", "version": __version__, "reasons": reasons}, 503
            )
        return json_response({"status": "ok", "version": __version__})

    async def readyz(request: web.Request) -> web.StreamResponse:
        reasons = await run_probe(ready)
        if reasons:
            return json_response({"status": "not ready", "reasons": reasons}, 503)
        return json_response({"status": "ready"})

    async def render(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=metrics.render(),
            headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"},
        )

    return {"healthz": healthz, "readyz": readyz, "metrics": render}


async def serve_app(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Start serving ``app`` (port 0 picks a free port); ``await runner.cleanup()`` stops it."""
    runner = web.AppRunner(app, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port a started runner listens on."""
    port: int = runner.addresses[0][1]
    return port


async def start_ops_server(
    host: str, port: int, *, health: Probe | None = None, ready: Probe, metrics: Metrics
) -> web.AppRunner:
    """Serve ``/healthz``, ``/readyz`` and ``/metrics`` only; returns the started runner."""
    app = web.Application(middlewares=[boundary(metrics)], client_max_size=1024)
    for name, handler in ops_handlers(health=health, ready=ready, metrics=metrics).items():
        app.router.add_get(f"/{name}", handler, name=name, allow_head=False)
    return await serve_app(app, host, port)
