"""Local GroupService: groups, channels, members, roles, invites over a store and a bus.

Every rule lives here. A caller who is not a member gets ``NotFound`` for
anything about the group, so non-members cannot even learn that it exists;
a member without the needed role gets ``Forbidden``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence

from nodechat.bus import Bus, Event, group_topic, publish_quietly, user_topic
from nodechat.errors import Conflict, Forbidden, InvalidRequest, NotFound
from nodechat.models import (
    Channel,
    ChannelKind,
    Group,
    Identity,
    Invite,
    Member,
    Role,
    new_id,
    now_ms,
)
from nodechat.services import validate
from nodechat.services.api import MEMBER_PAGE_MAX, GroupService, GroupView, MemberPage
from nodechat.storage.base import GroupStore, MemberKey, MessageStore, Store

DEFAULT_CHANNEL = "welcome"
DEFAULT_INVITE_TTL = 7 * 24 * 3600
MAX_INVITE_TTL = 365 * 24 * 3600
MAX_CHANNELS = 500


def invite_code() -> str:
    """A fresh 12-character URL-safe invite code that does not start with ``-`` (a
    command line would take it for an option)."""
    while True:
        code = secrets.token_urlsafe(9)
        if not code.startswith("-"):
            return code


def member_cursor(member: Member) -> str:
    """The member.list cursor that pages on after ``member`` (opaque to clients)."""
    return f"{member.joined_at}:{member.user_id}"


def member_key(cursor: str) -> MemberKey:
    """The member order key of a cursor from :func:`member_cursor`; ``invalid_cursor`` if
    it is not one."""
    joined, sep, user_id = cursor.partition(":")
    # isdigit() alone also passes "²" (int() refuses it) and "٣" (no cursor of ours)
    if not sep or not user_id or not (joined.isascii() and joined.isdigit()) or len(joined) > 16:
        raise InvalidRequest("not a member list cursor", code="invalid_cursor", field="after")
    return int(joined), user_id


async def channel_heads(messages: MessageStore, channels: Sequence[Channel]) -> dict[str, int]:
    """Each text channel's last seq now (0 if it has no message): the ``last_seqs`` of a
    joiner's ``member.joined``, from which its sessions read what they must not miss."""
    text = [c.id for c in channels if c.kind is ChannelKind.TEXT]
    stored = await messages.last_seqs(text)
    return {channel: stored.get(channel, 0) for channel in text}


async def found_group(
    groups: GroupStore,
    bus: Bus,
    owner_id: str,
    name: str,
    description: str,
    now: int,
) -> GroupView:
    """Create a group owned by ``owner_id`` with its #welcome channel; announce it to the
    owner's sessions (``group.created``). Inputs are checked before anything is written."""
    group = Group(
        new_id("g"),
        validate.text(name, "name", max_len=100),
        validate.text(description, "description", min_len=0, max_len=1000, single_line=False),
        owner_id,
        now,
    )
    owner = Member(group.id, owner_id, Role.OWNER, now)
    welcome = Channel(new_id("ch"), group.id, DEFAULT_CHANNEL, ChannelKind.TEXT, 0, "", now)
    await groups.create_group(group, owner, [welcome])
    view = GroupView(group, [welcome], Role.OWNER.value, 1)
    await publish_quietly(bus, user_topic(owner_id), Event("group.created", view.to_dict()))
    return view


async def add_channel(
    groups: GroupStore,
    bus: Bus,
    group_id: str,
    name: str,
    kind: str,
    topic: str,
    now: int,
) -> Channel:
    """Add a channel at the end of a group's list; announce it (``channel.created``).
    Inputs and the channel limit are checked before anything is written."""
    try:
        channel_kind = ChannelKind(kind)
    except ValueError:
        raise InvalidRequest(
            "kind must be 'text' or 'voice'", code="invalid_kind", field="kind"
        ) from None
    clean_name = validate.text(name, "name", max_len=100)
    clean_topic = validate.text(topic, "topic", min_len=0, max_len=500)
    existing = await groups.list_channels(group_id)
    if len(existing) >= MAX_CHANNELS:
        raise Conflict(f"a group has at most {MAX_CHANNELS} channels", code="too_many_channels")
    position = max((c.position for c in existing), default=-1) + 1
    channel = Channel(new_id("ch"), group_id, clean_name, channel_kind, position, clean_topic, now)
    await groups.create_channel(channel)
    await publish_quietly(bus, group_topic(group_id), Event("channel.created", channel.to_dict()))
    return channel


async def issue_invite(
    groups: GroupStore,
    group_id: str,
    created_by: str,
    now: int,
    expires_in: int | None,
    max_uses: int | None,
) -> Invite:
    """A new invite code (``expires_in`` seconds, 0 = never; default 7 days)."""
    ttl = DEFAULT_INVITE_TTL if expires_in is None else expires_in
    validate.bounded_int(ttl, "expires_in", low=0, high=MAX_INVITE_TTL)
    validate.bounded_int(max_uses, "max_uses", low=1, high=1_000_000)
    invite = Invite(
        invite_code(),
        group_id,
        created_by,
        now,
        None if ttl == 0 else now + ttl * 1000,
        max_uses,
    )
    await groups.create_invite(invite)
    return invite


class LocalGroupService(GroupService):
    """GroupService over a store; publishes every change on the bus."""

    def __init__(self, store: Store, bus: Bus, *, clock: Callable[[], int] = now_ms) -> None:
        self._groups = store.groups
        self._accounts = store.accounts
        self._messages = store.messages
        self._bus = bus
        self._clock = clock

    # -- helpers -----------------------------------------------------------

    async def _member(self, identity: Identity, group_id: str) -> Member:
        member = await self._groups.get_member(group_id, identity.user_id)
        if member is None:
            raise NotFound("no such group", code="group_not_found")
        return member

    async def _manager(self, identity: Identity, group_id: str) -> Member:
        member = await self._member(identity, group_id)
        if member.role.rank < Role.ADMIN.rank:
            raise Forbidden("only the owner or an admin may do this")
        return member

    async def _owner(self, identity: Identity, group_id: str) -> Member:
        member = await self._member(identity, group_id)
        if member.role is not Role.OWNER:
            raise Forbidden("only the owner may do this")
        return member

    async def _channel(self, identity: Identity, channel_id: str) -> tuple[Channel, Member]:
        channel = await self._groups.get_channel(channel_id)
        if channel is None:
            raise NotFound("no such channel", code="channel_not_found")
        member = await self._groups.get_member(channel.group_id, identity.user_id)
        if member is None:
            raise NotFound("no such channel", code="channel_not_found")
        return channel, member

    async def _view(self, group: Group, role: Role) -> GroupView:
        channels = await self._groups.list_channels(group.id)
        return GroupView(group, channels, role.value, await self._groups.count_members(group.id))

    async def _publish(self, group_id: str, kind: str, data: dict[str, object]) -> None:
        event = Event(kind, data)
        await publish_quietly(self._bus, group_topic(group_id), event)

    async def _target(self, actor: Member, group_id: str, user_id: str) -> Member:
        if user_id == actor.user_id:
            raise Conflict("you cannot do this to yourself", code="self_target")
        target = await self._groups.get_member(group_id, user_id)
        if target is None:
            raise NotFound("that user is not a member", code="member_not_found")
        if target.role.rank >= actor.role.rank:
            raise Forbidden("you may only act on members of lower rank")
        return target

    # -- groups ------------------------------------------------------------

    async def create_group(self, identity: Identity, name: str, description: str = "") -> GroupView:
        return await found_group(
            self._groups,
            self._bus,
            identity.user_id,
            name,
            description,
            self._clock(),
        )

    async def list_groups(self, identity: Identity) -> list[GroupView]:
        views = []
        for group in await self._groups.list_groups(identity.user_id):
            member = await self._groups.get_member(group.id, identity.user_id)
            if member is not None:
                views.append(await self._view(group, member.role))
        return views

    async def get_group(self, identity: Identity, group_id: str) -> GroupView:
        member = await self._member(identity, group_id)
        group = await self._groups.get_group(group_id)
        if group is None:
            raise NotFound("no such group", code="group_not_found")
        return await self._view(group, member.role)

    async def update_group(
        self,
        identity: Identity,
        group_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> GroupView:
        member = await self._manager(identity, group_id)
        group = await self._groups.update_group(
            group_id,
            name=None if name is None else validate.text(name, "name", max_len=100),
            description=None
            if description is None
            else validate.text(
                description, "description", min_len=0, max_len=1000, single_line=False
            ),
        )
        await self._publish(group_id, "group.updated", group.to_dict())
        return await self._view(group, member.role)

    async def delete_group(self, identity: Identity, group_id: str) -> None:
        await self._owner(identity, group_id)
        await self._groups.delete_group(group_id)
        await self._publish(group_id, "group.deleted", {"group_id": group_id})

    # -- channels ----------------------------------------------------------

    async def create_channel(
        self, identity: Identity, group_id: str, name: str, kind: str = "text", topic: str = ""
    ) -> Channel:
        await self._manager(identity, group_id)
        return await add_channel(
            self._groups, self._bus, group_id, name, kind, topic, self._clock()
        )

    async def update_channel(
        self,
        identity: Identity,
        channel_id: str,
        *,
        name: str | None = None,
        topic: str | None = None,
    ) -> Channel:
        channel, member = await self._channel(identity, channel_id)
        if member.role.rank < Role.ADMIN.rank:
            raise Forbidden("only the owner or an admin may do this")
        updated = await self._groups.update_channel(
            channel_id,
            name=None if name is None else validate.text(name, "name", max_len=100),
            topic=None if topic is None else validate.text(topic, "topic", min_len=0, max_len=500),
        )
        await self._publish(channel.group_id, "channel.updated", updated.to_dict())
        return updated

    async def delete_channel(self, identity: Identity, channel_id: str) -> None:
        channel, member = await self._channel(identity, channel_id)
        if member.role.rank < Role.ADMIN.rank:
            raise Forbidden("only the owner or an admin may do this")
        await self._groups.delete_channel(channel_id)
        await self._publish(
            channel.group_id, "channel.deleted", {"id": channel_id, "group_id": channel.group_id}
        )

    async def reorder_channels(
        self, identity: Identity, group_id: str, channel_ids: Sequence[str]
    ) -> list[Channel]:
        await self._manager(identity, group_id)
        before = {c.id: c.position for c in await self._groups.list_channels(group_id)}
        channels = await self._groups.reorder_channels(group_id, list(channel_ids))
        for channel in channels:
            if before.get(channel.id) != channel.position:
                await self._publish(group_id, "channel.updated", channel.to_dict())
        return channels

    # -- members -----------------------------------------------------------

    async def list_members(
        self,
        identity: Identity,
        group_id: str,
        *,
        after: str | None = None,
        limit: int = MEMBER_PAGE_MAX,
    ) -> MemberPage:
        if not 1 <= limit <= MEMBER_PAGE_MAX:
            raise InvalidRequest(
                f"limit must be 1 to {MEMBER_PAGE_MAX}", code="invalid_request", field="limit"
            )
        key = member_key(after) if after else None
        await self._member(identity, group_id)
        members = await self._groups.list_members(group_id, after=key, limit=limit + 1)
        more = len(members) > limit
        members = members[:limit]
        users = await self._accounts.get_users([m.user_id for m in members])
        return MemberPage(members, users, member_cursor(members[-1]) if more else None)

    async def join(self, identity: Identity, code: str) -> GroupView:
        member = await self._groups.join_with_invite(code.strip(), identity.user_id, self._clock())
        group = await self._groups.get_group(member.group_id)
        if group is None:
            raise NotFound("no such group", code="group_not_found")
        view = await self._view(group, member.role)
        user = await self._accounts.get_user(identity.user_id)
        data: dict[str, object] = {
            "group_id": group.id,
            "user_id": identity.user_id,
            "member": member.to_dict(),
            "user": user.public() if user else None,
            "group": view.to_dict(),
        }
        # The joiner's own nodes may not be subscribed to the group yet: tell them
        # on their user topic, with where each channel stood at the join, so they
        # read from the store what was sent before they subscribed; socket nodes
        # skip the joiner on the group topic.
        heads = await channel_heads(self._messages, view.channels)
        await publish_quietly(
            self._bus,
            user_topic(identity.user_id),
            Event("member.joined", {**data, "last_seqs": heads}),
        )
        await self._publish(group.id, "member.joined", data)
        return view

    async def leave(self, identity: Identity, group_id: str) -> None:
        member = await self._member(identity, group_id)
        if member.role is Role.OWNER:
            raise Conflict("transfer ownership before leaving", code="owner_cannot_leave")
        await self._groups.remove_member(group_id, identity.user_id)
        await self._publish(
            group_id, "member.left", {"group_id": group_id, "user_id": identity.user_id}
        )

    async def kick(self, identity: Identity, group_id: str, user_id: str) -> None:
        actor = await self._manager(identity, group_id)
        await self._target(actor, group_id, user_id)
        await self._groups.remove_member(group_id, user_id)
        await self._publish(
            group_id,
            "member.kicked",
            {"group_id": group_id, "user_id": user_id, "by": identity.user_id},
        )

    async def ban(self, identity: Identity, group_id: str, user_id: str) -> None:
        actor = await self._manager(identity, group_id)
        if await self._groups.get_member(group_id, user_id) is not None:
            await self._target(actor, group_id, user_id)
        elif await self._accounts.get_user(user_id) is None:
            raise NotFound("no such user", code="user_not_found")
        await self._groups.ban(group_id, user_id, identity.user_id, self._clock())
        await self._publish(
            group_id,
            "member.banned",
            {"group_id": group_id, "user_id": user_id, "by": identity.user_id},
        )

    async def unban(self, identity: Identity, group_id: str, user_id: str) -> None:
        await self._manager(identity, group_id)
        if not await self._groups.unban(group_id, user_id):
            raise NotFound("that user is not banned", code="ban_not_found")

    async def set_role(self, identity: Identity, group_id: str, user_id: str, role: str) -> Member:
        actor = await self._owner(identity, group_id)
        if role not in (Role.ADMIN.value, Role.MEMBER.value):
            raise InvalidRequest(
                "role must be 'admin' or 'member'", code="invalid_role", field="role"
            )
        await self._target(actor, group_id, user_id)
        member = await self._groups.set_role(group_id, user_id, Role(role))
        await self._publish(group_id, "member.updated", member.to_dict())
        return member

    async def transfer_ownership(
        self, identity: Identity, group_id: str, user_id: str
    ) -> GroupView:
        await self._owner(identity, group_id)
        if user_id == identity.user_id:
            raise Conflict("you already own this group", code="self_target")
        if await self._groups.get_member(group_id, user_id) is None:
            raise NotFound("that user is not a member", code="member_not_found")
        group = await self._groups.transfer_owner(group_id, identity.user_id, user_id)
        await self._publish(group_id, "group.updated", group.to_dict())
        for uid in (identity.user_id, user_id):
            member = await self._groups.get_member(group_id, uid)
            if member is not None:
                await self._publish(group_id, "member.updated", member.to_dict())
        return await self._view(group, Role.ADMIN)

    # -- invites -----------------------------------------------------------

    async def create_invite(
        self,
        identity: Identity,
        group_id: str,
        *,
        expires_in: int | None = None,
        max_uses: int | None = None,
    ) -> Invite:
        await self._manager(identity, group_id)
        return await issue_invite(
            self._groups, group_id, identity.user_id, self._clock(), expires_in, max_uses
        )

    async def list_invites(self, identity: Identity, group_id: str) -> list[Invite]:
        await self._manager(identity, group_id)
        return await self._groups.list_invites(group_id)

    async def revoke_invite(self, identity: Identity, code: str) -> Invite:
        invite = await self._groups.get_invite(code)
        if invite is None:
            raise NotFound("no such invite", code="invite_invalid")
        await self._manager(identity, invite.group_id)
        return await self._groups.revoke_invite(code)

    async def member_group_ids(self, user_id: str) -> list[str]:
        return await self._groups.member_group_ids(user_id)
