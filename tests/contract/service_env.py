"""The role services, local or behind a real gRPC server, for the service contract suite.

``test_services.py`` turns :func:`open_services` into its parametrized
``services`` fixture; integration tests reuse :func:`local_services`.

``local``: LocalAuth/Group/MessageService over SQLite and a memory bus; the
caller's bus is another client of the same broker. ``grpc``: the same local
services behind ``start_rpc_server`` on 127.0.0.1 port 0, reached through the
Remote* clients; the services publish on the shared broker, as a data role
publishes on Redis. Tests see only the interfaces and the caller's bus, so
every assertion holds for both.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from nodechat.bus import Event, MemoryBroker, MemoryBus
from nodechat.bus.base import Bus
from nodechat.config import AuthSettings, RpcSettings
from nodechat.models import Identity, TokenPair
from nodechat.server.grpc import RemoteMessageService, connect_services, start_rpc_server
from nodechat.services.api import AuthService, GroupService, MessageService, Services
from nodechat.services.auth import LocalAuthService
from nodechat.services.groups import LocalGroupService
from nodechat.services.messages import LocalMessageService
from nodechat.services.tokens import TokenIssuer, TokenVerifier, load_or_create_keys
from nodechat.storage import open_store
from nodechat.storage.base import Store

PASSWORD = "correct horse battery"
TOKEN = "contract-test-service-token"
_names = itertools.count(1)


@dataclass
class ServiceEnv:
    """The three interfaces, and what a node subscribed on the caller's bus receives."""

    mode: str
    services: Services
    bus: MemoryBus
    events: list[tuple[str, Event]] = field(default_factory=list)
    store: Store | None = None  # the data roles' store (for parts with no service of its own)

    @property
    def auth(self) -> AuthService:
        """The auth role."""
        return self.services.auth

    @property
    def groups(self) -> GroupService:
        """The group role."""
        return self.services.groups

    @property
    def messages(self) -> MessageService:
        """The message role."""
        return self.services.messages

    async def watch(self, *topics: str) -> None:
        """Receive these topics on the caller's bus."""
        for topic in topics:
            await self.bus.subscribe(topic)

    def seen(self, kind: str, topic: str | None = None) -> list[Event]:
        """Events of ``kind`` received so far (on ``topic`` if given)."""
        return [e for t, e in self.events if e.kind == kind and (topic is None or t == topic)]

    async def user(self, name: str | None = None) -> tuple[TokenPair, Identity]:
        """Register a new user; return its tokens and identity."""
        username = name or f"user{next(_names)}"
        pair = await self.services.auth.register(username, f"{username}@example.com", PASSWORD)
        return pair, Identity(pair.user.id, pair.session_id)

    @property
    def remote_messages(self) -> RemoteMessageService | None:
        """The gRPC message client (grpc mode only)."""
        messages = self.services.messages
        return messages if isinstance(messages, RemoteMessageService) else None


def local_services(tmp_path: Path, bus: Bus) -> tuple[Services, Store]:
    """The three local services over a SQLite store in ``tmp_path``, publishing on ``bus``."""
    store = open_store(f"sqlite:///{tmp_path / 'chat.db'}")
    keys = load_or_create_keys(tmp_path)
    settings = AuthSettings()
    auth = LocalAuthService(
        store, bus, TokenIssuer(keys, settings), TokenVerifier(keys.public_pem, settings), settings
    )
    return Services(auth, LocalGroupService(store, bus), LocalMessageService(store, bus)), store


MODES = ("local", "grpc")


@asynccontextmanager
async def open_services(mode: str, tmp_path: Path) -> AsyncIterator[ServiceEnv]:
    """The role interfaces in ``mode`` ("local" or "grpc"), the caller's bus watching events."""
    if mode == "local":
        broker = MemoryBroker()
        local, store = local_services(tmp_path, MemoryBus(broker))
        env = ServiceEnv("local", local, MemoryBus(broker), store=store)
        env.bus.set_handler(lambda topic, event: env.events.append((topic, event)))
        try:
            yield env
        finally:
            await store.close()
        return
    broker = MemoryBroker()
    local, store = local_services(tmp_path, MemoryBus(broker))
    server = await start_rpc_server(
        "all",
        RpcSettings(service_token=TOKEN),
        "127.0.0.1:0",
        auth=local.auth,
        groups=local.groups,
        messages=local.messages,
    )
    address = f"127.0.0.1:{server.port}"
    bus = MemoryBus(broker)
    remote = await connect_services(
        RpcSettings(service_token=TOKEN, auth=address, group=address, message=address)
    )
    env = ServiceEnv("grpc", remote, bus, store=store)
    bus.set_handler(lambda topic, event: env.events.append((topic, event)))
    try:
        yield env
    finally:
        await remote.close()
        await server.stop(None)
        await store.close()
