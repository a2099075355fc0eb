"""The one middleware of every nodechat aiohttp app: error mapping and request metrics."""

from __future__ import annotations

import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from nodechat.errors import ChatError
from nodechat.server.http.errors import (
    error_response,
    from_http_exception,
    http_error_response,
    internal_response,
)
from nodechat.server.metrics import Metrics

log = logging.getLogger(__name__)

UNMATCHED = "unmatched"  # route label of requests no route matched (bounded cardinality)


def route_label(request: web.Request) -> str:
    """The route template a request matched, or ``unmatched``."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


def boundary(metrics: Metrics) -> Middleware:
    """Map every failure to a JSON error response and record each request."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        start = time.perf_counter()
        route = route_label(request)
        response: web.StreamResponse
        try:
            response = await handler(request)
        except ChatError as exc:
            response = error_response(exc)
            metrics.error(exc.code)
        except web.HTTPException as exc:
            response = http_error_response(exc)
            if exc.status >= 400:
                metrics.error(from_http_exception(exc).code)
        except Exception:
            log.exception("unhandled error in %s %s", request.method, route)
            response = internal_response()
            metrics.error("internal")
        metrics.observe_http(request.method, route, response.status, time.perf_counter() - start)
        return response

    return middleware
