"""The gateway's aiohttp application: the HTTP/JSON API, discovery, docs, probes, metrics.

Each API route decodes its request into the op's ``data``, authenticates the
bearer token, calls the op's handler from :mod:`nodechat.server.dispatch`
(one service call, the same reply as on the socket) and encodes the reply.
"""

from __future__ import annotations

import random
import re
from collections.abc import Awaitable, Callable, Collection

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from nodechat.config import FileSettings
from nodechat.errors import Unavailable
from nodechat.server.dispatch import HANDLERS, Call
from nodechat.server.forwarded import X_FORWARDED_FOR
from nodechat.server.http.decode import bearer_token, decode, request_address
from nodechat.server.http.docs import DOCS_CSP, DOCS_HTML
from nodechat.server.http.errors import json_response
from nodechat.server.http.files import add_file_routes
from nodechat.server.http.middleware import boundary
from nodechat.server.http.openapi import build_openapi
from nodechat.server.http.ops import Probe, ops_handlers
from nodechat.server.http.routes import ROUTES, SYSTEM_ROUTES, Route
from nodechat.server.metrics import Metrics
from nodechat.services.api import Services

SocketUrls = Callable[[], Awaitable[list[str]]]

MAX_BODY = 64 * 1024  # bytes; the socket's max frame
LOOPBACK = ("127.0.0.1", "::1")


class ApiEndpoint:
    """Turns a route of the table into an aiohttp handler."""

    def __init__(
        self,
        services: Services,
        metrics: Metrics,
        trusted_proxies: Collection[str],
        forwarded_header: str,
    ) -> None:
        self.services = services
        self.metrics = metrics
        self.trusted_proxies = frozenset(trusted_proxies)
        self.forwarded_header = forwarded_header

    def handler(self, route: Route) -> Handler:
        """The handler of one route."""
        op_handler = HANDLERS[route.op]

        async def handle(request: web.Request) -> web.StreamResponse:
            identity = None
            if route.authenticated:
                identity = await self.services.auth.authenticate(bearer_token(request))
            data = await decode(route, request)
            address = request_address(request, self.trusted_proxies, self.forwarded_header)
            call = Call(self.services, identity, data, address=address)
            reply = await op_handler(call)
            duplicate = False
            if route.op == "message.send":  # a retried nonce created nothing: 200, not 201
                duplicate = bool(reply["duplicate"])
                if not duplicate:
                    self.metrics.message_received()
            return json_response(reply, 201 if route.created and not duplicate else 200)

        return handle


def router_path(url: str) -> str:
    """``url`` for the router: a ``{field}`` segment never matches a static segment that
    another route has in its place (``/groups/join`` is not group ``join``), so every
    path serves, and a 405's ``Allow`` lists, exactly the methods documented for it."""
    parts = url.split("/")
    for i, part in enumerate(parts):
        if not (part.startswith("{") and part.endswith("}")):
            continue
        statics = sorted(
            {
                other[i]
                for other in (r.url.split("/") for r in ROUTES)
                if len(other) > i
                and not other[i].startswith("{")
                and all(
                    a == b or (a.startswith("{") and b.startswith("{"))
                    for a, b in zip(other[:i], parts[:i], strict=True)
                )
            }
        )
        if statics:
            names = "|".join(re.escape(name) for name in statics)
            parts[i] = f"{{{part[1:-1]}:(?!(?:{names})(?:/|$))[^/]+}}"
    return "/".join(parts)


def build_gateway_app(
    services: Services,
    *,
    ready: Probe,
    socket_urls: SocketUrls,
    metrics: Metrics,
    health: Probe | None = None,
    max_body: int = MAX_BODY,
    trusted_proxies: Collection[str] = LOOPBACK,
    forwarded_header: str = X_FORWARDED_FOR,
    max_file_size: int = FileSettings().max_size,
) -> web.Application:
    """The gateway app; serve it with ``nodechat.server.http.serve_app``.

    ``ready``/``health`` return the reasons the process is not ready/alive (empty:
    all is well); ``socket_urls`` returns the WebSocket URLs of the live socket
    nodes. ``trusted_proxies`` are peers whose ``forwarded_header`` is believed
    (the login rate limit is per client address; see nodechat.server.forwarded).
    """
    app = web.Application(middlewares=[boundary(metrics)], client_max_size=max_body)
    endpoint = ApiEndpoint(services, metrics, trusted_proxies, forwarded_header)
    for route in ROUTES:
        app.router.add_route(
            route.method, router_path(route.url), endpoint.handler(route), name=route.name
        )

    add_file_routes(app, services, max_file_size)
    openapi = orjson.dumps(build_openapi())

    async def gateway(request: web.Request) -> web.StreamResponse:
        urls = await socket_urls()
        if not urls:
            raise Unavailable("no socket node is available; retry shortly")
        return json_response({"url": random.choice(urls), "urls": urls})

    async def openapi_json(request: web.Request) -> web.StreamResponse:
        return web.Response(body=openapi, content_type="application/json")

    async def docs(request: web.Request) -> web.StreamResponse:
        return web.Response(
            text=DOCS_HTML,
            content_type="text/html",
            headers={"Content-Security-Policy": DOCS_CSP, "X-Content-Type-Options": "nosniff"},
        )

    handlers = {
        "gateway": gateway,
        "openapi": openapi_json,
        "docs": docs,
        **ops_handlers(health=health, ready=ready, metrics=metrics),
    }
    for sys_route in SYSTEM_ROUTES:
        app.router.add_route(
            sys_route.method, sys_route.path, handlers[sys_route.name], name=sys_route.name
        )
    return app
