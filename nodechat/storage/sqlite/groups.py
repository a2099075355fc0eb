"""SQLite groups: groups, channels, members, bans and invites.

A channel's conversation (same id, kind ``channel``) is created and deleted
with the channel, in the same transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from nodechat.errors import Conflict, Forbidden, InvalidRequest, NotFound
from nodechat.models import Channel, ChannelKind, ConversationKind, Group, Invite, Member, Role
from nodechat.storage.base import GroupStore, MemberKey
from nodechat.storage.sqlite.engine import Database

_GROUP = "id, name, description, owner_id, created_at"
_CHANNEL = "id, group_id, name, kind, position, topic, created_at"
_MEMBER = "group_id, user_id, role, joined_at"
_INVITE = "code, group_id, created_by, created_at, expires_at, max_uses, uses, revoked"
_CHANNELS_OF = (
    f"SELECT {_CHANNEL} FROM channels WHERE group_id = ? ORDER BY position, created_at, id"
)


def _group(row: sqlite3.Row) -> Group:
    return Group(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        owner_id=row["owner_id"],
        created_at=row["created_at"],
    )


def _channel(row: sqlite3.Row) -> Channel:
    return Channel(
        id=row["id"],
        group_id=row["group_id"],
        name=row["name"],
        kind=ChannelKind(row["kind"]),
        position=row["position"],
        topic=row["topic"],
        created_at=row["created_at"],
    )


def _member(row: sqlite3.Row) -> Member:
    return Member(
        group_id=row["group_id"],
        user_id=row["user_id"],
        role=Role(row["role"]),
        joined_at=row["joined_at"],
    )


def _invite(row: sqlite3.Row) -> Invite:
    return Invite(
        code=row["code"],
        group_id=row["group_id"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        max_uses=row["max_uses"],
        uses=row["uses"],
        revoked=bool(row["revoked"]),
    )


def _require_group(conn: sqlite3.Connection, group_id: str) -> None:
    if not conn.execute("SELECT 1 FROM groups WHERE id = ?", (group_id,)).fetchall():
        raise NotFound("no such group", code="group_not_found")


def _insert_channel(conn: sqlite3.Connection, channel: Channel) -> None:
    try:
        conn.execute(
            f"INSERT INTO channels ({_CHANNEL}) VALUES (?, ?, ?, ?, ?, ?, ?)",
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
        conn.execute(
            "INSERT INTO conversations (id, kind, group_id) VALUES (?, ?, ?)",
            (channel.id, ConversationKind.CHANNEL.value, channel.group_id),
        )
    except sqlite3.IntegrityError as exc:
        raise Conflict(
            "a channel or conversation with this id exists", code="channel_exists"
        ) from exc


def _insert_member(conn: sqlite3.Connection, member: Member) -> None:
    try:
        conn.execute(
            f"INSERT INTO members ({_MEMBER}) VALUES (?, ?, ?, ?)",
            (member.group_id, member.user_id, member.role.value, member.joined_at),
        )
    except sqlite3.IntegrityError as exc:
        raise Conflict("already a member of this group", code="already_member") from exc


def _updated(
    conn: sqlite3.Connection, sql: str, params: Sequence[object], missing: NotFound
) -> sqlite3.Row:
    """Run an ``UPDATE ... RETURNING`` and return its row, or raise ``missing``."""
    rows = conn.execute(sql, params).fetchall()
    if not rows:
        raise missing
    row: sqlite3.Row = rows[0]
    return row


class SqliteGroupStore(GroupStore):
    """Groups on a shared :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- groups ----------------------------------------------------------

    async def create_group(self, group: Group, owner: Member, channels: Sequence[Channel]) -> None:
        """Insert a group with its owner membership and first channels."""

        def fn(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    f"INSERT INTO groups ({_GROUP}) VALUES (?, ?, ?, ?, ?)",
                    (group.id, group.name, group.description, group.owner_id, group.created_at),
                )
            except sqlite3.IntegrityError as exc:
                raise Conflict("a group with this id exists", code="group_exists") from exc
            _insert_member(conn, owner)
            for channel in channels:
                _insert_channel(conn, channel)

        await self.db.write(fn)

    async def get_group(self, group_id: str) -> Group | None:
        """The group, or None."""
        row = self.db.read_one(f"SELECT {_GROUP} FROM groups WHERE id = ?", (group_id,))
        return _group(row) if row is not None else None

    async def update_group(
        self, group_id: str, *, name: str | None = None, description: str | None = None
    ) -> Group:
        """Change the fields that are not None; ``NotFound`` if no such group."""

        def fn(conn: sqlite3.Connection) -> Group:
            return _group(
                _updated(
                    conn,
                    "UPDATE groups SET name = coalesce(?, name),"
                    f" description = coalesce(?, description) WHERE id = ? RETURNING {_GROUP}",
                    (name, description, group_id),
                    NotFound("no such group", code="group_not_found"),
                )
            )

        return await self.db.write(fn)

    async def delete_group(self, group_id: str) -> None:
        """Delete the group; foreign keys cascade to everything in it."""

        def fn(conn: sqlite3.Connection) -> None:
            if conn.execute("DELETE FROM groups WHERE id = ?", (group_id,)).rowcount == 0:
                raise NotFound("no such group", code="group_not_found")

        await self.db.write(fn)

    async def list_groups(self, user_id: str) -> list[Group]:
        """The groups a user is a member of, oldest membership first."""
        rows = self.db.read(
            "SELECT g.id, g.name, g.description, g.owner_id, g.created_at FROM members m"
            " JOIN groups g ON g.id = m.group_id WHERE m.user_id = ?"
            " ORDER BY m.joined_at, m.rowid",
            (user_id,),
        )
        return [_group(row) for row in rows]

    async def list_all_groups(self, *, after: str | None = None, limit: int = 100) -> list[Group]:
        """Every group ordered by id."""
        rows = self.db.read(
            f"SELECT {_GROUP} FROM groups WHERE id > ? ORDER BY id LIMIT ?",
            (after or "", max(limit, 0)),
        )
        return [_group(row) for row in rows]

    # -- members ---------------------------------------------------------

    async def get_member(self, group_id: str, user_id: str) -> Member | None:
        """The membership, or None."""
        row = self.db.read_one(
            f"SELECT {_MEMBER} FROM members WHERE group_id = ? AND user_id = ?",
            (group_id, user_id),
        )
        return _member(row) if row is not None else None

    async def list_members(
        self, group_id: str, *, after: MemberKey | None = None, limit: int | None = None
    ) -> list[Member]:
        """Members of a group ordered by (join time, user id), from after ``after``."""
        sql = f"SELECT {_MEMBER} FROM members WHERE group_id = ?"
        args: list[object] = [group_id]
        if after is not None:
            sql += " AND (joined_at, user_id) > (?, ?)"
            args += after
        sql += " ORDER BY joined_at, user_id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [_member(row) for row in self.db.read(sql, tuple(args))]

    async def count_members(self, group_id: str) -> int:
        """How many members a group has."""
        row = self.db.read_one("SELECT member_count FROM groups WHERE id = ?", (group_id,))
        return int(row[0]) if row is not None else 0

    async def member_group_ids(self, user_id: str) -> list[str]:
        """Ids of the groups a user belongs to, oldest membership first."""
        rows = self.db.read(
            "SELECT group_id FROM members WHERE user_id = ? ORDER BY joined_at, rowid",
            (user_id,),
        )
        return [row[0] for row in rows]

    async def add_member(self, member: Member) -> None:
        """Add a membership; ``Conflict(already_member)``, ``NotFound(group_not_found)``."""

        def fn(conn: sqlite3.Connection) -> None:
            _require_group(conn, member.group_id)
            _insert_member(conn, member)

        await self.db.write(fn)

    async def remove_member(self, group_id: str, user_id: str) -> bool:
        """Remove a membership; False if there was none."""

        def fn(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "DELETE FROM members WHERE group_id = ? AND user_id = ?", (group_id, user_id)
            )
            return cur.rowcount > 0

        return await self.db.write(fn)

    async def set_role(self, group_id: str, user_id: str, role: Role) -> Member:
        """Change a member's role; ``NotFound(not_member)`` if not a member."""

        def fn(conn: sqlite3.Connection) -> Member:
            return _member(
                _updated(
                    conn,
                    f"UPDATE members SET role = ? WHERE group_id = ? AND user_id = ? RETURNING {_MEMBER}",
                    (role.value, group_id, user_id),
                    NotFound("not a member of this group", code="not_member"),
                )
            )

        return await self.db.write(fn)

    async def transfer_owner(self, group_id: str, from_user: str, to_user: str) -> Group:
        """Make ``to_user`` owner and ``from_user`` admin; ``Conflict(not_owner)`` if stale."""

        def fn(conn: sqlite3.Connection) -> Group:
            rows = conn.execute("SELECT owner_id FROM groups WHERE id = ?", (group_id,)).fetchall()
            if not rows:
                raise NotFound("no such group", code="group_not_found")
            if rows[0][0] != from_user:
                raise Conflict("the group is not owned by this user", code="not_owner")
            update = "UPDATE members SET role = ? WHERE group_id = ? AND user_id = ?"
            if conn.execute(update, (Role.OWNER.value, group_id, to_user)).rowcount == 0:
                raise NotFound("the new owner is not a member", code="not_member")
            conn.execute(update, (Role.ADMIN.value, group_id, from_user))
            return _group(
                _updated(
                    conn,
                    f"UPDATE groups SET owner_id = ? WHERE id = ? RETURNING {_GROUP}",
                    (to_user, group_id),
                    NotFound("no such group", code="group_not_found"),
                )
            )

        return await self.db.write(fn)

    # -- bans ------------------------------------------------------------

    async def ban(self, group_id: str, user_id: str, by: str, now: int) -> None:
        """Ban a user and remove the membership if any (idempotent)."""

        def fn(conn: sqlite3.Connection) -> None:
            _require_group(conn, group_id)
            conn.execute(
                "DELETE FROM members WHERE group_id = ? AND user_id = ?", (group_id, user_id)
            )
            conn.execute(
                "INSERT INTO bans (group_id, user_id, banned_by, created_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (group_id, user_id, by, now),
            )

        await self.db.write(fn)

    async def unban(self, group_id: str, user_id: str) -> bool:
        """Lift a ban; False if there was none."""

        def fn(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "DELETE FROM bans WHERE group_id = ? AND user_id = ?", (group_id, user_id)
            )
            return cur.rowcount > 0

        return await self.db.write(fn)

    async def is_banned(self, group_id: str, user_id: str) -> bool:
        """Whether the user is banned from the group."""
        row = self.db.read_one(
            "SELECT 1 FROM bans WHERE group_id = ? AND user_id = ?", (group_id, user_id)
        )
        return row is not None

    # -- channels --------------------------------------------------------

    async def create_channel(self, channel: Channel) -> None:
        """Insert a channel and its conversation."""

        def fn(conn: sqlite3.Connection) -> None:
            _require_group(conn, channel.group_id)
            _insert_channel(conn, channel)

        await self.db.write(fn)

    async def get_channel(self, channel_id: str) -> Channel | None:
        """The channel, or None."""
        row = self.db.read_one(f"SELECT {_CHANNEL} FROM channels WHERE id = ?", (channel_id,))
        return _channel(row) if row is not None else None

    async def list_channels(self, group_id: str) -> list[Channel]:
        """Channels of a group ordered by position."""
        return [_channel(row) for row in self.db.read(_CHANNELS_OF, (group_id,))]

    async def update_channel(
        self, channel_id: str, *, name: str | None = None, topic: str | None = None
    ) -> Channel:
        """Change the fields that are not None; ``NotFound(channel_not_found)``."""

        def fn(conn: sqlite3.Connection) -> Channel:
            return _channel(
                _updated(
                    conn,
                    "UPDATE channels SET name = coalesce(?, name), topic = coalesce(?, topic)"
                    f" WHERE id = ? RETURNING {_CHANNEL}",
                    (name, topic, channel_id),
                    NotFound("no such channel", code="channel_not_found"),
                )
            )

        return await self.db.write(fn)

    async def delete_channel(self, channel_id: str) -> None:
        """Delete a channel, its conversation and (by cascade) its messages."""

        def fn(conn: sqlite3.Connection) -> None:
            if conn.execute("DELETE FROM channels WHERE id = ?", (channel_id,)).rowcount == 0:
                raise NotFound("no such channel", code="channel_not_found")
            conn.execute(
                "DELETE FROM conversations WHERE id = ? AND kind = ?",
                (channel_id, ConversationKind.CHANNEL.value),
            )

        await self.db.write(fn)

    async def reorder_channels(self, group_id: str, channel_ids: Sequence[str]) -> list[Channel]:
        """Set positions 0..n-1 in the given order; ``InvalidRequest`` unless exactly the group's."""
        wanted = list(channel_ids)

        def fn(conn: sqlite3.Connection) -> list[Channel]:
            _require_group(conn, group_id)
            rows = conn.execute(
                "SELECT id FROM channels WHERE group_id = ?", (group_id,)
            ).fetchall()
            existing = {row[0] for row in rows}
            if len(wanted) != len(set(wanted)) or set(wanted) != existing:
                raise InvalidRequest(
                    "the ids must be exactly the group's channels, once each",
                    code="bad_channel_order",
                )
            conn.executemany(
                "UPDATE channels SET position = ? WHERE id = ?",
                [(position, cid) for position, cid in enumerate(wanted)],
            )
            return [_channel(row) for row in conn.execute(_CHANNELS_OF, (group_id,))]

        return await self.db.write(fn)

    # -- invites ---------------------------------------------------------

    async def create_invite(self, invite: Invite) -> None:
        """Insert an invite; ``Conflict(invite_exists)``, ``NotFound(group_not_found)``."""

        def fn(conn: sqlite3.Connection) -> None:
            _require_group(conn, invite.group_id)
            try:
                conn.execute(
                    f"INSERT INTO invites ({_INVITE}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        invite.code,
                        invite.group_id,
                        invite.created_by,
                        invite.created_at,
                        invite.expires_at,
                        invite.max_uses,
                        invite.uses,
                        int(invite.revoked),
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise Conflict("this invite code exists", code="invite_exists") from exc

        await self.db.write(fn)

    async def get_invite(self, code: str) -> Invite | None:
        """The invite, or None."""
        row = self.db.read_one(f"SELECT {_INVITE} FROM invites WHERE code = ?", (code,))
        return _invite(row) if row is not None else None

    async def list_invites(self, group_id: str) -> list[Invite]:
        """A group's invites, newest first."""
        rows = self.db.read(
            f"SELECT {_INVITE} FROM invites WHERE group_id = ?"
            " ORDER BY created_at DESC, rowid DESC",
            (group_id,),
        )
        return [_invite(row) for row in rows]

    async def revoke_invite(self, code: str) -> Invite:
        """Mark an invite revoked; ``NotFound(invite_not_found)``."""

        def fn(conn: sqlite3.Connection) -> Invite:
            return _invite(
                _updated(
                    conn,
                    f"UPDATE invites SET revoked = 1 WHERE code = ? RETURNING {_INVITE}",
                    (code,),
                    NotFound("no such invite", code="invite_not_found"),
                )
            )

        return await self.db.write(fn)

    async def join_with_invite(self, code: str, user_id: str, now: int) -> Member:
        """Check the invite and the user, count a use and add the member, atomically."""

        def fn(conn: sqlite3.Connection) -> Member:
            rows = conn.execute(f"SELECT {_INVITE} FROM invites WHERE code = ?", (code,)).fetchall()
            if not rows or not _invite(rows[0]).usable(now):
                raise NotFound("this invite is unknown, expired or used up", code="invite_invalid")
            group_id = rows[0]["group_id"]
            if conn.execute(
                "SELECT 1 FROM bans WHERE group_id = ? AND user_id = ?", (group_id, user_id)
            ).fetchall():
                raise Forbidden("you are banned from this group", code="banned")
            member = Member(group_id=group_id, user_id=user_id, role=Role.MEMBER, joined_at=now)
            _insert_member(conn, member)
            conn.execute("UPDATE invites SET uses = uses + 1 WHERE code = ?", (code,))
            return member

        return await self.db.write(fn)
