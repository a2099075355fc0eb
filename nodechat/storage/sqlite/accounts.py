"""SQLite accounts: users, login sessions and refresh tokens."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Sequence

from nodechat.errors import Conflict, NotFound
from nodechat.models import AuthSession, User
from nodechat.storage.base import AccountStore, RefreshOutcome, RefreshResult
from nodechat.storage.sqlite.engine import Database

USER_COLUMNS = "id, username, email, display_name, about, created_at, disabled, is_admin"
_SESSION = "id, user_id, created_at, expires_at, revoked_at, user_agent, address"


def user_from_row(row: sqlite3.Row) -> User:
    """The user a stored row holds (no password hash)."""
    return User(
        id=row["id"],
        username=row["username"],
        email=row["email"],
        display_name=row["display_name"],
        about=row["about"],
        created_at=row["created_at"],
        disabled=bool(row["disabled"]),
        is_admin=bool(row["is_admin"]),
    )


def _session(row: sqlite3.Row) -> AuthSession:
    return AuthSession(
        id=row["id"],
        user_id=row["user_id"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        user_agent=row["user_agent"],
        address=row["address"],
    )


def _key(value: str) -> str:
    """The form usernames and emails are compared in."""
    return value.lower()


def _updated_user(conn: sqlite3.Connection, sql: str, params: Sequence[object]) -> User:
    """Run an ``UPDATE users ... RETURNING`` and return the user, or raise NotFound."""
    rows = conn.execute(sql, params).fetchall()
    if not rows:
        raise NotFound("no such user", code="user_not_found")
    return user_from_row(rows[0])


class SqliteAccountStore(AccountStore):
    """Accounts on a shared :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- users -----------------------------------------------------------

    async def create_user(self, user: User, password_hash: str) -> None:
        """Insert a user; ``Conflict`` if the username or email is taken."""
        username_key, email_key = _key(user.username), _key(user.email)

        def fn(conn: sqlite3.Connection) -> None:
            taken = conn.execute(
                "SELECT username_key = ? FROM users WHERE username_key = ? OR email_key = ?"
                " ORDER BY 1 DESC LIMIT 1",
                (username_key, username_key, email_key),
            ).fetchall()
            if taken:
                if taken[0][0]:
                    raise Conflict("this username is taken", code="username_taken")
                raise Conflict("this email is already registered", code="email_taken")
            try:
                conn.execute(
                    "INSERT INTO users (id, username, username_key, email, email_key,"
                    " display_name, about, password_hash, created_at, disabled, is_admin)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        user.id,
                        user.username,
                        username_key,
                        user.email,
                        email_key,
                        user.display_name,
                        user.about,
                        password_hash,
                        user.created_at,
                        int(user.disabled),
                        int(user.is_admin),
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise Conflict("a user with this id exists", code="user_exists") from exc

        await self.db.write(fn)

    async def get_user(self, user_id: str) -> User | None:
        """The user with this id, or None."""
        row = self.db.read_one(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (user_id,))
        return user_from_row(row) if row is not None else None

    async def get_users(self, user_ids: Sequence[str]) -> list[User]:
        """The users that exist among ``user_ids``."""
        if not user_ids:
            return []
        rows = self.db.read(
            f"SELECT {USER_COLUMNS} FROM users WHERE id IN (SELECT value FROM json_each(?))",
            (_json_list(user_ids),),
        )
        return [user_from_row(row) for row in rows]

    async def find_user(self, login: str) -> tuple[User, str] | None:
        """The user whose username or email matches ``login``, with its password hash."""
        key = _key(login)
        row = self.db.read_one(
            f"SELECT {USER_COLUMNS}, password_hash FROM users WHERE username_key = ? OR email_key = ?"
            " ORDER BY username_key = ? DESC LIMIT 1",
            (key, key, key),
        )
        if row is None:
            return None
        return user_from_row(row), row["password_hash"]

    async def get_password_hash(self, user_id: str) -> str | None:
        """The stored password hash of a user, or None."""
        row = self.db.read_one("SELECT password_hash FROM users WHERE id = ?", (user_id,))
        return row["password_hash"] if row is not None else None

    async def update_profile(
        self, user_id: str, *, display_name: str | None = None, about: str | None = None
    ) -> User:
        """Change the profile fields that are not None."""

        def fn(conn: sqlite3.Connection) -> User:
            return _updated_user(
                conn,
                "UPDATE users SET display_name = coalesce(?, display_name),"
                f" about = coalesce(?, about) WHERE id = ? RETURNING {USER_COLUMNS}",
                (display_name, about, user_id),
            )

        return await self.db.write(fn)

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        """Replace the password hash; ``NotFound`` if no such user."""

        def fn(conn: sqlite3.Connection) -> None:
            _updated_user(
                conn,
                f"UPDATE users SET password_hash = ? WHERE id = ? RETURNING {USER_COLUMNS}",
                (password_hash, user_id),
            )

        await self.db.write(fn)

    async def set_disabled(self, user_id: str, disabled: bool) -> User:
        """Disable or enable an account."""

        def fn(conn: sqlite3.Connection) -> User:
            return _updated_user(
                conn,
                f"UPDATE users SET disabled = ? WHERE id = ? RETURNING {USER_COLUMNS}",
                (int(disabled), user_id),
            )

        return await self.db.write(fn)

    async def set_admin(self, user_id: str, is_admin: bool) -> User:
        """Grant or revoke server admin."""

        def fn(conn: sqlite3.Connection) -> User:
            return _updated_user(
                conn,
                f"UPDATE users SET is_admin = ? WHERE id = ? RETURNING {USER_COLUMNS}",
                (int(is_admin), user_id),
            )

        return await self.db.write(fn)

    async def list_users(self, *, after: str | None = None, limit: int = 100) -> list[User]:
        """Users ordered by id, starting after ``after``."""
        rows = self.db.read(
            f"SELECT {USER_COLUMNS} FROM users WHERE id > ? ORDER BY id LIMIT ?",
            (after or "", max(limit, 0)),
        )
        return [user_from_row(row) for row in rows]

    async def count_users(self) -> int:
        """How many accounts exist."""
        row = self.db.read_one("SELECT count(*) FROM users")
        return int(row[0]) if row is not None else 0

    # -- sessions --------------------------------------------------------

    async def create_session(
        self, session: AuthSession, refresh_hash: str, refresh_expires_at: int
    ) -> None:
        """Store a new session with its first refresh token hash."""

        def fn(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    f"INSERT INTO sessions ({_SESSION}) VALUES (?, ?, ?, ?, ?, ?, ?)",
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
            except sqlite3.IntegrityError as exc:
                raise Conflict("a session with this id exists", code="session_exists") from exc
            _insert_refresh(conn, refresh_hash, session.id, refresh_expires_at)

        await self.db.write(fn)

    async def get_session(self, session_id: str) -> AuthSession | None:
        """The session with this id, or None."""
        row = self.db.read_one(f"SELECT {_SESSION} FROM sessions WHERE id = ?", (session_id,))
        return _session(row) if row is not None else None

    async def list_sessions(
        self, user_id: str, *, active_at: int | None = None
    ) -> list[AuthSession]:
        """A user's sessions, oldest first; only the active ones when ``active_at`` is given."""
        if active_at is None:
            rows = self.db.read(
                f"SELECT {_SESSION} FROM sessions WHERE user_id = ? ORDER BY created_at, id",
                (user_id,),
            )
        else:
            rows = self.db.read(
                f"SELECT {_SESSION} FROM sessions WHERE user_id = ? AND revoked_at IS NULL"
                " AND expires_at > ? ORDER BY created_at, id",
                (user_id, active_at),
            )
        return [_session(row) for row in rows]

    async def rotate_refresh(
        self, refresh_hash: str, new_hash: str, new_expires_at: int, now: int
    ) -> RefreshResult:
        """Spend a refresh token and store its successor; a replayed token revokes the session."""

        def fn(conn: sqlite3.Connection) -> RefreshResult:
            token = conn.execute(
                "SELECT session_id, expires_at, used_at FROM refresh_tokens WHERE hash = ?",
                (refresh_hash,),
            ).fetchall()
            if not token:
                return RefreshResult(RefreshOutcome.INVALID)
            session_id, expires_at, used_at = token[0]
            rows = conn.execute(
                f"SELECT {_SESSION} FROM sessions WHERE id = ?", (session_id,)
            ).fetchall()
            if not rows:
                return RefreshResult(RefreshOutcome.INVALID)
            session = _session(rows[0])
            if used_at is not None:
                # A spent token presented again: whoever holds the family is suspect.
                if session.revoked_at is None:
                    conn.execute(
                        "UPDATE sessions SET revoked_at = ? WHERE id = ?", (now, session.id)
                    )
                    session = dataclasses.replace(session, revoked_at=now)
                return RefreshResult(RefreshOutcome.REUSED, session)
            if now >= expires_at or not session.active(now):
                return RefreshResult(RefreshOutcome.INVALID)
            conn.execute(
                "UPDATE refresh_tokens SET used_at = ? WHERE hash = ?", (now, refresh_hash)
            )
            _insert_refresh(conn, new_hash, session.id, new_expires_at)
            return RefreshResult(RefreshOutcome.ROTATED, session)

        return await self.db.write(fn)

    async def revoke_session(self, session_id: str, now: int) -> bool:
        """Revoke one session; False if unknown or already revoked."""

        def fn(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (now, session_id),
            )
            return cur.rowcount > 0

        return await self.db.write(fn)

    async def revoke_user_sessions(
        self, user_id: str, now: int, *, keep: str | None = None
    ) -> list[str]:
        """Revoke every active session of a user except ``keep``; return the revoked ids."""

        def fn(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL"
                " AND expires_at > ? AND id IS NOT ? RETURNING id",
                (now, user_id, now, keep),
            ).fetchall()
            return sorted(row[0] for row in rows)

        return await self.db.write(fn)


def _insert_refresh(
    conn: sqlite3.Connection, token_hash: str, session_id: str, expires_at: int
) -> None:
    try:
        conn.execute(
            "INSERT INTO refresh_tokens (hash, session_id, expires_at) VALUES (?, ?, ?)",
            (token_hash, session_id, expires_at),
        )
    except sqlite3.IntegrityError as exc:
        raise Conflict("this refresh token exists", code="refresh_token_exists") from exc


def _json_list(values: Sequence[str]) -> str:
    """A JSON array of strings, for ``json_each(?)``: one parameter however many ids."""
    return json.dumps(list(values))
