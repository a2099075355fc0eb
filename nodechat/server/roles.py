"""Node wiring of the split roles: the data roles (auth, group, message) behind gRPC,
and the socket and gateway nodes that reach them through remote clients.

``serve`` (nodechat.server.node) wires the same services locally instead.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from pathlib import Path

from aiohttp import web

from nodechat.bus import Bus, open_bus
from nodechat.config import Settings
from nodechat.errors import InvalidRequest
from nodechat.server.collector import FileCollector
from nodechat.server.grpc import RpcServer
from nodechat.server.grpc.metadata import service_token
from nodechat.server.http import bound_port, serve_app, start_ops_server
from nodechat.server.metrics import Metrics
from nodechat.server.node import Fabric, SocketRole, gateway_app
from nodechat.server.wiring import (
    RemoteServices,
    connect_services,
    local_files,
    serve_role,
)
from nodechat.services.api import Services
from nodechat.services.tokens import PRIVATE_KEY_FILE
from nodechat.storage import open_store
from nodechat.storage.base import Store

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"gateway": 7800, "socket": 7801, "auth": 7810, "group": 7811, "message": 7812}


def split_address(address: str, role: str) -> tuple[str, int]:
    """``host:port`` (or ``:port``, or empty for the role's default) as a pair."""
    if not address:
        return "127.0.0.1", DEFAULT_PORTS[role]
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise InvalidRequest(
            f"--listen must be HOST:PORT, not {address!r}", code="bad_config", key="node.listen"
        )
    return (host.strip("[]") or "127.0.0.1"), int(port)


def require_keys(data_dir: Path) -> None:
    """A split auth role never invents a signing key: it must have been generated on purpose."""
    key = data_dir / "keys" / PRIVATE_KEY_FILE
    if not key.exists():
        raise InvalidRequest(
            f"no token signing key at {key}; create one with `nodechat keygen --data-dir "
            f"{data_dir}` (and keep it secret)",
            code="keys_missing",
        )


class DataRole:
    """``nodechat auth|group|message``: one role's local service behind a gRPC server."""

    def __init__(self, role: str, settings: Settings) -> None:
        self.role = role
        self.settings = settings
        self.store: Store | None = None
        self.bus: Bus | None = None
        self.rpc: RpcServer | None = None
        self.ops: web.AppRunner | None = None
        self.metrics = Metrics(client_traffic=False)  # no client connects to a data role

    @property
    def address(self) -> str:
        """Where the gRPC server listens."""
        assert self.rpc is not None
        host, _ = split_address(self.settings.node.listen, self.role)
        return f"{host}:{self.rpc.port}"

    async def start(self) -> None:
        """Open the store and start serving."""
        cfg = self.settings
        host, port = split_address(cfg.node.listen, self.role)
        service_token(cfg.rpc)
        _require_shared_bus(cfg, self.role)
        if self.role == "auth":
            require_keys(cfg.serve.data_dir)
        self.store = store = open_store(cfg.serve.store_url)
        # The role publishes the events of its changes itself, as the services do in
        # `serve`: the socket nodes subscribed to their topics deliver them.
        self.bus = bus = open_bus(
            cfg.serve.bus, prefix=cfg.node.bus_prefix, name=f"{self.role}-{secrets.token_hex(4)}"
        )
        try:
            await bus.ready()  # its first connection: /readyz is right from the start
            self.rpc = await serve_role(
                self.role, cfg, store, bus, f"{host}:{port}", observer=self.metrics.observe_call
            )
            if cfg.node.http:
                ops_host, ops_port = split_address(cfg.node.http, self.role)
                self.ops = await start_ops_server(
                    ops_host, ops_port, ready=self.not_ready, metrics=self.metrics
                )
        except BaseException:
            await self.stop()
            raise

    def not_ready(self) -> list[str]:
        """Reasons this role cannot serve now (empty: ready)."""
        return [] if self.bus is None or self.bus.healthy else ["event bus disconnected"]

    def ops_url(self) -> str | None:
        """Where /healthz, /readyz and /metrics answer, if enabled."""
        if self.ops is None:
            return None
        host, _ = split_address(self.settings.node.http, self.role)
        return f"http://{host}:{bound_port(self.ops)}"

    async def stop(self) -> None:
        """Stop serving (in-flight calls get a grace period), then close the store."""
        if self.ops is not None:
            await self.ops.cleanup()
            self.ops = None
        if self.rpc is not None:
            await self.rpc.stop()
            self.rpc = None
        if self.bus is not None:
            await self.bus.close()
            self.bus = None
        if self.store is not None:
            await self.store.close()
            self.store = None


def _require_shared_bus(settings: Settings, role: str) -> None:
    if settings.serve.bus.startswith("memory"):
        raise InvalidRequest(
            f"the {role} role needs the shared bus: --bus redis://HOST:PORT "
            "(the same URL on every role)",
            code="bad_config",
            key="serve.bus",
        )


def _require_upstream(settings: Settings, role: str) -> None:
    rpc = settings.rpc
    missing = [name for name in ("auth", "group", "message") if not getattr(rpc, name)]
    if missing:
        raise InvalidRequest(
            f"give the address of the {', '.join(missing)} role(s) (--{' --'.join(missing)})",
            code="bad_config",
        )
    service_token(rpc)
    _require_shared_bus(settings, role)


class SplitNode:
    """``nodechat socket`` or ``nodechat gateway``: remote services, a Redis bus, one listener."""

    def __init__(self, role: str, settings: Settings) -> None:
        self.role = role
        self.settings = settings
        self.metrics = Metrics()
        self.fabric: Fabric | None = None
        self.services: RemoteServices | None = None
        self.socket: SocketRole | None = None
        self.api: web.AppRunner | None = None
        self.file_store: Store | None = None  # gateway: the store of the file records
        self.collector: FileCollector | None = None

    @property
    def address(self) -> str:
        """Where clients reach this node."""
        if self.socket is not None:
            return self.socket.url
        assert self.api is not None
        host, _ = split_address(self.settings.node.listen, self.role)
        return f"http://{host}:{bound_port(self.api)}/"

    async def start(self) -> None:
        """Connect to the bus and the data roles, then listen."""
        cfg = self.settings
        _require_upstream(cfg, self.role)
        host, port = split_address(cfg.node.listen, self.role)
        try:
            self.fabric = fabric = Fabric.open(cfg, self.role)
            self.services = services = await connect_services(
                cfg.rpc,
                self.metrics.observe_call,
                online=fabric.presence.connections_by_node,
            )
            if self.role == "socket":
                self.socket = SocketRole(cfg, services, fabric, self.metrics)
                await self.socket.start(host, port, cfg.node.public_url)
            else:
                app = gateway_app(cfg, self._with_files(services), fabric, self.metrics)
                self.api = await serve_app(app, host, port)
        except BaseException:
            await self.stop()
            raise

    def _with_files(self, services: RemoteServices) -> Services:
        """The gateway's services with a file service if the store is named (``serve.store``):
        uploads are byte streams, so the gateway keeps the blobs and the file records
        itself, in the deployment's shared store, and asks the message role (over gRPC,
        through its interface) who may read a conversation and attaches with the send."""
        cfg = self.settings
        if not cfg.serve.store:
            log.info("no serve.store: the gateway serves no file routes")
            return services
        self.file_store = open_store(cfg.serve.store)
        files = local_files(cfg, self.file_store, services.messages)
        self.collector = FileCollector(files, cfg.files.collect_interval)
        self.collector.start()
        return dataclasses.replace(services, files=files)

    async def stop(self) -> None:
        """Stop listening (in-flight requests are answered), then disconnect."""
        if self.collector is not None:
            await self.collector.stop()
            self.collector = None
        if self.api is not None:
            await self.api.cleanup()
            self.api = None
        if self.file_store is not None:
            await self.file_store.close()
            self.file_store = None
        if self.socket is not None:
            await self.socket.stop()
            self.socket = None
        if self.services is not None:
            await self.services.close()
            self.services = None
        if self.fabric is not None:
            await self.fabric.close()
            self.fabric = None
