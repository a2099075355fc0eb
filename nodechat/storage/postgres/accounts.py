"""PostgreSQL accounts: users, login sessions and refresh tokens."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from psycopg import errors
from psycopg.rows import DictRow

from nodechat.errors import Conflict, NotFound
from nodechat.models import AuthSession, User
from nodechat.storage.base import AccountStore, RefreshOutcome, RefreshResult
from nodechat.storage.postgres.engine import Conn, Database, rowcount, rows

USER_COLUMNS = "id, username, email, display_name, about, created_at, disabled, is_admin"
_SESSION = "id, user_id, created_at, expires_at, revoked_at, user_agent, address"
# Which Conflict a unique index stands for (a race the pre-check in create_user lost).
_USER_CONFLICTS = {
    "users_username_key": Conflict("this username is taken", code="username_taken"),
    "users_email_key": Conflict("this email is already registered", code="email_taken"),
}


def user_from_row(row: DictRow) -> User:
    """The user a stored row holds (no password hash)."""
    return User(
        id=row["id"],
        username=row["username"],
        email=row["email"],
        display_name=row["display_name"],
        about=row["about"],
        created_at=row["created_at"],
        disabled=row["disabled"],
        is_admin=row["is_admin"],
    )


def _session(row: DictRow) -> AuthSession:
    return AuthSession(
        id=row["id"],
        user_id=row["user_id"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        user_agent=row["user_agent"],
        address=row["address"],
    )


async def _updated_user(conn: Conn, sql: str, params: Sequence[Any]) -> User:
    """Run an ``UPDATE users ... RETURNING`` and return the user, or raise NotFound."""
    found = await rows(conn, sql, params)
    if not found:
        raise NotFound("no such user", code="user_not_found")
    return user_from_row(found[0])


class PostgresAccountStore(AccountStore):
    """Accounts on a shared :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- users -----------------------------------------------------------

    async def create_user(self, user: User, password_hash: str) -> None:
        """Insert a user; ``Conflict`` if the username or email is taken (case-insensitive)."""

        async def fn(conn: Conn) -> None:
            taken = await rows(
                conn,
                "SELECT lower(username) = lower(%s) AS by_name FROM users"
                " WHERE lower(username) = lower(%s) OR lower(email) = lower(%s)"
                " ORDER BY 1 DESC LIMIT 1",
                (user.username, user.username, user.email),
            )
            if taken:
                raise _USER_CONFLICTS[
                    "users_username_key" if taken[0]["by_name"] else "users_email_key"
                ]
            try:
                await conn.execute(
                    "INSERT INTO users (id, username, email, display_name, about, password_hash,"
                    " created_at, disabled, is_admin) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        user.id,
                        user.username,
                        user.email,
                        user.display_name,
                        user.about,
                        password_hash,
                        user.created_at,
                        user.disabled,
                        user.is_admin,
                    ),
                )
            except errors.UniqueViolation as exc:
                conflict = _USER_CONFLICTS.get(exc.diag.constraint_name or "")
                if conflict is None:
                    conflict = Conflict("a user with this id exists", code="user_exists")
                raise conflict from exc

        await self.db.write(fn)

    async def get_user(self, user_id: str) -> User | None:
        """The user with this id, or None."""
        row = await self.db.read_one(f"SELECT {USER_COLUMNS} FROM users WHERE id = %s", (user_id,))
        return user_from_row(row) if row is not None else None

    async def get_users(self, user_ids: Sequence[str]) -> list[User]:
        """The users that exist among ``user_ids``."""
        if not user_ids:
            return []
        found = await self.db.read(
            f"SELECT {USER_COLUMNS} FROM users WHERE id = ANY(%s)", (list(user_ids),)
        )
        return [user_from_row(row) for row in found]

    async def find_user(self, login: str) -> tuple[User, str] | None:
        """The user whose username or email matches ``login``, with its password hash."""
        row = await self.db.read_one(
            f"SELECT {USER_COLUMNS}, password_hash FROM users"
            " WHERE lower(username) = lower(%s) OR lower(email) = lower(%s)"
            " ORDER BY lower(username) = lower(%s) DESC LIMIT 1",
            (login, login, login),
        )
        if row is None:
            return None
        return user_from_row(row), row["password_hash"]

    async def get_password_hash(self, user_id: str) -> str | None:
        """The stored password hash of a user, or None."""
        row = await self.db.read_one("SELECT password_hash FROM users WHERE id = %s", (user_id,))
        return row["password_hash"] if row is not None else None

    async def update_profile(
        self, user_id: str, *, display_name: str | None = None, about: str | None = None
    ) -> User:
        """Change the profile fields that are not None."""

        async def fn(conn: Conn) -> User:
            return await _updated_user(
                conn,
                "UPDATE users SET display_name = coalesce(%s, display_name),"
                f" about = coalesce(%s, about) WHERE id = %s RETURNING {USER_COLUMNS}",
                (display_name, about, user_id),
            )

        return await self.db.write(fn)

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        """Replace the password hash; ``NotFound`` if no such user."""

        async def fn(conn: Conn) -> None:
            await _updated_user(
                conn,
                f"UPDATE users SET password_hash = %s WHERE id = %s RETURNING {USER_COLUMNS}",
                (password_hash, user_id),
            )

        await self.db.write(fn)

    async def set_disabled(self, user_id: str, disabled: bool) -> User:
        """Disable or enable an account."""

        async def fn(conn: Conn) -> User:
            return await _updated_user(
                conn,
                f"UPDATE users SET disabled = %s WHERE id = %s RETURNING {USER_COLUMNS}",
                (disabled, user_id),
            )

        return await self.db.write(fn)

    async def set_admin(self, user_id: str, is_admin: bool) -> User:
        """Grant or revoke server admin."""

        async def fn(conn: Conn) -> User:
            return await _updated_user(
                conn,
                f"UPDATE users SET is_admin = %s WHERE id = %s RETURNING {USER_COLUMNS}",
                (is_admin, user_id),
            )

        return await self.db.write(fn)

    async def list_users(self, *, after: str | None = None, limit: int = 100) -> list[User]:
        """Users ordered by id, starting after ``after``."""
        found = await self.db.read(
            f"SELECT {USER_COLUMNS} FROM users WHERE id > %s ORDER BY id LIMIT %s",
            (after or "", max(limit, 0)),
        )
        return [user_from_row(row) for row in found]

    async def count_users(self) -> int:
        """How many accounts exist."""
        row = await self.db.read_one("SELECT count(*) AS n FROM users")
        return int(row["n"]) if row is not None else 0

    # -- sessions --------------------------------------------------------

    async def create_session(
        self, session: AuthSession, refresh_hash: str, refresh_expires_at: int
    ) -> None:
        """Store a new session with its first refresh token hash."""

        async def fn(conn: Conn) -> None:
            try:
                await conn.execute(
                    f"INSERT INTO sessions ({_SESSION}) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    (
                        session.id,
                        session.user_id,
                        session.created_at,
                        session.expires_at,
                        session.revoked_at,
                        session.user_agent,
                        session.address,
                    ),
                )
            except errors.UniqueViolation as exc:
                raise Conflict("a session with this id exists", code="session_exists") from exc
            await _insert_refresh(conn, refresh_hash, session.id, refresh_expires_at)

        await self.db.write(fn)

    async def get_session(self, session_id: str) -> AuthSession | None:
        """The session with this id, or None."""
        row = await self.db.read_one(
            f"SELECT {_SESSION} FROM sessions WHERE id = %s", (session_id,)
        )
        return _session(row) if row is not None else None

    async def list_sessions(
        self, user_id: str, *, active_at: int | None = None
    ) -> list[AuthSession]:
        """A user's sessions, oldest first; only the active ones when ``active_at`` is given."""
        if active_at is None:
            found = await self.db.read(
                f"SELECT {_SESSION} FROM sessions WHERE user_id = %s ORDER BY created_at, id",
                (user_id,),
            )
        else:
            found = await self.db.read(
                f"SELECT {_SESSION} FROM sessions WHERE user_id = %s AND revoked_at IS NULL"
                " AND expires_at > %s ORDER BY created_at, id",
                (user_id, active_at),
            )
        return [_session(row) for row in found]

    async def rotate_refresh(
        self, refresh_hash: str, new_hash: str, new_expires_at: int, now: int
    ) -> RefreshResult:
        """Spend a refresh token and store its successor; a replayed token revokes the session."""

        async def fn(conn: Conn) -> RefreshResult:
            # FOR UPDATE: two replicas presenting one token at once take turns, so only
            # one of them can see it unspent.
            token = await rows(
                conn,
                "SELECT session_id, expires_at, used_at FROM refresh_tokens WHERE hash = %s"
                " FOR UPDATE",
                (refresh_hash,),
            )
            if not token:
                return RefreshResult(RefreshOutcome.INVALID)
            found = await rows(
                conn, f"SELECT {_SESSION} FROM sessions WHERE id = %s", (token[0]["session_id"],)
            )
            if not found:
                return RefreshResult(RefreshOutcome.INVALID)
            session = _session(found[0])
            if token[0]["used_at"] is not None:
                # A spent token presented again: whoever holds the family is suspect.
                if session.revoked_at is None:
                    await conn.execute(
                        "UPDATE sessions SET revoked_at = %s WHERE id = %s", (now, session.id)
                    )
                    session = dataclasses.replace(session, revoked_at=now)
                return RefreshResult(RefreshOutcome.REUSED, session)
            if now >= token[0]["expires_at"] or not session.active(now):
                return RefreshResult(RefreshOutcome.INVALID)
            await conn.execute(
                "UPDATE refresh_tokens SET used_at = %s WHERE hash = %s", (now, refresh_hash)
            )
            await _insert_refresh(conn, new_hash, session.id, new_expires_at)
            return RefreshResult(RefreshOutcome.ROTATED, session)

        return await self.db.write(fn)

    async def revoke_session(self, session_id: str, now: int) -> bool:
        """Revoke one session; False if unknown or already revoked."""

        async def fn(conn: Conn) -> bool:
            return (
                await rowcount(
                    conn,
                    "UPDATE sessions SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL",
                    (now, session_id),
                )
                > 0
            )

        return await self.db.write(fn)

    async def revoke_user_sessions(
        self, user_id: str, now: int, *, keep: str | None = None
    ) -> list[str]:
        """Revoke every active session of a user except ``keep``; return the revoked ids."""

        async def fn(conn: Conn) -> list[str]:
            found = await rows(
                conn,
                "UPDATE sessions SET revoked_at = %s WHERE user_id = %s AND revoked_at IS NULL"
                " AND expires_at > %s AND id IS DISTINCT FROM %s RETURNING id",
                (now, user_id, now, keep),
            )
            return sorted(row["id"] for row in found)

        return await self.db.write(fn)


async def _insert_refresh(conn: Conn, token_hash: str, session_id: str, expires_at: int) -> None:
    try:
        await conn.execute(
            "INSERT INTO refresh_tokens (hash, session_id, expires_at) VALUES (%s, %s, %s)",
            (token_hash, session_id, expires_at),
        )
    except errors.UniqueViolation as exc:
        raise Conflict("this refresh token exists", code="refresh_token_exists") from exc
