"""PostgreSQL bulk writes: each call is one writer job (a savepoint of one commit), its rows
sent with ``executemany`` in one pipelined round trip."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import errors

from nodechat.errors import Conflict, NotFound
from nodechat.models import Member, User
from nodechat.storage.bulk import BulkStore, NewSession
from nodechat.storage.postgres.accounts import USER_COLUMNS, user_from_row
from nodechat.storage.postgres.engine import Conn, Database, rows


class PostgresBulkStore(BulkStore):
    """Bulk writes on a shared :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def find_users(self, usernames: Sequence[str]) -> list[tuple[User, str]]:
        """The users with these usernames (case-insensitive), with their password hashes."""
        if not usernames:
            return []
        found = await self.db.read(
            f"SELECT {USER_COLUMNS}, password_hash FROM users WHERE lower(username) = ANY(%s)",
            ([name.lower() for name in usernames],),
        )
        return [(user_from_row(row), row["password_hash"]) for row in found]

    async def create_users(self, users: Sequence[User], password_hash: str) -> int:
        """Insert users sharing one hash, skipping taken ids, usernames and emails."""
        values = [
            (
                u.id,
                u.username,
                u.email,
                u.display_name,
                u.about,
                password_hash,
                u.created_at,
                u.disabled,
                u.is_admin,
            )
            for u in users
        ]

        async def fn(conn: Conn) -> int:
            cur = conn.cursor()
            # No conflict target: a row that breaks any unique index (id, lower(username),
            # lower(email)) is skipped.
            await cur.executemany(
                "INSERT INTO users (id, username, email, display_name, about, password_hash,"
                " created_at, disabled, is_admin) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                values,
            )
            return cur.rowcount

        return await self.db.write(fn) if values else 0

    async def add_members(self, members: Sequence[Member]) -> int:
        """Insert memberships, skipping existing ones; NotFound if a group is missing."""
        if not members:
            return 0
        group_ids = sorted({m.group_id for m in members})
        values = [(m.group_id, m.user_id, m.role.value, m.joined_at) for m in members]

        async def fn(conn: Conn) -> int:
            found = await rows(
                conn, "SELECT count(*) AS n FROM groups WHERE id = ANY(%s)", (group_ids,)
            )
            if found[0]["n"] != len(group_ids):
                raise NotFound("no such group", code="group_not_found")
            cur = conn.cursor()
            await cur.executemany(
                "INSERT INTO members (group_id, user_id, role, joined_at)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                values,
            )
            return cur.rowcount

        return await self.db.write(fn)

    async def create_sessions(self, sessions: Sequence[NewSession]) -> None:
        """Store sessions and their first refresh tokens in one transaction."""
        if not sessions:
            return
        values = [
            (
                n.session.id,
                n.session.user_id,
                n.session.created_at,
                n.session.expires_at,
                n.session.revoked_at,
                n.session.user_agent,
                n.session.address,
            )
            for n in sessions
        ]
        tokens = [(n.refresh_hash, n.session.id, n.refresh_expires_at) for n in sessions]

        async def fn(conn: Conn) -> None:
            cur = conn.cursor()
            try:
                await cur.executemany(
                    "INSERT INTO sessions (id, user_id, created_at, expires_at, revoked_at,"
                    " user_agent, address) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    values,
                )
            except errors.UniqueViolation as exc:
                raise Conflict("a session with this id exists", code="session_exists") from exc
            try:
                await cur.executemany(
                    "INSERT INTO refresh_tokens (hash, session_id, expires_at) VALUES (%s, %s, %s)",
                    tokens,
                )
            except errors.UniqueViolation as exc:
                raise Conflict("this refresh token exists", code="refresh_token_exists") from exc

        await self.db.write(fn)
