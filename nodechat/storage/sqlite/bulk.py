"""SQLite bulk writes: each call is one writer job, so one chunk is one transaction."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from nodechat.errors import Conflict, NotFound
from nodechat.models import Member, User
from nodechat.storage.bulk import BulkStore, NewSession
from nodechat.storage.sqlite.accounts import USER_COLUMNS, user_from_row
from nodechat.storage.sqlite.engine import Database


def _json_list(values: Sequence[str]) -> str:
    """A JSON array of strings, for ``json_each(?)``: one parameter however many values."""
    return json.dumps(list(values))


class SqliteBulkStore(BulkStore):
    """Bulk writes on a shared :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def find_users(self, usernames: Sequence[str]) -> list[tuple[User, str]]:
        """The users with these usernames (case-insensitive), with their password hashes."""
        if not usernames:
            return []
        rows = self.db.read(
            f"SELECT {USER_COLUMNS}, password_hash FROM users"
            " WHERE username_key IN (SELECT value FROM json_each(?))",
            (_json_list([name.lower() for name in usernames]),),
        )
        return [(user_from_row(row), row["password_hash"]) for row in rows]

    async def create_users(self, users: Sequence[User], password_hash: str) -> int:
        """Insert users sharing one hash, skipping taken ids, usernames and emails."""
        values = [
            (
                u.id,
                u.username,
                u.username.lower(),
                u.email,
                u.email.lower(),
                u.display_name,
                u.about,
                password_hash,
                u.created_at,
                int(u.disabled),
                int(u.is_admin),
            )
            for u in users
        ]

        def fn(conn: sqlite3.Connection) -> int:
            before = conn.total_changes
            # OR IGNORE skips a row that breaks any unique index: id, username_key, email_key.
            conn.executemany(
                "INSERT OR IGNORE INTO users (id, username, username_key, email, email_key,"
                " display_name, about, password_hash, created_at, disabled, is_admin)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            return conn.total_changes - before

        return await self.db.write(fn) if values else 0

    async def add_members(self, members: Sequence[Member]) -> int:
        """Insert memberships, skipping existing ones; NotFound if a group is missing."""
        if not members:
            return 0
        group_ids = sorted({m.group_id for m in members})
        values = [(m.group_id, m.user_id, m.role.value, m.joined_at) for m in members]

        def fn(conn: sqlite3.Connection) -> int:
            found = conn.execute(
                "SELECT count(*) FROM groups WHERE id IN (SELECT value FROM json_each(?))",
                (_json_list(group_ids),),
            ).fetchone()[0]
            if found != len(group_ids):
                raise NotFound("no such group", code="group_not_found")
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO members (group_id, user_id, role, joined_at)"
                " VALUES (?, ?, ?, ?)",
                values,
            )
            return conn.total_changes - before

        return await self.db.write(fn)

    async def create_sessions(self, sessions: Sequence[NewSession]) -> None:
        """Store sessions and their first refresh tokens in one transaction."""
        if not sessions:
            return
        rows = [
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

        def fn(conn: sqlite3.Connection) -> None:
            try:
                conn.executemany(
                    "INSERT INTO sessions (id, user_id, created_at, expires_at, revoked_at,"
                    " user_agent, address) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
            except sqlite3.IntegrityError as exc:
                raise Conflict("a session with this id exists", code="session_exists") from exc
            try:
                conn.executemany(
                    "INSERT INTO refresh_tokens (hash, session_id, expires_at) VALUES (?, ?, ?)",
                    tokens,
                )
            except sqlite3.IntegrityError as exc:
                raise Conflict("this refresh token exists", code="refresh_token_exists") from exc

        await self.db.write(fn)
