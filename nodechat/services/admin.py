"""Server administration: the :class:`AdminService` interface and the op table around it.

Every operator action (users, groups, channels, invites, sessions, stats) is
one method returning plain JSON-ready dicts, so the WebSocket adapter, the
gRPC adapter and the CLI all pass results through unchanged. The local
implementation is :class:`nodechat.services.admin_local.LocalAdminService`;
the gRPC one is :class:`nodechat.server.grpc.admin.RemoteAdminService`.

The first argument of every method is the caller: an end user's
:class:`~nodechat.models.Identity` (checked: a server admin whose account is
enabled, else ``Forbidden(admin_required)``), or ``None`` for the local
operator who holds the store itself (``nodechat admin --store``).

:data:`ADMIN_OPS` names the wire op of each method (``admin.user.list`` ->
``list_users``); the op's fields (``nodechat.protocol.frames.OPS``) are the
method's keyword arguments, so :func:`invoke` is the only dispatcher.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from typing import Any

from nodechat.errors import InvalidRequest
from nodechat.models import Identity

Record = dict[str, Any]
Caller = Identity | None


class AdminService(ABC):
    """Operator actions over the whole server; every method checks the caller first."""

    # -- users -----------------------------------------------------------

    @abstractmethod
    async def list_users(
        self,
        caller: Caller,
        *,
        after: str | None = None,
        limit: int = 50,
        query: str | None = None,
        admins: bool = False,
        disabled: bool = False,
    ) -> Record:
        """``{"users": [...], "next": cursor or None}``: users by id, after ``after``,
        filtered by a substring of username/email/display name and by flags."""

    @abstractmethod
    async def get_user(self, caller: Caller, user: str) -> Record:
        """One user (by id or username) with their groups and session counts."""

    @abstractmethod
    async def create_user(
        self,
        caller: Caller,
        username: str,
        email: str,
        password: str,
        *,
        display_name: str | None = None,
        admin: bool = False,
    ) -> Record:
        """Create an account (optionally a server admin); no session is started."""

    @abstractmethod
    async def disable_user(self, caller: Caller, user: str) -> Record:
        """Disable an account and end all its sessions (live connections close)."""

    @abstractmethod
    async def enable_user(self, caller: Caller, user: str) -> Record:
        """Enable a disabled account."""

    @abstractmethod
    async def reset_password(self, caller: Caller, user: str, password: str) -> Record:
        """Set a new password and end all the user's sessions."""

    @abstractmethod
    async def delete_user(self, caller: Caller, user: str) -> Record:
        """Soft-delete: disable, end sessions, leave every group, scrub the profile."""

    @abstractmethod
    async def set_admin(self, caller: Caller, user: str, admin: bool) -> Record:
        """Grant or revoke server admin."""

    # -- groups, members, channels, invites ------------------------------

    @abstractmethod
    async def list_groups(
        self, caller: Caller, *, after: str | None = None, limit: int = 50
    ) -> Record:
        """``{"groups": [...], "next": cursor or None}``: every group by id."""

    @abstractmethod
    async def get_group(self, caller: Caller, group_id: str) -> Record:
        """A group with its members (and their usernames) and channels."""

    @abstractmethod
    async def create_group(
        self, caller: Caller, name: str, *, owner: str | None = None, description: str = ""
    ) -> Record:
        """Create a group owned by ``owner`` (default: the caller) with a welcome channel."""

    @abstractmethod
    async def delete_group(self, caller: Caller, group_id: str) -> Record:
        """Delete a group with its channels, messages and invites."""

    @abstractmethod
    async def add_member(
        self, caller: Caller, group_id: str, user: str, *, role: str = "member"
    ) -> Record:
        """Add a user to a group as ``member`` or ``admin``."""

    @abstractmethod
    async def remove_member(self, caller: Caller, group_id: str, user: str) -> Record:
        """Remove a member (not the owner)."""

    @abstractmethod
    async def set_role(self, caller: Caller, group_id: str, user: str, role: str) -> Record:
        """Make a member ``admin`` or ``member`` (not the owner)."""

    @abstractmethod
    async def list_channels(self, caller: Caller, group_id: str) -> Record:
        """``{"channels": [...]}`` of a group, by position."""

    @abstractmethod
    async def get_channel(self, caller: Caller, channel_id: str) -> Record:
        """One channel by id, with the id and name of its group."""

    @abstractmethod
    async def create_channel(
        self, caller: Caller, group_id: str, name: str, *, kind: str = "text", topic: str = ""
    ) -> Record:
        """Add a channel at the end of a group."""

    @abstractmethod
    async def rename_channel(self, caller: Caller, channel_id: str, name: str) -> Record:
        """Rename a channel."""

    @abstractmethod
    async def delete_channel(self, caller: Caller, channel_id: str) -> Record:
        """Delete a channel and its messages."""

    @abstractmethod
    async def list_invites(self, caller: Caller, group_id: str) -> Record:
        """``{"invites": [...]}`` of a group, newest first."""

    @abstractmethod
    async def get_invite(self, caller: Caller, code: str) -> Record:
        """One invite by code, with its group's id and name and whether it is usable now."""

    @abstractmethod
    async def create_invite(
        self,
        caller: Caller,
        group_id: str,
        *,
        expires_in: int | None = None,
        max_uses: int | None = None,
    ) -> Record:
        """A new invite code for a group."""

    @abstractmethod
    async def revoke_invite(self, caller: Caller, code: str) -> Record:
        """Revoke an invite code."""

    # -- sessions and stats ------------------------------------------------

    @abstractmethod
    async def list_sessions(self, caller: Caller, user: str, *, active: bool = False) -> Record:
        """``{"sessions": [...]}`` of a user, oldest first (only live ones with ``active``)."""

    @abstractmethod
    async def get_session(self, caller: Caller, session_id: str) -> Record:
        """One session by id (never its tokens), with its user's username."""

    @abstractmethod
    async def revoke_session(self, caller: Caller, session_id: str) -> Record:
        """End one session (its live connections close)."""

    @abstractmethod
    async def stats(self, caller: Caller, *, days: int = 7) -> Record:
        """Counts of users, groups and messages, messages per day, connections per node."""


# wire op -> AdminService method; the op's fields are the method's keyword arguments
ADMIN_OPS: dict[str, str] = {
    "admin.user.list": "list_users",
    "admin.user.get": "get_user",
    "admin.user.create": "create_user",
    "admin.user.disable": "disable_user",
    "admin.user.enable": "enable_user",
    "admin.user.reset_password": "reset_password",
    "admin.user.delete": "delete_user",
    "admin.user.set_admin": "set_admin",
    "admin.group.list": "list_groups",
    "admin.group.get": "get_group",
    "admin.group.create": "create_group",
    "admin.group.delete": "delete_group",
    "admin.member.add": "add_member",
    "admin.member.remove": "remove_member",
    "admin.member.set_role": "set_role",
    "admin.channel.list": "list_channels",
    "admin.channel.get": "get_channel",
    "admin.channel.create": "create_channel",
    "admin.channel.rename": "rename_channel",
    "admin.channel.delete": "delete_channel",
    "admin.invite.list": "list_invites",
    "admin.invite.get": "get_invite",
    "admin.invite.create": "create_invite",
    "admin.invite.revoke": "revoke_invite",
    "admin.session.list": "list_sessions",
    "admin.session.get": "get_session",
    "admin.session.revoke": "revoke_session",
    "admin.stats": "stats",
}


async def invoke(service: AdminService, caller: Caller, op: str, args: dict[str, Any]) -> Record:
    """Run the method of ``op`` with ``args`` as keyword arguments.

    ``unknown_op`` for an op that is not in :data:`ADMIN_OPS`; ``invalid_request``
    when the arguments do not fit the method (a caller that skipped the field table).
    """
    name = ADMIN_OPS.get(op)
    if name is None:
        raise InvalidRequest(f"unknown admin op {op[:64]!r}", code="unknown_op")
    method = getattr(service, name)
    try:
        inspect.signature(method).bind(caller, **args)
    except TypeError as exc:
        raise InvalidRequest(f"{op}: {exc}") from None
    result: Record = await method(caller, **args)
    return result


__all__ = ["ADMIN_OPS", "AdminService", "Caller", "Record", "invoke"]
