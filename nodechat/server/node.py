"""Node wiring: which implementation of each role a process gets, and its lifecycle.

A socket node is the same in every deployment: a hub over the node's bus, the
client endpoint and the ops paths on one port, registered for discovery. Only
the services differ: ``nodechat serve`` wires them locally over one store;
``nodechat socket`` reaches the data roles over gRPC (nodechat.server.roles).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass

from aiohttp import web

from nodechat.bus import Bus, open_bus
from nodechat.bus.media import MediaBus, open_media_bus
from nodechat.cluster import (
    NodeRegistry,
    PresenceRegistry,
    VoiceRoster,
    open_presence,
    open_registry,
    open_voice,
)
from nodechat.config import Settings
from nodechat.files import make_private_dir
from nodechat.server.collector import FileCollector
from nodechat.server.http import bound_port, build_gateway_app, serve_app
from nodechat.server.hub import Hub
from nodechat.server.metrics import Metrics
from nodechat.server.socket_server import SocketServer
from nodechat.server.wiring import local_services, with_http_sessions
from nodechat.server.ws import SocketEndpoint
from nodechat.services.api import Services
from nodechat.services.presence import PresenceService
from nodechat.storage import open_store
from nodechat.storage.base import Store

log = logging.getLogger(__name__)


@dataclass
class Fabric:
    """What connects a node to the others: bus, presence, voice roster, node registry."""

    bus: Bus
    presence: PresenceRegistry
    registry: NodeRegistry
    node_id: str
    voice: VoiceRoster
    media: MediaBus | None = None  # voice frames between nodes (None: one node)

    @classmethod
    def open(cls, settings: Settings, role: str) -> Fabric:
        """In-process parts for ``memory://``, Redis-backed ones for ``redis://``."""
        url, prefix = settings.serve.bus, settings.node.bus_prefix
        node_id = f"{role}-{secrets.token_hex(4)}"
        return cls(
            open_bus(url, prefix=prefix, name=node_id),
            open_presence(url, node_id, prefix=prefix),
            open_registry(url, prefix=prefix, ttl=settings.node.registry_ttl),
            node_id,
            open_voice(url, node_id, prefix=prefix),
            open_media_bus(url, prefix=prefix, name=node_id),
        )

    def not_ready(self) -> list[str]:
        """Reasons this node cannot serve now (empty: ready)."""
        return [] if self.bus.healthy else ["event bus disconnected"]

    async def close(self) -> None:
        """Release the registry, presence and bus, in that order."""
        parts: list[NodeRegistry | VoiceRoster | PresenceRegistry | MediaBus] = [
            self.registry,
            self.voice,
            self.presence,
        ]
        if self.media is not None:
            parts.append(self.media)
        for part in parts:
            try:
                await part.close()
            except Exception:  # best effort at shutdown; the TTLs clean up after us
                log.warning("closing %s failed", type(part).__name__, exc_info=True)
        await self.bus.close()


def gateway_app(
    settings: Settings, services: Services, fabric: Fabric, metrics: Metrics
) -> web.Application:
    """The HTTP API of a node (``serve``'s or the gateway role's), over ``services``."""
    return build_gateway_app(
        with_http_sessions(
            services, settings, presence=fabric.presence, voice=fabric.voice, bus=fabric.bus
        ),
        ready=fabric.not_ready,
        socket_urls=fabric.registry.live_nodes,
        metrics=metrics,
        trusted_proxies=settings.socket.trusted_proxies,
        forwarded_header=settings.socket.forwarded_header,
        max_file_size=settings.files.max_size,
    )


class SocketRole:
    """A socket node over some services: hub, client endpoint, ops paths, registration."""

    def __init__(
        self, settings: Settings, services: Services, fabric: Fabric, metrics: Metrics
    ) -> None:
        self.settings = settings
        self.fabric = fabric

        presence = PresenceService(fabric.presence, fabric.bus)
        self.hub = Hub(fabric.bus, presence, on_delivered=metrics.messages_delivered)
        self.endpoint = SocketEndpoint(
            services,
            self.hub,
            settings.socket,
            metrics,
            voice=fabric.voice,
            media=fabric.media,
            node_id=fabric.node_id,
        )
        self.server = SocketServer(
            self.endpoint, settings.socket, not_ready=fabric.not_ready, metrics=metrics.render
        )
        self.url = ""

    async def start(self, host: str, port: int, public_url: str = "") -> None:
        """Listen, then announce the node in the registry."""
        await self.server.start(host, port)
        self.url = public_url or f"ws://{host}:{self.server.port}/"
        await self.fabric.registry.register(self.fabric.node_id, self.url)

    async def stop(self) -> None:
        """Leave the registry, then drain and close the client connections."""
        try:
            await self.fabric.registry.unregister(self.fabric.node_id)
        except Exception:
            log.warning("could not unregister %s", self.fabric.node_id, exc_info=True)
        await self.server.stop()


class ChatNode:
    """All roles in one process: store, local services, a socket node and the HTTP API."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store: Store | None = None
        self.fabric: Fabric | None = None
        self.socket: SocketRole | None = None
        self.api: web.AppRunner | None = None
        self.metrics = Metrics()
        self._stopped = asyncio.Event()
        self.collector: FileCollector | None = None

    @property
    def port(self) -> int:
        """The WebSocket port actually bound (useful with port 0)."""
        assert self.socket is not None
        return self.socket.server.port

    @property
    def url(self) -> str:
        """The client WebSocket URL."""
        return f"ws://{self.settings.serve.host}:{self.port}/"

    @property
    def endpoint(self) -> SocketEndpoint:
        """The client endpoint (for tests and tools)."""
        assert self.socket is not None
        return self.socket.endpoint

    @property
    def api_url(self) -> str | None:
        """The HTTP/JSON API base URL, if it runs."""
        if self.api is None:
            return None
        return f"http://{self.settings.serve.host}:{bound_port(self.api)}"

    async def start(self) -> None:
        """Open the store, wire the services and start listening."""
        cfg = self.settings
        make_private_dir(cfg.serve.data_dir)
        self.store = store = open_store(cfg.serve.store_url)
        try:
            self.fabric = fabric = Fabric.open(cfg, "serve")
            bus = fabric.bus
            services = local_services(cfg, store, bus, online=fabric.presence.connections_by_node)
            if services.files is not None:
                self.collector = FileCollector(services.files, cfg.files.collect_interval)
                self.collector.start()
            self.socket = SocketRole(cfg, services, fabric, self.metrics)
            await self.socket.start(cfg.serve.host, cfg.serve.port)
            if cfg.serve.api_port >= 0:
                app = gateway_app(cfg, services, fabric, self.metrics)
                self.api = await serve_app(app, cfg.serve.host, cfg.serve.api_port)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop cleanly: refuse new work, finish in-flight requests, close, flush the store."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self.collector is not None:
            await self.collector.stop()
        if self.api is not None:
            await self.api.cleanup()
        if self.socket is not None:
            await self.socket.stop()
        if self.fabric is not None:
            await self.fabric.close()
        if self.store is not None:
            await self.store.close()
