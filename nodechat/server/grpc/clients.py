"""Remote implementations of the role interfaces: gRPC clients of the data roles.

A process that does not own a role (``nodechat socket``, ``nodechat gateway``)
gets these instead of the local services; callers cannot tell the difference:
same results and the same ChatError subclasses and codes; the events of each
call are published on the bus by the role that made the change. Reads, ``authenticate`` and sends are retried
on ``UNAVAILABLE`` (sends are deduplicated on (author, nonce)); other writes
are not.
"""

from __future__ import annotations

from dataclasses import dataclass

from nodechat.config import RpcSettings
from nodechat.server.grpc.admin import RemoteAdminService
from nodechat.server.grpc.auth import RemoteAuthService
from nodechat.server.grpc.group import RemoteGroupService
from nodechat.server.grpc.message import RemoteMessageService
from nodechat.server.grpc.servicing import Observer
from nodechat.services.admin_local import OnlineCounter
from nodechat.services.api import Services

__all__ = [
    "RemoteAdminService",
    "RemoteAuthService",
    "RemoteGroupService",
    "RemoteMessageService",
    "RemoteServices",
    "connect_services",
]


@dataclass(frozen=True, slots=True)
class RemoteServices(Services):
    """The role interfaces as gRPC clients (admin on the auth role); close them when done."""

    auth: RemoteAuthService
    groups: RemoteGroupService
    messages: RemoteMessageService
    admin: RemoteAdminService | None = None

    async def close(self) -> None:
        """Close every channel."""
        if self.admin is not None:
            await self.admin.close()
        await self.messages.close()
        await self.groups.close()
        await self.auth.close()


async def connect_services(
    settings: RpcSettings,
    observer: Observer | None = None,
    *,
    online: OnlineCounter | None = None,
) -> RemoteServices:
    """Clients of the auth, group and message roles at ``settings.auth|group|message``.

    ``observer(method, seconds, error_code)`` is told about every call (metrics);
    ``online`` answers the connections-per-node part of the admin stats.
    """
    auth = RemoteAuthService(settings.auth, settings)
    try:
        groups = RemoteGroupService(settings.group, settings)
        try:
            messages = RemoteMessageService(settings.message, settings)
        except BaseException:
            await groups.close()
            raise
    except BaseException:
        await auth.close()
        raise
    admin = RemoteAdminService(settings.auth, settings, online=online)
    for client in (auth, groups, messages, admin):
        client.rpc.observer = observer
    return RemoteServices(auth, groups, messages, admin)
