"""Node wiring: which implementation of each role a process gets, and its lifecycle.

``nodechat serve`` wires every role locally over one store and one bus and
serves the client WebSocket endpoint plus ``GET /healthz`` on one port.
"""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from nodechat import __version__
from nodechat.bus import Bus, group_topic, open_bus, user_topic
from nodechat.config import Settings
from nodechat.server.dispatch import Services
from nodechat.server.hub import Hub
from nodechat.server.ws import SocketEndpoint
from nodechat.services.auth import LocalAuthService
from nodechat.services.groups import LocalGroupService
from nodechat.services.messages import LocalMessageService
from nodechat.services.tokens import TokenIssuer, TokenVerifier, load_or_create_keys
from nodechat.storage import open_store
from nodechat.storage.base import Store

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 5.0


def _response(status: HTTPStatus, body: dict[str, object]) -> Response:
    payload = orjson.dumps(body)
    headers = Headers([("Content-Type", "application/json"),
                       ("Content-Length", str(len(payload))), ("Cache-Control", "no-store")])
    return Response(status.value, status.phrase, headers, payload)


class ChatNode:
    """All roles in one process: store, bus, services, hub and the socket endpoint."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store: Store | None = None
        self.bus: Bus | None = None
        self.endpoint: SocketEndpoint | None = None
        self.server: Server | None = None
        self._stopped = asyncio.Event()

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        assert self.server is not None
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        """The client WebSocket URL."""
        return f"ws://{self.settings.serve.host}:{self.port}/"

    async def start(self) -> None:
        """Open the store, wire the services and start listening."""
        cfg = self.settings
        data_dir = cfg.serve.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.store = store = open_store(cfg.serve.store_url)
        self.bus = bus = open_bus(cfg.serve.bus)
        keys = load_or_create_keys(data_dir)
        auth = LocalAuthService(store, bus, TokenIssuer(keys, cfg.auth),
                                TokenVerifier(keys.public_pem, cfg.auth), cfg.auth)
        groups = LocalGroupService(store, bus)
        messages = LocalMessageService(store, bus)
        services = Services(auth, groups, messages)

        async def presence_topics(user_id: str) -> list[str]:
            groups_of = await services.groups.member_group_ids(user_id)
            peers = await services.messages.direct_peer_ids(user_id)
            return [group_topic(g) for g in groups_of] + [user_topic(p) for p in peers]

        hub = Hub(bus, presence_topics)
        self.endpoint = SocketEndpoint(services, hub, cfg.socket)
        self.server = await serve(
            self.endpoint.handle,
            cfg.serve.host,
            cfg.serve.port,
            process_request=self._process_request,
            compression=None,
            max_size=cfg.socket.max_frame,
            ping_interval=cfg.socket.ping_interval,
            ping_timeout=cfg.socket.ping_timeout,
            server_header=f"nodechat/{__version__}",
        )

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == "/healthz":
            ok = self.bus is not None and self.bus.healthy
            return _response(HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE,
                             {"status": "ok" if ok else "degraded", "version": __version__})
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return _response(HTTPStatus.NOT_FOUND,
                             {"error": {"code": "not_found",
                                        "message": "WebSocket endpoint is /; health is /healthz"}})
        origin = request.headers.get("Origin")
        if origin is not None and origin not in self.settings.socket.allowed_origins:
            return _response(HTTPStatus.FORBIDDEN,
                             {"error": {"code": "origin_not_allowed",
                                        "message": f"origin {origin!r} is not allowed"}})
        return None

    async def stop(self) -> None:
        """Stop cleanly: refuse new work, finish in-flight requests, close, flush the store."""
        if self.server is None or self._stopped.is_set():
            return
        self._stopped.set()
        self.server.close(close_connections=False)  # stop accepting
        assert self.endpoint is not None
        await self.endpoint.drain(SHUTDOWN_GRACE)
        for conn in list(self.endpoint.connections):
            conn.close(1001, "server shutting down")
        self.server.close(close_connections=True)
        await self.server.wait_closed()
        await self.endpoint.hub.close()
        if self.bus is not None:
            await self.bus.close()
        if self.store is not None:
            await self.store.close()
