"""Which implementation of each role a process gets, built from its settings.

Every process that owns a role builds its local service here: ``serve`` all of
them (:func:`local_services`), a split data role its own one behind gRPC
(:func:`serve_role`), the offline admin CLI the admin service alone
(:func:`local_admin`). A process that does not own the roles reaches them over
gRPC (:func:`connect_services`, re-exported from :mod:`nodechat.server.grpc`).
The node lifecycles (which store, bus and listeners a process opens) stay in
:mod:`nodechat.server.node` and :mod:`nodechat.server.roles`.
"""

from __future__ import annotations

import dataclasses

from nodechat.blobs import open_blob_store
from nodechat.bus import Bus
from nodechat.cluster import PresenceRegistry, VoiceRoster
from nodechat.config import AuthSettings, Settings
from nodechat.errors import InvalidRequest
from nodechat.server.grpc import (
    ROLES,
    RemoteServices,
    RpcServer,
    connect_services,
    start_rpc_server,
)
from nodechat.server.grpc.servicing import Observer
from nodechat.services.admin_local import LocalAdminService, OnlineCounter
from nodechat.services.api import MessageService, Services
from nodechat.services.auth import LocalAuthService
from nodechat.services.files import LocalFileService
from nodechat.services.groups import LocalGroupService
from nodechat.services.messages import LocalMessageService
from nodechat.services.presence import PresenceService
from nodechat.services.sessions import SessionService
from nodechat.services.tokens import TokenIssuer, TokenVerifier, load_or_create_keys
from nodechat.services.voice import VoiceService
from nodechat.storage.base import Store

__all__ = [
    "RemoteServices",
    "connect_services",
    "local_admin",
    "local_auth",
    "local_files",
    "local_services",
    "serve_role",
]


def local_auth(settings: Settings, store: Store, bus: Bus) -> LocalAuthService:
    """The auth service over ``store``, signing with the key in ``serve.data_dir`` (made if absent)."""
    keys = load_or_create_keys(settings.serve.data_dir)
    return LocalAuthService(
        store,
        bus,
        TokenIssuer(keys, settings.auth),
        TokenVerifier(keys.public_pem, settings.auth),
        settings.auth,
    )


def local_admin(
    store: Store,
    bus: Bus,
    auth: AuthSettings | None = None,
    *,
    online: OnlineCounter | None = None,
) -> LocalAdminService:
    """The admin service over ``store`` (``auth``: the password and session rules)."""
    return LocalAdminService(store, bus, auth, online=online)


def local_services(
    settings: Settings, store: Store, bus: Bus, *, online: OnlineCounter | None = None
) -> Services:
    """Every role's local service over one store and bus (``nodechat serve``)."""
    messages = LocalMessageService(store, bus)
    return Services(
        local_auth(settings, store, bus),
        LocalGroupService(store, bus),
        messages,
        local_admin(store, bus, settings.auth, online=online),
        files=local_files(settings, store, messages),
    )


def local_files(settings: Settings, store: Store, messages: MessageService) -> LocalFileService:
    """The file service over ``store``'s file part and the blob store ``files`` names."""
    blobs = open_blob_store(settings.files, settings.serve.data_dir)
    return LocalFileService(store.files, blobs, messages, settings.files)


async def serve_role(
    role: str,
    settings: Settings,
    store: Store,
    bus: Bus,
    listen: str,
    *,
    observer: Observer | None = None,
) -> RpcServer:
    """Start the gRPC server of data role ``role`` over its local service (admin goes with auth)."""
    if role not in ROLES or role == "all":
        raise InvalidRequest(f"unknown data role {role!r}", code="bad_config")
    if role == "auth":
        return await start_rpc_server(
            "auth",
            settings.rpc,
            listen,
            auth=local_auth(settings, store, bus),
            admin=local_admin(store, bus, settings.auth),
            observer=observer,
        )
    if role == "group":
        return await start_rpc_server(
            "group", settings.rpc, listen, groups=LocalGroupService(store, bus), observer=observer
        )
    return await start_rpc_server(
        "message",
        settings.rpc,
        listen,
        messages=LocalMessageService(store, bus),
        observer=observer,
    )


def with_http_sessions(
    services: Services,
    settings: Settings,
    *,
    presence: PresenceRegistry,
    voice: VoiceRoster,
    bus: Bus,
) -> Services:
    """``services`` with a :class:`SessionService` for the HTTP API's session start
    (the same one a socket node uses; an HTTP session gets no live events)."""
    online = PresenceService(presence, bus)
    rooms = VoiceService(services.groups, voice, bus)
    sessions = SessionService(
        services.auth,
        services.groups,
        services.messages,
        online=online.online,
        voice=rooms.snapshot,
        replay_limit=settings.socket.replay_limit,
    )
    return dataclasses.replace(services, sessions=sessions)
