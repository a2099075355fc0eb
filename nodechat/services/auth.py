"""The local auth service: accounts, passwords, sessions and tokens over a store and a bus.

Usernames are 3-32 characters of ``[a-z0-9_.-]``; input is accepted in any
case and lowercased, so ``Alice`` registers (and logs in) as ``alice``.
Emails are stored lowercased. Passwords are 8-256 characters after NFC
normalization, any Unicode.

A session is one refresh-token family with an absolute lifetime of
``refresh_ttl`` from login; every refresh rotates the token. Every revocation
is published as ``session.revoked`` on the user's topic so socket nodes close
the live connections of those sessions.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import unicodedata
from collections.abc import Callable, Sequence

from nodechat.bus import Bus, Event, user_topic
from nodechat.config import AuthSettings
from nodechat.errors import (
    ChatError,
    Forbidden,
    InvalidCredentials,
    InvalidRequest,
    NotFound,
    Unauthenticated,
)
from nodechat.models import AuthSession, Identity, TokenPair, User, new_id, now_ms
from nodechat.services import passwords, validate
from nodechat.services.api import AuthService
from nodechat.services.audience import audience_topics
from nodechat.services.ratelimit import FailureLimiter, LockoutBackoff
from nodechat.services.tokens import TokenIssuer, TokenVerifier, hash_refresh, new_refresh_token
from nodechat.storage.base import AccountStore, RefreshOutcome, Store

log = logging.getLogger(__name__)

DEFAULT_ABOUT = "Hey there! I am using nodechat."
USERNAME_RE = re.compile(r"[a-z0-9_.-]{3,32}")
MIN_PASSWORD, MAX_PASSWORD = 8, 256
MAX_LOGIN_INPUT = 4096  # longer than any valid password or login, even denormalized
MAX_EMAIL = 254
MAX_DISPLAY_NAME, MAX_ABOUT = 64, 190
MAX_USER_IDS = 1000
LOGIN_LIMIT_CODE = "too_many_login_attempts"
LOCKOUT_CAP = 24 * 3600.0  # seconds: the longest a guessing pair is locked out
BAD_LOGIN = "invalid username/email or password"


def normalize_username(username: str) -> str:
    """The stored form of a username; ``InvalidRequest(invalid_username)`` if it is not valid."""
    name = username.lower()
    if not USERNAME_RE.fullmatch(name):
        raise InvalidRequest(
            "username must be 3-32 characters of a-z, 0-9, '_', '.', '-'",
            code="invalid_username",
            field="username",
        )
    return name


def normalize_email(email: str) -> str:
    """The stored form of an email (trimmed, lowercased) after a sanity check."""
    value = email.strip().lower()
    local, at, domain = value.partition("@")
    ok = (
        len(value) <= MAX_EMAIL
        and at == "@"
        and bool(local)
        and "@" not in domain
        and "." in domain
        and not domain.startswith(".")
        and not domain.endswith(".")
        and ".." not in domain
        and not any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in value)
    )
    if not ok:
        raise InvalidRequest("email is not a valid address", code="invalid_email", field="email")
    return value


def check_password(password: str, field: str = "password") -> None:
    """``InvalidRequest(invalid_password)`` unless 8-256 characters (after NFC), valid Unicode."""
    normalized = unicodedata.normalize("NFC", password)
    try:
        normalized.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidRequest(
            "password is not valid text", code="invalid_password", field=field
        ) from exc
    if not MIN_PASSWORD <= len(normalized) <= MAX_PASSWORD:
        raise InvalidRequest(
            f"password must be {MIN_PASSWORD}-{MAX_PASSWORD} characters",
            code="invalid_password",
            field=field,
        )


async def create_account(
    accounts: AccountStore,
    username: str,
    email: str,
    password: str,
    *,
    display_name: str | None,
    rounds: int,
    clock: Callable[[], int],
    is_admin: bool = False,
) -> User:
    """Validate, hash (bcrypt, off the event loop) and store a new account; the user.
    Every field is checked before the slow hash and before anything is written."""
    name = normalize_username(username)
    mail = normalize_email(email)
    check_password(password)
    shown = validate.text(
        display_name if display_name is not None else name, "display_name", max_len=MAX_DISPLAY_NAME
    )
    password_hash = await asyncio.to_thread(passwords.hash_password, password, rounds)
    user = User(
        id=new_id("u"),
        username=name,
        email=mail,
        display_name=shown,
        about=DEFAULT_ABOUT,
        created_at=clock(),
        is_admin=is_admin,
    )
    await accounts.create_user(user, password_hash)
    return user


async def announce_revoked(bus: Bus, user_id: str, session_ids: Sequence[str]) -> None:
    """Publish ``session.revoked`` on the user's topic, so socket nodes close the live
    connections of those sessions (4001). Logged, never raised, if the bus is down."""
    if not session_ids:
        return
    event = Event("session.revoked", {"user_id": user_id, "session_ids": list(session_ids)})
    try:
        await bus.publish(user_topic(user_id), event)
    except ChatError:
        log.warning("could not publish session.revoked for user %s", user_id, exc_info=True)


class LocalAuthService(AuthService):
    """:class:`AuthService` over a store and a bus, signing tokens itself."""

    def __init__(
        self,
        store: Store,
        bus: Bus,
        issuer: TokenIssuer,
        verifier: TokenVerifier,
        settings: AuthSettings,
        *,
        clock: Callable[[], int] = now_ms,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._accounts = store.accounts
        self._bus = bus
        self._issuer = issuer
        self._verifier = verifier
        self._settings = settings
        self._clock = clock
        window = settings.login_failure_window
        # Guessing is throttled per guesser, never per account: a lock on the account
        # would let anyone lock its owner out. So failures count per address and per
        # (account, address) pair, and a pair's lockouts double (backoff).
        self._pair_failures = LockoutBackoff(
            settings.login_failures_per_account,
            window,
            base=window,
            cap=LOCKOUT_CAP,
            code=LOGIN_LIMIT_CODE,
            clock=monotonic,
        )
        self._address_failures = FailureLimiter(
            settings.login_failures_per_address, window, code=LOGIN_LIMIT_CODE, clock=monotonic
        )
        # old-password checks with a (possibly stolen) access token, per account
        self._password_checks = FailureLimiter(
            settings.login_failures_per_account, window, code=LOGIN_LIMIT_CODE, clock=monotonic
        )

    # -- accounts and sessions ------------------------------------------

    async def register(
        self,
        username: str,
        email: str,
        password: str,
        *,
        display_name: str | None = None,
        address: str = "",
        user_agent: str = "",
    ) -> TokenPair:
        """Create an account and log it in."""
        user = await create_account(
            self._accounts,
            username,
            email,
            password,
            display_name=display_name,
            rounds=self._settings.bcrypt_rounds,
            clock=self._clock,
        )
        return await self._start_session(user, address, user_agent)

    async def login(
        self, login: str, password: str, *, address: str = "", user_agent: str = ""
    ) -> TokenPair:
        """Log in by username or email; ``InvalidCredentials`` for either mistake."""
        account_key = login.strip().lower()
        pair_key = f"{account_key}\x00{address}"
        self._pair_failures.check(pair_key)
        if address:
            self._address_failures.check(address)
        # Count the attempt as failed up front, so concurrent guesses in flight are
        # limited too; a success takes it back below.
        self._pair_failures.record_failure(pair_key)
        address_stamp = self._address_failures.record_failure(address) if address else None
        rounds = self._settings.bcrypt_rounds
        found = None
        if 0 < len(account_key) <= MAX_LOGIN_INPUT and len(password) <= MAX_LOGIN_INPUT:
            found = await self._accounts.find_user(account_key)
        if found is None:
            await asyncio.to_thread(passwords.spend_verification, password, rounds)
            raise InvalidCredentials(BAD_LOGIN)
        user, stored = found
        if not await asyncio.to_thread(passwords.verify_password, password, stored):
            raise InvalidCredentials(BAD_LOGIN)
        # Only the pair is forgiven entirely: a success on one's own account must
        # not wipe an address's count of guesses at other accounts.
        self._pair_failures.reset(pair_key)
        if address_stamp is not None:
            self._address_failures.forgive(address, address_stamp)
        if user.disabled:
            raise Forbidden("this account is disabled", code="account_disabled")
        if passwords.needs_rehash(stored, rounds):
            new_hash = await asyncio.to_thread(passwords.hash_password, password, rounds)
            await self._accounts.set_password_hash(user.id, new_hash)
        return await self._start_session(user, address, user_agent)

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Spend a refresh token for a new pair; reuse of a spent one revokes the session."""
        now = self._clock()
        if not isinstance(refresh_token, str) or not 0 < len(refresh_token) <= 256:
            raise Unauthenticated("invalid refresh token", code="invalid_refresh_token")
        successor = new_refresh_token()
        result = await self._accounts.rotate_refresh(
            hash_refresh(refresh_token), hash_refresh(successor), self._refresh_expiry(now), now
        )
        session = result.session
        if result.outcome is RefreshOutcome.REUSED:
            if session is not None:
                await self._revoked(session.user_id, [session.id])
            raise Unauthenticated(
                "this refresh token was already used; the session is revoked",
                code="refresh_token_reused",
            )
        if result.outcome is not RefreshOutcome.ROTATED or session is None:
            raise Unauthenticated("invalid refresh token", code="invalid_refresh_token")
        user = await self._accounts.get_user(session.user_id)
        if user is None or user.disabled:
            if await self._accounts.revoke_session(session.id, now):
                await self._revoked(session.user_id, [session.id])
            if user is None:
                raise Unauthenticated("invalid refresh token", code="invalid_refresh_token")
            raise Forbidden("this account is disabled", code="account_disabled")
        access, access_expires_at = self._issuer.issue(user.id, session.id, now_ms=now)
        return TokenPair(
            access_token=access,
            refresh_token=successor,
            access_expires_at=access_expires_at,
            session_id=session.id,
            user=user,
        )

    async def authenticate(self, access_token: str) -> Identity:
        """Verify an access token (signature, claims, live session, enabled user)."""
        claims = self._verifier.verify(access_token)
        session = await self._accounts.get_session(claims.session_id)
        if session is None or session.user_id != claims.user_id:
            raise Unauthenticated("invalid access token", code="invalid_token")
        if not session.active(self._clock()):
            raise Unauthenticated("this session has ended", code="session_revoked")
        user = await self._accounts.get_user(claims.user_id)
        if user is None:
            raise Unauthenticated("invalid access token", code="invalid_token")
        if user.disabled:
            raise Unauthenticated("this account is disabled", code="account_disabled")
        return Identity(user_id=user.id, session_id=session.id)

    async def logout(self, identity: Identity) -> None:
        """End the caller's session (its live connections are closed)."""
        if await self._accounts.revoke_session(identity.session_id, self._clock()):
            await self._revoked(identity.user_id, [identity.session_id])

    async def logout_all(self, identity: Identity) -> int:
        """End every session of the caller; return how many."""
        ids = await self._accounts.revoke_user_sessions(identity.user_id, self._clock())
        await self._revoked(identity.user_id, ids)
        return len(ids)

    async def change_password(
        self, identity: Identity, old_password: str, new_password: str
    ) -> None:
        """Change the password; every other session of the user ends."""
        check_password(new_password, "new_password")
        # Guessing the old password with a stolen access token is limited like logins.
        key = f"user:{identity.user_id}"
        self._password_checks.check(key)
        stored = await self._accounts.get_password_hash(identity.user_id)
        if stored is None:
            raise Unauthenticated("no such account", code="invalid_token")
        self._password_checks.record_failure(key)
        if not await asyncio.to_thread(passwords.verify_password, old_password, stored):
            raise InvalidCredentials("the current password is wrong")
        self._password_checks.reset(key)
        new_hash = await asyncio.to_thread(
            passwords.hash_password, new_password, self._settings.bcrypt_rounds
        )
        await self._accounts.set_password_hash(identity.user_id, new_hash)
        ids = await self._accounts.revoke_user_sessions(
            identity.user_id, self._clock(), keep=identity.session_id
        )
        await self._revoked(identity.user_id, ids)

    # -- users -----------------------------------------------------------

    async def get_user(self, identity: Identity, user_id: str | None = None) -> User:
        """The caller's own account, or another user's (public fields are for the adapter to pick)."""
        user = await self._accounts.get_user(user_id if user_id is not None else identity.user_id)
        if user is None:
            raise NotFound("no such user", code="user_not_found")
        return user

    async def find_user(self, identity: Identity, username: str) -> User:
        """Look a user up by username (never by email: that would reveal who owns an address)."""
        name = username.strip().lower()
        # A valid username has no '@', so it can never equal an email; checked again below.
        found = await self._accounts.find_user(name) if USERNAME_RE.fullmatch(name) else None
        if found is None or found[0].username != name:
            raise NotFound("no such user", code="user_not_found")
        return found[0]

    async def get_users(self, identity: Identity, user_ids: Sequence[str]) -> list[User]:
        """The users among ``user_ids`` that exist."""
        unique = list(dict.fromkeys(user_ids))
        if len(unique) > MAX_USER_IDS:
            raise InvalidRequest(
                f"at most {MAX_USER_IDS} users per request", code="too_many_users", field="user_ids"
            )
        return await self._accounts.get_users(unique) if unique else []

    async def update_profile(
        self, identity: Identity, *, display_name: str | None = None, about: str | None = None
    ) -> User:
        """Change the caller's display name and/or about text."""
        if display_name is not None:
            display_name = validate.text(display_name, "display_name", max_len=MAX_DISPLAY_NAME)
        if about is not None:
            about = validate.text(about, "about", min_len=0, max_len=MAX_ABOUT, single_line=False)
        if display_name is None and about is None:
            return await self.get_user(identity)
        user = await self._accounts.update_profile(
            identity.user_id, display_name=display_name, about=about
        )
        event = Event("user.updated", user.public())
        await self._publish(user.id, event)
        try:  # the people around the user see the new name too
            for topic in await audience_topics(self._store, user.id):
                await self._bus.publish(topic, event)
        except ChatError:
            log.warning("could not publish user.updated for %s", user.id, exc_info=True)
        return user

    # -- helpers ---------------------------------------------------------

    def _refresh_expiry(self, now: int) -> int:
        return now + self._settings.refresh_ttl * 1000

    async def _start_session(self, user: User, address: str, user_agent: str) -> TokenPair:
        now = self._clock()
        session = AuthSession(
            id=new_id("s"),
            user_id=user.id,
            created_at=now,
            expires_at=self._refresh_expiry(now),
            user_agent=user_agent[:256],
            address=address[:64],
        )
        refresh_token = new_refresh_token()
        await self._accounts.create_session(
            session, hash_refresh(refresh_token), session.expires_at
        )
        access, access_expires_at = self._issuer.issue(user.id, session.id, now_ms=now)
        return TokenPair(
            access_token=access,
            refresh_token=refresh_token,
            access_expires_at=access_expires_at,
            session_id=session.id,
            user=user,
        )

    async def _revoked(self, user_id: str, session_ids: list[str]) -> None:
        await announce_revoked(self._bus, user_id, session_ids)

    async def _publish(self, user_id: str, event: Event) -> None:
        # The store already holds the change; a bus outage must not undo or fail it.
        try:
            await self._bus.publish(user_topic(user_id), event)
        except ChatError:
            log.warning("could not publish %s for user %s", event.kind, user_id, exc_info=True)


__all__ = [
    "DEFAULT_ABOUT",
    "announce_revoked",
    "LocalAuthService",
    "check_password",
    "normalize_email",
    "normalize_username",
]
