"""The socket role's listener: the client WebSocket endpoint plus the ops paths on one port.

``GET /healthz`` (the process runs), ``GET /readyz`` (the node can serve:
its bus is connected) and ``GET /metrics`` (Prometheus text) are answered
during the HTTP handshake; every other request must be a WebSocket upgrade.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from nodechat import __version__
from nodechat.config import SocketSettings
from nodechat.server.ws import SocketEndpoint

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 1.0  # seconds to wait for a peer's close frame
SHUTDOWN_GRACE = 5.0

Readiness = Callable[[], list[str]]  # the reasons the node is not ready; empty = ready


def json_response(status: HTTPStatus, body: dict[str, object]) -> Response:
    """A small JSON HTTP response for the handshake hook."""
    payload = orjson.dumps(body)
    headers = Headers(
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(payload))),
            ("Cache-Control", "no-store"),
        ]
    )
    return Response(status.value, status.phrase, headers, payload)


class SocketServer:
    """Serves a :class:`SocketEndpoint` and the ops paths on one host:port."""

    def __init__(
        self,
        endpoint: SocketEndpoint,
        settings: SocketSettings,
        *,
        not_ready: Readiness,
        metrics: Callable[[], bytes] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.settings = settings
        self._not_ready = not_ready
        self._metrics = metrics
        self.server: Server | None = None

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        assert self.server is not None
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def start(self, host: str, port: int) -> None:
        """Start listening."""
        s = self.settings
        self.server = await serve(
            self.endpoint.handle,
            host,
            port,
            process_request=self._process_request,
            compression=None,  # frames are built once and shared (protocol/framing.py)
            max_size=s.max_frame,
            ping_interval=s.ping_interval,
            ping_timeout=s.ping_timeout,
            # After a ping timeout (or any server-side close) wait this long for the
            # peer's close frame, not websockets' 10 s: an unresponsive client must go
            # offline for the others right after the ping timeout.
            close_timeout=CLOSE_TIMEOUT,
            server_header=f"nodechat/{__version__}",
        )

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == "/healthz":
            return json_response(HTTPStatus.OK, {"status": "ok", "version": __version__})
        if path == "/readyz":
            reasons = self._not_ready()
            if reasons:
                return json_response(
                    HTTPStatus.SERVICE_UNAVAILABLE, {"status": "not ready", "reasons": reasons}
                )
            return json_response(HTTPStatus.OK, {"status": "ready"})
        if path == "/metrics" and self._metrics is not None:
            body = self._metrics()
            headers = Headers(
                [
                    ("Content-Type", "text/plain; version=0.0.4; charset=utf-8"),
                    ("Content-Length", str(len(body))),
                ]
            )
            return Response(200, "OK", headers, body)
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return json_response(
                HTTPStatus.NOT_FOUND,
                {
                    "error": {
                        "code": "not_found",
                        "message": "the WebSocket endpoint is /; see also /healthz, /readyz, /metrics",
                    }
                },
            )
        origins = request.headers.get_all("Origin")
        if len(origins) > 1:  # a browser sends one; two is a confused or hostile client
            return json_response(
                HTTPStatus.BAD_REQUEST,
                {
                    "error": {
                        "code": "bad_origin",
                        "message": "give at most one Origin header",
                    }
                },
            )
        origin = origins[0] if origins else None
        if origin is not None and origin not in self.settings.allowed_origins:
            return json_response(
                HTTPStatus.FORBIDDEN,
                {
                    "error": {
                        "code": "origin_not_allowed",
                        "message": f"origin {origin!r} is not allowed",
                    }
                },
            )
        return None

    async def stop(self) -> None:
        """Refuse new work, let in-flight requests finish, then close every connection."""
        if self.server is None:
            return
        self.server.close(close_connections=False)  # stop accepting
        await self.endpoint.drain(SHUTDOWN_GRACE)
        for conn in list(self.endpoint.connections):
            conn.close(1001, "server shutting down")
        self.server.close(close_connections=True)
        await self.server.wait_closed()
        await self.endpoint.hub.close()
        await self.endpoint.relay.close()
