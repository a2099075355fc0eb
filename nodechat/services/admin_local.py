"""LocalAdminService: every operator action over a store and a bus.

Rules: the caller is checked first (server admin, enabled), then every input
is validated and every target looked up, and only then is anything written,
so a refused request changes nothing. Changes are published on the bus as the
same events the group and auth services publish (``member.kicked``,
``channel.created``, ``session.revoked``, ...), so live clients follow and
socket nodes close the connections of ended sessions.

Deleting a user is a soft delete, because a user's messages stay in the
conversations they were written in: the account is disabled, its sessions
end, it leaves every group, its password stops working and its profile is
scrubbed (display name ``deleted user``, empty about). The username and email
stay taken. A user who owns a group cannot be deleted (``user_owns_groups``):
delete the group or transfer it first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from nodechat.bus import Bus, Event, group_topic, publish_quietly, user_topic
from nodechat.config import AuthSettings
from nodechat.errors import Conflict, Forbidden, InvalidRequest, NotFound
from nodechat.models import (
    AuthSession,
    Channel,
    Group,
    Invite,
    Member,
    Role,
    User,
    now_ms,
)
from nodechat.services import passwords, validate
from nodechat.services.admin import AdminService, Caller, Record
from nodechat.services.auth import (
    USERNAME_RE,
    announce_revoked,
    check_password,
    create_account,
)
from nodechat.services.groups import add_channel, channel_heads, found_group, issue_invite
from nodechat.storage.base import Store

DAY_MS = 86_400_000
MAX_PAGE = 500
SCAN_PAGE = 200
MAX_DAYS = 366
DELETED_NAME = "deleted user"
UNUSABLE_PASSWORD = "!deleted"  # never a valid hash: verify_password always fails on it

# (node id -> {"connections": n, "users": m}) of the socket nodes, if the process knows
OnlineCounter = Callable[[], Awaitable[dict[str, dict[str, int]]]]


def user_record(user: User) -> Record:
    """What an operator sees of an account."""
    return {**user.private(), "disabled": user.disabled}


def session_record(session: AuthSession, now: int) -> Record:
    """What an operator sees of a session (never its tokens)."""
    return {
        "id": session.id,
        "user_id": session.user_id,
        "created_at": session.created_at,
        "expires_at": session.expires_at,
        "revoked_at": session.revoked_at,
        "user_agent": session.user_agent,
        "address": session.address,
        "active": session.active(now),
    }


def _role(role: str) -> Role:
    if role not in (Role.ADMIN.value, Role.MEMBER.value):
        raise InvalidRequest("role must be 'admin' or 'member'", code="invalid_role", field="role")
    return Role(role)


class LocalAdminService(AdminService):
    """:class:`AdminService` over a store and a bus."""

    def __init__(
        self,
        store: Store,
        bus: Bus,
        settings: AuthSettings | None = None,
        *,
        online: OnlineCounter | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._store = store
        self._accounts = store.accounts
        self._groups = store.groups
        self._bus = bus
        self._settings = settings or AuthSettings()
        self._online = online
        self._clock = clock

    # -- helpers -----------------------------------------------------------

    async def _authorize(self, caller: Caller) -> None:
        if caller is None:  # the local operator: holds the store itself
            return
        user = await self._accounts.get_user(caller.user_id)
        if user is None or user.disabled or not user.is_admin:
            raise Forbidden("this needs a server admin account", code="admin_required")

    async def _user(self, ref: str) -> User:
        """A user by id or username; ``user_not_found`` otherwise."""
        ref = ref.strip()
        user = await self._accounts.get_user(ref)
        if user is None and USERNAME_RE.fullmatch(ref.lower()):
            found = await self._accounts.find_user(ref.lower())
            if found is not None and found[0].username == ref.lower():
                user = found[0]
        if user is None:
            raise NotFound(f"no user {ref[:64]!r}", code="user_not_found", field="user")
        return user

    async def _group(self, group_id: str) -> Group:
        group = await self._groups.get_group(group_id)
        if group is None:
            raise NotFound(f"no group {group_id[:64]!r}", code="group_not_found", field="group_id")
        return group

    async def _channel(self, channel_id: str) -> Channel:
        channel = await self._groups.get_channel(channel_id)
        if channel is None:
            raise NotFound(
                f"no channel {channel_id[:64]!r}", code="channel_not_found", field="channel_id"
            )
        return channel

    async def _invite(self, code: str) -> Invite:
        invite = await self._groups.get_invite(code.strip())
        if invite is None:
            raise NotFound("no such invite", code="invite_invalid", field="code")
        return invite

    async def _session(self, session_id: str) -> AuthSession:
        session = await self._accounts.get_session(session_id)
        if session is None:
            raise NotFound("no such session", code="session_not_found", field="session_id")
        return session

    async def _group_ref(self, group_id: str) -> Record | None:
        """``{"id", "name"}`` of a group, for records that point at one."""
        group = await self._groups.get_group(group_id)
        return {"id": group.id, "name": group.name} if group is not None else None

    def _not_self(self, caller: Caller, user: User, what: str) -> None:
        if caller is not None and caller.user_id == user.id:
            raise InvalidRequest(f"you cannot {what} your own account", code="self_target")

    async def _end_sessions(self, user_id: str) -> int:
        ids = await self._accounts.revoke_user_sessions(user_id, self._clock())
        await announce_revoked(self._bus, user_id, ids)
        return len(ids)

    async def _publish(self, group_id: str, kind: str, data: dict[str, Any]) -> None:
        await publish_quietly(self._bus, group_topic(group_id), Event(kind, data))

    async def _group_record(self, group: Group) -> Record:
        count = await self._groups.count_members(group.id)
        channels = await self._groups.list_channels(group.id)
        return {**group.to_dict(), "member_count": count, "channel_count": len(channels)}

    # -- users -------------------------------------------------------------

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
        await self._authorize(caller)
        validate.bounded_int(limit, "limit", low=1, high=MAX_PAGE)
        needle = (query or "").strip().lower()

        def wanted(u: User) -> bool:
            if (admins and not u.is_admin) or (disabled and not u.disabled):
                return False
            return not needle or any(
                needle in v.lower() for v in (u.username, u.email, u.display_name)
            )

        found: list[User] = []
        cursor = after
        while len(found) <= limit:
            page = await self._accounts.list_users(after=cursor, limit=SCAN_PAGE)
            found.extend(u for u in page if wanted(u))
            if len(page) < SCAN_PAGE:
                break
            cursor = page[-1].id
        more = len(found) > limit
        found = found[:limit]
        return {"users": [user_record(u) for u in found], "next": found[-1].id if more else None}

    async def get_user(self, caller: Caller, user: str) -> Record:
        await self._authorize(caller)
        found = await self._user(user)
        groups = []
        for group in await self._groups.list_groups(found.id):
            member = await self._groups.get_member(group.id, found.id)
            groups.append(
                {"id": group.id, "name": group.name, "role": member.role.value if member else None}
            )
        sessions = await self._accounts.list_sessions(found.id)
        now = self._clock()
        return {
            **user_record(found),
            "groups": groups,
            "sessions": {
                "total": len(sessions),
                "active": sum(1 for s in sessions if s.active(now)),
            },
        }

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
        await self._authorize(caller)
        user = await create_account(
            self._accounts,
            username,
            email,
            password,
            display_name=display_name,
            rounds=self._settings.bcrypt_rounds,
            clock=self._clock,
            is_admin=admin,
        )
        return user_record(user)

    async def disable_user(self, caller: Caller, user: str) -> Record:
        await self._authorize(caller)
        target = await self._user(user)
        self._not_self(caller, target, "disable")
        updated = await self._accounts.set_disabled(target.id, True)
        ended = await self._end_sessions(target.id)
        return {"user": user_record(updated), "sessions_revoked": ended}

    async def enable_user(self, caller: Caller, user: str) -> Record:
        await self._authorize(caller)
        target = await self._user(user)
        updated = await self._accounts.set_disabled(target.id, False)
        return {"user": user_record(updated)}

    async def reset_password(self, caller: Caller, user: str, password: str) -> Record:
        await self._authorize(caller)
        target = await self._user(user)
        check_password(password)
        password_hash = await asyncio.to_thread(
            passwords.hash_password, password, self._settings.bcrypt_rounds
        )
        await self._accounts.set_password_hash(target.id, password_hash)
        ended = await self._end_sessions(target.id)
        return {"user": user_record(target), "sessions_revoked": ended}

    async def delete_user(self, caller: Caller, user: str) -> Record:
        await self._authorize(caller)
        target = await self._user(user)
        self._not_self(caller, target, "delete")
        groups = await self._groups.list_groups(target.id)
        owned = [g.id for g in groups if g.owner_id == target.id]
        if owned:
            raise Conflict(
                f"the user owns {len(owned)} group(s) ({', '.join(owned[:5])}); "
                "delete them or transfer ownership first",
                code="user_owns_groups",
                groups=owned,
            )
        await self._accounts.set_disabled(target.id, True)
        ended = await self._end_sessions(target.id)
        for group in groups:
            if await self._groups.remove_member(group.id, target.id):
                await self._publish(
                    group.id, "member.left", {"group_id": group.id, "user_id": target.id}
                )
        await self._accounts.set_password_hash(target.id, UNUSABLE_PASSWORD)
        if target.is_admin:
            await self._accounts.set_admin(target.id, False)
        scrubbed = await self._accounts.update_profile(
            target.id, display_name=DELETED_NAME, about=""
        )
        return {
            "user": user_record(scrubbed),
            "sessions_revoked": ended,
            "groups_left": len(groups),
        }

    async def set_admin(self, caller: Caller, user: str, admin: bool) -> Record:
        await self._authorize(caller)
        target = await self._user(user)
        if not admin:
            self._not_self(caller, target, "revoke admin from")
        return {"user": user_record(await self._accounts.set_admin(target.id, admin))}

    # -- groups ------------------------------------------------------------

    async def list_groups(
        self, caller: Caller, *, after: str | None = None, limit: int = 50
    ) -> Record:
        await self._authorize(caller)
        validate.bounded_int(limit, "limit", low=1, high=MAX_PAGE)
        page = await self._groups.list_all_groups(after=after, limit=limit + 1)
        more = len(page) > limit
        page = page[:limit]
        return {
            "groups": [await self._group_record(g) for g in page],
            "next": page[-1].id if more else None,
        }

    async def get_group(self, caller: Caller, group_id: str) -> Record:
        await self._authorize(caller)
        group = await self._group(group_id)
        members = await self._groups.list_members(group.id)
        users = {u.id: u for u in await self._accounts.get_users([m.user_id for m in members])}
        channels = await self._groups.list_channels(group.id)
        return {
            **group.to_dict(),
            "members": [
                {
                    **m.to_dict(),
                    "username": users[m.user_id].username if m.user_id in users else None,
                }
                for m in members
            ],
            "channels": [c.to_dict() for c in channels],
        }

    async def create_group(
        self, caller: Caller, name: str, *, owner: str | None = None, description: str = ""
    ) -> Record:
        await self._authorize(caller)
        if owner is None:
            if caller is None:
                raise InvalidRequest(
                    "give the group an owner (--owner USER)", code="owner_required", field="owner"
                )
            owner = caller.user_id
        owner_user = await self._user(owner)
        if owner_user.disabled:
            raise Conflict("a disabled account cannot own a group", code="owner_disabled")
        view = await found_group(
            self._groups, self._bus, owner_user.id, name, description, self._clock()
        )
        return await self._group_record(view.group)

    async def delete_group(self, caller: Caller, group_id: str) -> Record:
        await self._authorize(caller)
        group = await self._group(group_id)
        await self._groups.delete_group(group.id)
        await self._publish(group.id, "group.deleted", {"group_id": group.id})
        return {"group_id": group.id}

    async def add_member(
        self, caller: Caller, group_id: str, user: str, *, role: str = "member"
    ) -> Record:
        await self._authorize(caller)
        wanted = _role(role)
        group = await self._group(group_id)
        target = await self._user(user)
        if await self._groups.get_member(group.id, target.id) is not None:
            raise Conflict("already a member of this group", code="already_member")
        if await self._groups.is_banned(group.id, target.id):
            raise Conflict(
                "this user is banned from the group; unban them first", code="user_banned"
            )
        member = Member(group.id, target.id, wanted, self._clock())
        await self._groups.add_member(member)
        channels = await self._groups.list_channels(group.id)
        count = await self._groups.count_members(group.id)
        view = {
            **group.to_dict(),
            "channels": [c.to_dict() for c in channels],
            "role": wanted.value,
            "member_count": count,
        }
        data: dict[str, Any] = {
            "group_id": group.id,
            "user_id": target.id,
            "member": member.to_dict(),
            "user": target.public(),
            "group": view,
        }
        heads = await channel_heads(self._store.messages, channels)
        joined = Event("member.joined", {**data, "last_seqs": heads})  # as GroupService.join
        await publish_quietly(self._bus, user_topic(target.id), joined)
        await self._publish(group.id, "member.joined", data)
        return {**member.to_dict(), "username": target.username}

    async def _target_member(self, group_id: str, user: str) -> tuple[Group, Member]:
        group = await self._group(group_id)
        target = await self._user(user)
        member = await self._groups.get_member(group.id, target.id)
        if member is None:
            raise NotFound("that user is not a member", code="member_not_found")
        if member.role is Role.OWNER:
            raise Conflict(
                "the owner cannot be removed or demoted; delete the group instead",
                code="owner_protected",
            )
        return group, member

    async def remove_member(self, caller: Caller, group_id: str, user: str) -> Record:
        await self._authorize(caller)
        group, member = await self._target_member(group_id, user)
        await self._groups.remove_member(group.id, member.user_id)
        by = caller.user_id if caller is not None else None
        await self._publish(
            group.id, "member.kicked", {"group_id": group.id, "user_id": member.user_id, "by": by}
        )
        return {"group_id": group.id, "user_id": member.user_id}

    async def set_role(self, caller: Caller, group_id: str, user: str, role: str) -> Record:
        await self._authorize(caller)
        wanted = _role(role)
        group, member = await self._target_member(group_id, user)
        updated = await self._groups.set_role(group.id, member.user_id, wanted)
        await self._publish(group.id, "member.updated", updated.to_dict())
        target = await self._user(member.user_id)
        return {**updated.to_dict(), "username": target.username}

    # -- channels ----------------------------------------------------------

    async def list_channels(self, caller: Caller, group_id: str) -> Record:
        await self._authorize(caller)
        group = await self._group(group_id)
        return {"channels": [c.to_dict() for c in await self._groups.list_channels(group.id)]}

    async def get_channel(self, caller: Caller, channel_id: str) -> Record:
        await self._authorize(caller)
        channel = await self._channel(channel_id)
        return {**channel.to_dict(), "group": await self._group_ref(channel.group_id)}

    async def create_channel(
        self, caller: Caller, group_id: str, name: str, *, kind: str = "text", topic: str = ""
    ) -> Record:
        await self._authorize(caller)
        group = await self._group(group_id)
        channel = await add_channel(
            self._groups, self._bus, group.id, name, kind, topic, self._clock()
        )
        return channel.to_dict()

    async def rename_channel(self, caller: Caller, channel_id: str, name: str) -> Record:
        await self._authorize(caller)
        clean_name = validate.text(name, "name", max_len=100)
        channel = await self._channel(channel_id)
        updated = await self._groups.update_channel(channel.id, name=clean_name)
        await self._publish(channel.group_id, "channel.updated", updated.to_dict())
        return updated.to_dict()

    async def delete_channel(self, caller: Caller, channel_id: str) -> Record:
        await self._authorize(caller)
        channel = await self._channel(channel_id)
        await self._groups.delete_channel(channel.id)
        data = {"id": channel.id, "group_id": channel.group_id}
        await self._publish(channel.group_id, "channel.deleted", data)
        return data

    # -- invites -----------------------------------------------------------

    async def list_invites(self, caller: Caller, group_id: str) -> Record:
        await self._authorize(caller)
        group = await self._group(group_id)
        return {"invites": [i.to_dict() for i in await self._groups.list_invites(group.id)]}

    async def get_invite(self, caller: Caller, code: str) -> Record:
        await self._authorize(caller)
        invite = await self._invite(code)
        return {
            **invite.to_dict(),
            "usable": invite.usable(self._clock()),
            "group": await self._group_ref(invite.group_id),
        }

    async def create_invite(
        self,
        caller: Caller,
        group_id: str,
        *,
        expires_in: int | None = None,
        max_uses: int | None = None,
    ) -> Record:
        await self._authorize(caller)
        group = await self._group(group_id)
        # The local operator has no account: the invite is made in the owner's name.
        creator = caller.user_id if caller is not None else group.owner_id
        invite = await issue_invite(
            self._groups, group.id, creator, self._clock(), expires_in, max_uses
        )
        return invite.to_dict()

    async def revoke_invite(self, caller: Caller, code: str) -> Record:
        await self._authorize(caller)
        invite = await self._invite(code)
        return (await self._groups.revoke_invite(invite.code)).to_dict()

    # -- sessions and stats ------------------------------------------------

    async def list_sessions(self, caller: Caller, user: str, *, active: bool = False) -> Record:
        await self._authorize(caller)
        target = await self._user(user)
        now = self._clock()
        sessions = await self._accounts.list_sessions(target.id, active_at=now if active else None)
        return {"user_id": target.id, "sessions": [session_record(s, now) for s in sessions]}

    async def get_session(self, caller: Caller, session_id: str) -> Record:
        await self._authorize(caller)
        session = await self._session(session_id)
        user = await self._accounts.get_user(session.user_id)
        return {
            **session_record(session, self._clock()),
            "username": user.username if user is not None else None,
        }

    async def revoke_session(self, caller: Caller, session_id: str) -> Record:
        await self._authorize(caller)
        session = await self._session(session_id)
        revoked = await self._accounts.revoke_session(session.id, self._clock())
        if revoked:
            await announce_revoked(self._bus, session.user_id, [session.id])
        return {"session_id": session.id, "user_id": session.user_id, "revoked": revoked}

    async def stats(self, caller: Caller, *, days: int = 7) -> Record:
        await self._authorize(caller)
        validate.bounded_int(days, "days", low=1, high=MAX_DAYS)
        today = self._clock() // DAY_MS
        first = today - days + 1
        counts = await self._store.messages.count_messages_by_day(
            first * DAY_MS, (today + 1) * DAY_MS
        )
        per_day = [
            {
                "date": datetime.fromtimestamp(d * 86_400, UTC).date().isoformat(),
                "messages": counts.get(d, 0),
            }
            for d in range(first, today + 1)
        ]
        return {
            "users": await self._accounts.count_users(),
            "groups": await self._store.count_rows("groups"),
            "messages": await self._store.messages.count_messages(),
            "messages_per_day": per_day,
            "online": await self._online() if self._online is not None else None,
        }


__all__ = ["LocalAdminService", "OnlineCounter", "session_record", "user_record"]
