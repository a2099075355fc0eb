"""gRPC between the split roles: servers of the data roles and clients that stand in for them.

Only this package imports the generated code in :mod:`nodechat.proto`, and no
gRPC exception leaves it: failures are :class:`~nodechat.errors.ChatError`.
Each role's module (``auth``, ``group``, ``message`` with ``batch``, ``admin``)
holds both halves, the servicer and the remote client, so a change to one RPC
is made in one file; ``channel``/``clients`` are the shared client side,
``servicing``/``server`` the shared server side, ``convert``/``errors``/
``metadata``/``tls`` serve both.

Server side (``nodechat auth|group|message``)::

    server = await start_rpc_server("group", settings.rpc, settings.node.listen,
                                    groups=LocalGroupService(store, bus))
    await server.stop(grace=5.0)

Client side (``nodechat socket|gateway``)::

    services = await connect_services(settings.rpc)   # a Services
    ...
    await services.close()
"""

from nodechat.server.grpc.clients import (
    RemoteAdminService,
    RemoteAuthService,
    RemoteGroupService,
    RemoteMessageService,
    RemoteServices,
    connect_services,
)
from nodechat.server.grpc.server import ROLES, RpcServer, start_rpc_server

__all__ = [
    "ROLES",
    "RemoteAdminService",
    "RemoteAuthService",
    "RemoteGroupService",
    "RemoteMessageService",
    "RemoteServices",
    "RpcServer",
    "connect_services",
    "start_rpc_server",
]
