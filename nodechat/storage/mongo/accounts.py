"""MongoDB accounts: users, login sessions and refresh tokens.

Each method is one or a few single-document atomic operations. Where SQLite
uses one transaction over several rows (a session with its first refresh
token, rotating a refresh token), the steps run in an order whose partial
result is harmless, as each method's docstring says.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from nodechat.errors import Conflict, NotFound
from nodechat.models import AuthSession, User
from nodechat.storage.base import AccountStore, RefreshOutcome, RefreshResult
from nodechat.storage.mongo.engine import Db, Document, Engine

_NO_USER = NotFound("no such user", code="user_not_found")
_PUBLIC = {"password_hash": 0}  # the user fields a read returns (hashes only on request)


def user_from_document(doc: Document) -> User:
    """The user a stored document holds (no password hash)."""
    return User(
        id=doc["_id"],
        username=doc["username"],
        email=doc["email"],
        display_name=doc["display_name"],
        about=doc["about"],
        created_at=doc["created_at"],
        disabled=bool(doc["disabled"]),
        is_admin=bool(doc["is_admin"]),
    )


def _session(doc: Document) -> AuthSession:
    return AuthSession(
        id=doc["_id"],
        user_id=doc["user_id"],
        created_at=doc["created_at"],
        expires_at=doc["expires_at"],
        revoked_at=doc.get("revoked_at"),
        user_agent=doc.get("user_agent", ""),
        address=doc.get("address", ""),
    )


def user_document(user: User, password_hash: str) -> Document:
    """A user as stored, with its case-folded lookup keys."""
    return {
        "_id": user.id,
        "username": user.username,
        "username_key": user.username.lower(),
        "email": user.email,
        "email_key": user.email.lower(),
        "display_name": user.display_name,
        "about": user.about,
        "password_hash": password_hash,
        "created_at": user.created_at,
        "disabled": user.disabled,
        "is_admin": user.is_admin,
    }


def _taken(db: Db, username_key: str, email_key: str) -> Conflict | None:
    """The conflict a new user with these keys would hit, username first."""
    if db.users.find_one({"username_key": username_key}, {"_id": 1}) is not None:
        return Conflict("this username is taken", code="username_taken")
    if db.users.find_one({"email_key": email_key}, {"_id": 1}) is not None:
        return Conflict("this email is already registered", code="email_taken")
    return None


def _update_user(db: Db, user_id: str, changes: Document) -> User:
    """Apply ``$set`` changes and return the user; NotFound if none."""
    if changes:
        doc = db.users.find_one_and_update(
            {"_id": user_id},
            {"$set": changes},
            projection=_PUBLIC,
            return_document=ReturnDocument.AFTER,
        )
    else:
        doc = db.users.find_one({"_id": user_id}, _PUBLIC)
    if doc is None:
        raise _NO_USER
    return user_from_document(doc)


class MongoAccountStore(AccountStore):
    """Accounts in the ``users``, ``sessions`` and ``refresh_tokens`` collections."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- users -----------------------------------------------------------

    async def create_user(self, user: User, password_hash: str) -> None:
        """Insert a user; ``Conflict(username_taken|email_taken|user_exists)``.

        The unique indexes decide a race between two sign-ups; the check
        before the insert only picks the error code (username before email).
        """
        doc = user_document(user, password_hash)

        def fn(db: Db) -> None:
            conflict = _taken(db, doc["username_key"], doc["email_key"])
            if conflict is not None:
                raise conflict
            try:
                db.users.insert_one(doc)
            except DuplicateKeyError as exc:
                conflict = _taken(db, doc["username_key"], doc["email_key"])
                raise conflict or Conflict(
                    "a user with this id exists", code="user_exists"
                ) from exc

        await self.engine.run(fn)

    async def get_user(self, user_id: str) -> User | None:
        """The user with this id, or None."""
        doc = await self.engine.run(lambda db: db.users.find_one({"_id": user_id}, _PUBLIC))
        return user_from_document(doc) if doc is not None else None

    async def get_users(self, user_ids: Sequence[str]) -> list[User]:
        """The users that exist among ``user_ids``."""
        if not user_ids:
            return []
        ids = list(set(user_ids))
        docs = await self.engine.run(lambda db: list(db.users.find({"_id": {"$in": ids}}, _PUBLIC)))
        return [user_from_document(doc) for doc in docs]

    async def find_user(self, login: str) -> tuple[User, str] | None:
        """The user whose username (preferred) or email matches ``login``, with its hash."""
        key = login.lower()

        def fn(db: Db) -> Document | None:
            docs = list(
                db.users.find({"$or": [{"username_key": key}, {"email_key": key}]}, limit=2)
            )
            docs.sort(key=lambda doc: doc["username_key"] != key)  # a username match wins
            return docs[0] if docs else None

        doc = await self.engine.run(fn)
        return (user_from_document(doc), doc["password_hash"]) if doc is not None else None

    async def get_password_hash(self, user_id: str) -> str | None:
        """The stored password hash of a user, or None."""
        doc = await self.engine.run(
            lambda db: db.users.find_one({"_id": user_id}, {"password_hash": 1})
        )
        return doc["password_hash"] if doc is not None else None

    async def update_profile(
        self, user_id: str, *, display_name: str | None = None, about: str | None = None
    ) -> User:
        """Change the profile fields that are not None."""
        changes = {
            k: v for k, v in (("display_name", display_name), ("about", about)) if v is not None
        }
        return await self.engine.run(lambda db: _update_user(db, user_id, changes))

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        """Replace the password hash; ``NotFound`` if no such user."""
        await self.engine.run(
            lambda db: _update_user(db, user_id, {"password_hash": password_hash})
        )

    async def set_disabled(self, user_id: str, disabled: bool) -> User:
        """Disable or enable an account."""
        return await self.engine.run(lambda db: _update_user(db, user_id, {"disabled": disabled}))

    async def set_admin(self, user_id: str, is_admin: bool) -> User:
        """Grant or revoke server admin."""
        return await self.engine.run(lambda db: _update_user(db, user_id, {"is_admin": is_admin}))

    async def list_users(self, *, after: str | None = None, limit: int = 100) -> list[User]:
        """Users ordered by id, starting after ``after``."""
        if limit <= 0:  # MongoDB reads limit 0 as "no limit"
            return []
        docs = await self.engine.run(
            lambda db: list(
                db.users.find(
                    {"_id": {"$gt": after or ""}}, _PUBLIC, sort=[("_id", ASCENDING)], limit=limit
                )
            )
        )
        return [user_from_document(doc) for doc in docs]

    async def count_users(self) -> int:
        """How many accounts exist."""
        return await self.engine.run(lambda db: db.users.count_documents({}))

    # -- sessions --------------------------------------------------------

    async def create_session(
        self, session: AuthSession, refresh_hash: str, refresh_expires_at: int
    ) -> None:
        """Store a new session, then its first refresh token.

        If the token cannot be stored the session is deleted again. A crash
        between the two leaves a session without a refresh token: it can never
        be refreshed and simply expires, so nothing needs repair.
        """
        doc = {f.name: getattr(session, f.name) for f in dataclasses.fields(session)}
        doc["_id"] = doc.pop("id")

        def fn(db: Db) -> None:
            try:
                db.sessions.insert_one(doc)
            except DuplicateKeyError as exc:
                raise Conflict("a session with this id exists", code="session_exists") from exc
            try:
                _insert_refresh(db, refresh_hash, session.id, refresh_expires_at)
            except Exception:
                db.sessions.delete_one({"_id": session.id})
                raise

        await self.engine.run(fn)

    async def get_session(self, session_id: str) -> AuthSession | None:
        """The session with this id, or None."""
        doc = await self.engine.run(lambda db: db.sessions.find_one({"_id": session_id}))
        return _session(doc) if doc is not None else None

    async def list_sessions(
        self, user_id: str, *, active_at: int | None = None
    ) -> list[AuthSession]:
        """A user's sessions, oldest first; only the active ones when ``active_at`` is given."""
        query: Document = {"user_id": user_id}
        if active_at is not None:
            query |= {"revoked_at": None, "expires_at": {"$gt": active_at}}
        docs = await self.engine.run(
            lambda db: list(
                db.sessions.find(query, sort=[("created_at", ASCENDING), ("_id", ASCENDING)])
            )
        )
        return [_session(doc) for doc in docs]

    async def rotate_refresh(
        self, refresh_hash: str, new_hash: str, new_expires_at: int, now: int
    ) -> RefreshResult:
        """Spend a refresh token, then store its successor; a replayed token revokes the session.

        Spending is one conditional update (``used_at: None`` -> ``now``), so of
        two concurrent presentations of one token exactly one rotates and the
        other counts as reuse, as with SQLite. The successor is stored after
        the spend: a crash in between leaves the old token spent and no
        successor, so the client must log in again (it fails closed; it never
        leaves two live tokens in one family).
        """

        def fn(db: Db) -> RefreshResult:
            token = db.refresh_tokens.find_one({"_id": refresh_hash})
            if token is None:
                return RefreshResult(RefreshOutcome.INVALID)
            doc = db.sessions.find_one({"_id": token["session_id"]})
            if doc is None:
                return RefreshResult(RefreshOutcome.INVALID)
            session = _session(doc)
            if token.get("used_at") is not None:
                return _reused(db, session, now)
            if now >= token["expires_at"] or not session.active(now):
                return RefreshResult(RefreshOutcome.INVALID)
            spent = db.refresh_tokens.find_one_and_update(
                {"_id": refresh_hash, "used_at": None}, {"$set": {"used_at": now}}
            )
            if spent is None:  # a concurrent rotation spent it first: this is a replay
                return _reused(db, session, now)
            try:
                _insert_refresh(db, new_hash, session.id, new_expires_at)
            except Exception:
                db.refresh_tokens.update_one(
                    {"_id": refresh_hash, "used_at": now}, {"$set": {"used_at": None}}
                )
                raise
            return RefreshResult(RefreshOutcome.ROTATED, session)

        return await self.engine.run(fn)

    async def revoke_session(self, session_id: str, now: int) -> bool:
        """Revoke one session; False if unknown or already revoked."""
        result = await self.engine.run(
            lambda db: db.sessions.update_one(
                {"_id": session_id, "revoked_at": None}, {"$set": {"revoked_at": now}}
            )
        )
        return result.modified_count > 0

    async def revoke_user_sessions(
        self, user_id: str, now: int, *, keep: str | None = None
    ) -> list[str]:
        """Revoke every active session of a user except ``keep``; return the revoked ids.

        One conditional update per session, so the list holds exactly the
        sessions this call revoked, even with a concurrent revocation.
        """
        query: Document = {"user_id": user_id, "revoked_at": None, "expires_at": {"$gt": now}}
        if keep is not None:
            query["_id"] = {"$ne": keep}

        def fn(db: Db) -> list[str]:
            revoked = []
            for doc in db.sessions.find(query, {"_id": 1}):
                result = db.sessions.update_one(
                    {"_id": doc["_id"], "revoked_at": None}, {"$set": {"revoked_at": now}}
                )
                if result.modified_count:
                    revoked.append(doc["_id"])
            return sorted(revoked)

        return await self.engine.run(fn)


def _reused(db: Db, session: AuthSession, now: int) -> RefreshResult:
    """Revoke the session of a replayed token (if still live) and report the reuse."""
    if session.revoked_at is None:
        doc = db.sessions.find_one_and_update(
            {"_id": session.id, "revoked_at": None},
            {"$set": {"revoked_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        session = (
            _session(doc)
            if doc is not None
            else dataclasses.replace(session, revoked_at=_revoked_at(db, session.id, now))
        )
    return RefreshResult(RefreshOutcome.REUSED, session)


def _revoked_at(db: Db, session_id: str, default: int) -> int:
    """When a session was revoked (by someone else, just now)."""
    doc = db.sessions.find_one({"_id": session_id}, {"revoked_at": 1})
    value: Any = doc.get("revoked_at") if doc is not None else None
    return int(value) if value is not None else default


def _insert_refresh(db: Db, token_hash: str, session_id: str, expires_at: int) -> None:
    try:
        db.refresh_tokens.insert_one(
            {"_id": token_hash, "session_id": session_id, "expires_at": expires_at, "used_at": None}
        )
    except DuplicateKeyError as exc:
        raise Conflict("this refresh token exists", code="refresh_token_exists") from exc
