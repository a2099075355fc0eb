"""Node wiring: which implementation of each role a process gets, and its lifecycle.

``nodechat serve`` wires every role locally over one store and one bus and
serves the client WebSocket endpoint plus ``GET /healthz`` on one port.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from nodechat.bus import Bus, group_topic, open_bus, user_topic
from nodechat.config import Settings
from nodechat.server.dispatch import Services
from nodechat.server.http import bound_port, build_gateway_app, serve_app
from nodechat.server.hub import Hub
from nodechat.server.metrics import Metrics
from nodechat.server.socket_server import SocketServer
from nodechat.server.ws import SocketEndpoint
from nodechat.services.auth import LocalAuthService
from nodechat.services.groups import LocalGroupService
from nodechat.services.messages import LocalMessageService
from nodechat.services.tokens import TokenIssuer, TokenVerifier, load_or_create_keys
from nodechat.storage import open_store
from nodechat.storage.base import Store

log = logging.getLogger(__name__)


class ChatNode:
    """All roles in one process: store, bus, services, hub and the socket endpoint."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store: Store | None = None
        self.bus: Bus | None = None
        self.endpoint: SocketEndpoint | None = None
        self.socket: SocketServer | None = None
        self.api: web.AppRunner | None = None
        self.metrics = Metrics()
        self._stopped = asyncio.Event()

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        assert self.socket is not None
        return self.socket.port

    @property
    def url(self) -> str:
        """The client WebSocket URL."""
        return f"ws://{self.settings.serve.host}:{self.port}/"

    @property
    def api_url(self) -> str | None:
        """The HTTP/JSON API base URL, if it runs."""
        if self.api is None:
            return None
        return f"http://{self.settings.serve.host}:{bound_port(self.api)}"

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
        hub.set_backfill(self.endpoint.backfill)
        self.socket = SocketServer(self.endpoint, cfg.socket, not_ready=self._not_ready,
                                   metrics=self.metrics.render)
        await self.socket.start(cfg.serve.host, cfg.serve.port)
        if cfg.serve.api_port >= 0:
            async def socket_urls() -> list[str]:
                return [self.url]

            app = build_gateway_app(services, ready=self._not_ready, socket_urls=socket_urls,
                                    metrics=self.metrics)
            self.api = await serve_app(app, cfg.serve.host, cfg.serve.api_port)

    def _not_ready(self) -> list[str]:
        return [] if self.bus is not None and self.bus.healthy else ["bus disconnected"]

    async def stop(self) -> None:
        """Stop cleanly: refuse new work, finish in-flight requests, close, flush the store."""
        if self.socket is None or self._stopped.is_set():
            return
        self._stopped.set()
        if self.api is not None:
            await self.api.cleanup()
        await self.socket.stop()
        if self.bus is not None:
            await self.bus.close()
        if self.store is not None:
            await self.store.close()
