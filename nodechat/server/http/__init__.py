"""The gateway role's HTTP server: public HTTP/JSON API, discovery, docs, probes, metrics."""

from nodechat.server.http.app import MAX_BODY, SocketUrls, build_gateway_app
from nodechat.server.http.openapi import build_openapi
from nodechat.server.http.ops import Probe, bound_port, serve_app, start_ops_server
from nodechat.server.http.routes import API_PREFIX, ROUTES, SYSTEM_ROUTES, Route, SystemRoute

__all__ = [
    "API_PREFIX",
    "MAX_BODY",
    "ROUTES",
    "SYSTEM_ROUTES",
    "Probe",
    "Route",
    "SocketUrls",
    "SystemRoute",
    "bound_port",
    "build_gateway_app",
    "build_openapi",
    "serve_app",
    "start_ops_server",
]
