"""PostgreSQL groups: groups, channels, members, bans and invites.

A channel's conversation (same id, kind ``channel``) is created and deleted
with the channel, in the same transaction. Deleting a group cascades through
foreign keys to everything in it, read markers included (a trigger).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import errors
from psycopg.rows import DictRow

from nodechat.errors import Conflict, Forbidden, InvalidRequest, NotFound
from nodechat.models import Channel, ChannelKind, ConversationKind, Group, Invite, Member, Role
from nodechat.storage.base import GroupStore, MemberKey
from nodechat.storage.postgres.engine import Conn, Database, rowcount, rows

_GROUP = "id, name, description, owner_id, created_at"
_CHANNEL = "id, group_id, name, kind, position, topic, created_at"
_MEMBER = "group_id, user_id, role, joined_at"
_INVITE = "code, group_id, created_by, created_at, expires_at, max_uses, uses, revoked"
_CHANNELS_OF = (
    f"SELECT {_CHANNEL} FROM channels WHERE group_id = %s ORDER BY position, created_at, id"
)


def _group(row: DictRow) -> Group:
    return Group(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        owner_id=row["owner_id"],
        created_at=row["created_at"],
    )


def _channel(row: DictRow) -> Channel:
    return Channel(
        id=row["id"],
        group_id=row["group_id"],
        name=row["name"],
        kind=ChannelKind(row["kind"]),
        position=row["position"],
        topic=row["topic"],
        created_at=row["created_at"],
    )


def _member(row: DictRow) -> Member:
    return Member(
        group_id=row["group_id"],
        user_id=row["user_id"],
        role=Role(row["role"]),
        joined_at=row["joined_at"],
    )


def _invite(row: DictRow) -> Invite:
    return Invite(
        code=row["code"],
        group_id=row["group_id"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        max_uses=row["max_uses"],
        uses=row["uses"],
        revoked=row["revoked"],
    )


async def _require_group(conn: Conn, group_id: str) -> None:
    # FOR KEY SHARE: a concurrent delete_group waits until this job's rows are in.
    if not await rows(conn, "SELECT 1 FROM groups WHERE id = %s FOR KEY SHARE", (group_id,)):
        raise NotFound("no such group", code="group_not_found")


async def _insert_channel(conn: Conn, channel: Channel) -> None:
    try:
        await conn.execute(
            f"INSERT INTO channels ({_CHANNEL}) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                channel.id,
                channel.group_id,
                channel.name,
                channel.kind.value,
                channel.position,
                channel.topic,
                channel.created_at,
            ),
        )
        await conn.execute(
            "INSERT INTO conversations (id, kind, group_id) VALUES (%s, %s, %s)",
            (channel.id, ConversationKind.CHANNEL.value, channel.group_id),
        )
    except errors.UniqueViolation as exc:
        raise Conflict(
            "a channel or conversation with this id exists", code="channel_exists"
        ) from exc
    except errors.ForeignKeyViolation as exc:
        raise NotFound("no such group", code="group_not_found") from exc


async def _insert_member(conn: Conn, member: Member) -> None:
    try:
        await conn.execute(
            f"INSERT INTO members ({_MEMBER}) VALUES (%s, %s, %s, %s)",
            (member.group_id, member.user_id, member.role.value, member.joined_at),
        )
    except errors.UniqueViolation as exc:
        raise Conflict("already a member of this group", code="already_member") from exc
    except errors.ForeignKeyViolation as exc:
        raise NotFound("no such group", code="group_not_found") from exc


async def _updated(conn: Conn, sql: str, params: Sequence[Any], missing: NotFound) -> DictRow:
    """Run an ``UPDATE ... RETURNING`` and return its row, or raise ``missing``."""
    found = await rows(conn, sql, params)
    if not found:
        raise missing
    return found[0]


class PostgresGroupStore(GroupStore):
    """Groups on a shared :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- groups ----------------------------------------------------------

    async def create_group(self, group: Group, owner: Member, channels: Sequence[Channel]) -> None:
        """Insert a group with its owner membership and first channels."""

        async def fn(conn: Conn) -> None:
            try:
                await conn.execute(
                    f"INSERT INTO groups ({_GROUP}) VALUES (%s, %s, %s, %s, %s)",
                    (group.id, group.name, group.description, group.owner_id, group.created_at),
                )
            except errors.UniqueViolation as exc:
                raise Conflict("a group with this id exists", code="group_exists") from exc
            await _insert_member(conn, owner)
            for channel in channels:
                await _insert_channel(conn, channel)

        await self.db.write(fn)

    async def get_group(self, group_id: str) -> Group | None:
        """The group, or None."""
        row = await self.db.read_one(f"SELECT {_GROUP} FROM groups WHERE id = %s", (group_id,))
        return _group(row) if row is not None else None

    async def update_group(
        self, group_id: str, *, name: str | None = None, description: str | None = None
    ) -> Group:
        """Change the fields that are not None; ``NotFound`` if no such group."""

        async def fn(conn: Conn) -> Group:
            return _group(
                await _updated(
                    conn,
                    "UPDATE groups SET name = coalesce(%s, name),"
                    f" description = coalesce(%s, description) WHERE id = %s RETURNING {_GROUP}",
                    (name, description, group_id),
                    NotFound("no such group", code="group_not_found"),
                )
            )

        return await self.db.write(fn)

    async def delete_group(self, group_id: str) -> None:
        """Delete the group; foreign keys cascade to everything in it."""

        async def fn(conn: Conn) -> None:
            if await rowcount(conn, "DELETE FROM groups WHERE id = %s", (group_id,)) == 0:
                raise NotFound("no such group", code="group_not_found")

        await self.db.write(fn)

    async def list_groups(self, user_id: str) -> list[Group]:
        """The groups a user is a member of, oldest membership first."""
        found = await self.db.read(
            "SELECT g.id, g.name, g.description, g.owner_id, g.created_at FROM members m"
            " JOIN groups g ON g.id = m.group_id WHERE m.user_id = %s"
            " ORDER BY m.joined_at, m.ord",
            (user_id,),
        )
        return [_group(row) for row in found]

    async def list_all_groups(self, *, after: str | None = None, limit: int = 100) -> list[Group]:
        """Every group ordered by id."""
        found = await self.db.read(
            f"SELECT {_GROUP} FROM groups WHERE id > %s ORDER BY id LIMIT %s",
            (after or "", max(limit, 0)),
        )
        return [_group(row) for row in found]

    # -- members ---------------------------------------------------------

    async def get_member(self, group_id: str, user_id: str) -> Member | None:
        """The membership, or None."""
        row = await self.db.read_one(
            f"SELECT {_MEMBER} FROM members WHERE group_id = %s AND user_id = %s",
            (group_id, user_id),
        )
        return _member(row) if row is not None else None

    async def list_members(
        self, group_id: str, *, after: MemberKey | None = None, limit: int | None = None
    ) -> list[Member]:
        """Members of a group ordered by (join time, user id), from after ``after``."""
        sql = f"SELECT {_MEMBER} FROM members WHERE group_id = %s"
        args: list[object] = [group_id]
        if after is not None:
            sql += " AND (joined_at, user_id) > (%s, %s)"
            args += after
        sql += " ORDER BY joined_at, user_id"
        if limit is not None:
            sql += " LIMIT %s"
            args.append(limit)
        return [_member(row) for row in await self.db.read(sql, tuple(args))]

    async def count_members(self, group_id: str) -> int:
        """How many members a group has."""
        row = await self.db.read_one(
            "SELECT member_count AS n FROM groups WHERE id = %s", (group_id,)
        )
        return int(row["n"]) if row is not None else 0

    async def member_group_ids(self, user_id: str) -> list[str]:
        """Ids of the groups a user belongs to, oldest membership first."""
        found = await self.db.read(
            "SELECT group_id FROM members WHERE user_id = %s ORDER BY joined_at, ord",
            (user_id,),
        )
        return [row["group_id"] for row in found]

    async def add_member(self, member: Member) -> None:
        """Add a membership; ``Conflict(already_member)``, ``NotFound(group_not_found)``."""

        async def fn(conn: Conn) -> None:
            await _require_group(conn, member.group_id)
            await _insert_member(conn, member)

        await self.db.write(fn)

    async def remove_member(self, group_id: str, user_id: str) -> bool:
        """Remove a membership; False if there was none."""

        async def fn(conn: Conn) -> bool:
            return (
                await rowcount(
                    conn,
                    "DELETE FROM members WHERE group_id = %s AND user_id = %s",
                    (group_id, user_id),
                )
                > 0
            )

        return await self.db.write(fn)

    async def set_role(self, group_id: str, user_id: str, role: Role) -> Member:
        """Change a member's role; ``NotFound(not_member)`` if not a member."""

        async def fn(conn: Conn) -> Member:
            return _member(
                await _updated(
                    conn,
                    f"UPDATE members SET role = %s WHERE group_id = %s AND user_id = %s"
                    f" RETURNING {_MEMBER}",
                    (role.value, group_id, user_id),
                    NotFound("not a member of this group", code="not_member"),
                )
            )

        return await self.db.write(fn)

    async def transfer_owner(self, group_id: str, from_user: str, to_user: str) -> Group:
        """Make ``to_user`` owner and ``from_user`` admin; ``Conflict(not_owner)`` if stale."""

        async def fn(conn: Conn) -> Group:
            found = await rows(
                conn, "SELECT owner_id FROM groups WHERE id = %s FOR UPDATE", (group_id,)
            )
            if not found:
                raise NotFound("no such group", code="group_not_found")
            if found[0]["owner_id"] != from_user:
                raise Conflict("the group is not owned by this user", code="not_owner")
            update = "UPDATE members SET role = %s WHERE group_id = %s AND user_id = %s"
            if await rowcount(conn, update, (Role.OWNER.value, group_id, to_user)) == 0:
                raise NotFound("the new owner is not a member", code="not_member")
            await conn.execute(update, (Role.ADMIN.value, group_id, from_user))
            return _group(
                await _updated(
                    conn,
                    f"UPDATE groups SET owner_id = %s WHERE id = %s RETURNING {_GROUP}",
                    (to_user, group_id),
                    NotFound("no such group", code="group_not_found"),
                )
            )

        return await self.db.write(fn)

    # -- bans ------------------------------------------------------------

    async def ban(self, group_id: str, user_id: str, by: str, now: int) -> None:
        """Ban a user and remove the membership if any (idempotent)."""

        async def fn(conn: Conn) -> None:
            await _require_group(conn, group_id)
            await conn.execute(
                "DELETE FROM members WHERE group_id = %s AND user_id = %s", (group_id, user_id)
            )
            await conn.execute(
                "INSERT INTO bans (group_id, user_id, banned_by, created_at)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (group_id, user_id, by, now),
            )

        await self.db.write(fn)

    async def unban(self, group_id: str, user_id: str) -> bool:
        """Lift a ban; False if there was none."""

        async def fn(conn: Conn) -> bool:
            return (
                await rowcount(
                    conn,
                    "DELETE FROM bans WHERE group_id = %s AND user_id = %s",
                    (group_id, user_id),
                )
                > 0
            )

        return await self.db.write(fn)

    async def is_banned(self, group_id: str, user_id: str) -> bool:
        """Whether the user is banned from the group."""
        row = await self.db.read_one(
            "SELECT 1 FROM bans WHERE group_id = %s AND user_id = %s", (group_id, user_id)
        )
        return row is not None

    # -- channels --------------------------------------------------------

    async def create_channel(self, channel: Channel) -> None:
        """Insert a channel and its conversation."""

        async def fn(conn: Conn) -> None:
            await _require_group(conn, channel.group_id)
            await _insert_channel(conn, channel)

        await self.db.write(fn)

    async def get_channel(self, channel_id: str) -> Channel | None:
        """The channel, or None."""
        row = await self.db.read_one(
            f"SELECT {_CHANNEL} FROM channels WHERE id = %s", (channel_id,)
        )
        return _channel(row) if row is not None else None

    async def list_channels(self, group_id: str) -> list[Channel]:
        """Channels of a group ordered by position."""
        return [_channel(row) for row in await self.db.read(_CHANNELS_OF, (group_id,))]

    async def update_channel(
        self, channel_id: str, *, name: str | None = None, topic: str | None = None
    ) -> Channel:
        """Change the fields that are not None; ``NotFound(channel_not_found)``."""

        async def fn(conn: Conn) -> Channel:
            return _channel(
                await _updated(
                    conn,
                    "UPDATE channels SET name = coalesce(%s, name), topic = coalesce(%s, topic)"
                    f" WHERE id = %s RETURNING {_CHANNEL}",
                    (name, topic, channel_id),
                    NotFound("no such channel", code="channel_not_found"),
                )
            )

        return await self.db.write(fn)

    async def delete_channel(self, channel_id: str) -> None:
        """Delete a channel, its conversation and (by cascade) its messages."""

        async def fn(conn: Conn) -> None:
            if await rowcount(conn, "DELETE FROM channels WHERE id = %s", (channel_id,)) == 0:
                raise NotFound("no such channel", code="channel_not_found")
            await conn.execute(
                "DELETE FROM conversations WHERE id = %s AND kind = %s",
                (channel_id, ConversationKind.CHANNEL.value),
            )

        await self.db.write(fn)

    async def reorder_channels(self, group_id: str, channel_ids: Sequence[str]) -> list[Channel]:
        """Set positions 0..n-1 in the given order; ``InvalidRequest`` unless exactly the group's."""
        wanted = list(channel_ids)

        async def fn(conn: Conn) -> list[Channel]:
            await _require_group(conn, group_id)
            found = await rows(
                conn, "SELECT id FROM channels WHERE group_id = %s FOR UPDATE", (group_id,)
            )
            existing = {row["id"] for row in found}
            if len(wanted) != len(set(wanted)) or set(wanted) != existing:
                raise InvalidRequest(
                    "the ids must be exactly the group's channels, once each",
                    code="bad_channel_order",
                )
            await conn.execute(
                "UPDATE channels SET position = o.n - 1"
                " FROM unnest(%s::text[]) WITH ORDINALITY AS o(id, n) WHERE channels.id = o.id",
                (wanted,),
            )
            return [_channel(row) for row in await rows(conn, _CHANNELS_OF, (group_id,))]

        return await self.db.write(fn)

    # -- invites ---------------------------------------------------------

    async def create_invite(self, invite: Invite) -> None:
        """Insert an invite; ``Conflict(invite_exists)``, ``NotFound(group_not_found)``."""

        async def fn(conn: Conn) -> None:
            await _require_group(conn, invite.group_id)
            try:
                await conn.execute(
                    f"INSERT INTO invites ({_INVITE}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        invite.code,
                        invite.group_id,
                        invite.created_by,
                        invite.created_at,
                        invite.expires_at,
                        invite.max_uses,
                        invite.uses,
                        invite.revoked,
                    ),
                )
            except errors.UniqueViolation as exc:
                raise Conflict("this invite code exists", code="invite_exists") from exc

        await self.db.write(fn)

    async def get_invite(self, code: str) -> Invite | None:
        """The invite, or None."""
        row = await self.db.read_one(f"SELECT {_INVITE} FROM invites WHERE code = %s", (code,))
        return _invite(row) if row is not None else None

    async def list_invites(self, group_id: str) -> list[Invite]:
        """A group's invites, newest first."""
        found = await self.db.read(
            f"SELECT {_INVITE} FROM invites WHERE group_id = %s ORDER BY created_at DESC, ord DESC",
            (group_id,),
        )
        return [_invite(row) for row in found]

    async def revoke_invite(self, code: str) -> Invite:
        """Mark an invite revoked; ``NotFound(invite_not_found)``."""

        async def fn(conn: Conn) -> Invite:
            return _invite(
                await _updated(
                    conn,
                    f"UPDATE invites SET revoked = TRUE WHERE code = %s RETURNING {_INVITE}",
                    (code,),
                    NotFound("no such invite", code="invite_not_found"),
                )
            )

        return await self.db.write(fn)

    async def join_with_invite(self, code: str, user_id: str, now: int) -> Member:
        """Check the invite and the user, count a use and add the member, atomically."""

        async def fn(conn: Conn) -> Member:
            # FOR UPDATE: concurrent joins on one invite take turns, so max_uses holds.
            found = await rows(
                conn, f"SELECT {_INVITE} FROM invites WHERE code = %s FOR UPDATE", (code,)
            )
            if not found or not _invite(found[0]).usable(now):
                raise NotFound("this invite is unknown, expired or used up", code="invite_invalid")
            group_id = found[0]["group_id"]
            if await rows(
                conn, "SELECT 1 FROM bans WHERE group_id = %s AND user_id = %s", (group_id, user_id)
            ):
                raise Forbidden("you are banned from this group", code="banned")
            member = Member(group_id=group_id, user_id=user_id, role=Role.MEMBER, joined_at=now)
            await _insert_member(conn, member)
            await conn.execute("UPDATE invites SET uses = uses + 1 WHERE code = %s", (code,))
            return member

        return await self.db.write(fn)
