"""LocalAuthService over the real SQLite store and a memory bus.

bcrypt at cost 12 costs ~0.2 s per hash or check, so each test registers as
few users and tries as few passwords as it needs.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from nodechat.bus.base import Event, user_topic
from nodechat.bus.memory import MemoryBroker, MemoryBus
from nodechat.config import AuthSettings
from nodechat.errors import (
    Conflict,
    Forbidden,
    InvalidCredentials,
    InvalidRequest,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from nodechat.models import Identity, TokenPair
from nodechat.services import passwords
from nodechat.services.auth import DEFAULT_ABOUT, LocalAuthService, check_password
from nodechat.services.tokens import TokenIssuer, TokenVerifier, load_or_create_keys
from nodechat.storage import open_store
from nodechat.storage.base import Store

PASSWORD = "correct horse battery"
SETTINGS = AuthSettings(
    login_failures_per_account=3, login_failures_per_address=4, login_failure_window=60
)


class FakeMonotonic:
    """The limiters' clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Env:
    """A service, its store, and what a socket node on the same bus receives."""

    auth: LocalAuthService
    store: Store
    issuer: TokenIssuer
    clock: FakeMonotonic
    node: Any
    events: list[tuple[str, Event]] = field(default_factory=list)

    async def watch(self, user_id: str) -> None:
        await self.node.subscribe(user_topic(user_id))

    def revoked(self) -> list[list[str]]:
        return [e.data["session_ids"] for _, e in self.events if e.kind == "session.revoked"]


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    opened = open_store(f"sqlite:///{tmp_path}/t.db")
    store: Store = await opened if inspect.isawaitable(opened) else opened
    broker = MemoryBroker()
    service_bus, node_bus = MemoryBus(broker), MemoryBus(broker)
    keys = load_or_create_keys(tmp_path)
    issuer = TokenIssuer(keys, SETTINGS)
    clock = FakeMonotonic()
    auth = LocalAuthService(
        store,
        service_bus,
        issuer,
        TokenVerifier(keys.public_pem, SETTINGS),
        SETTINGS,
        monotonic=clock,
    )
    e = Env(auth=auth, store=store, issuer=issuer, clock=clock, node=node_bus)
    node_bus.set_handler(lambda topic, event: e.events.append((topic, event)))
    yield e
    await store.close()


def ident(pair: TokenPair) -> Identity:
    return Identity(pair.user.id, pair.session_id)


async def register(env: Env, name: str = "alice", **kw: Any) -> TokenPair:
    pair = await env.auth.register(name, f"{name}@example.com", PASSWORD, **kw)
    await env.watch(pair.user.id)
    return pair


# -- validation (no hashing happens before it) ----------------------------

BAD_REGISTRATIONS = [
    ({"username": "ab"}, "invalid_username", "username"),
    ({"username": "a" * 33}, "invalid_username", "username"),
    ({"username": "bad name"}, "invalid_username", "username"),
    ({"username": "al@ce"}, "invalid_username", "username"),
    ({"username": "j\u00fcrgen"}, "invalid_username", "username"),
    ({"username": "alice\n"}, "invalid_username", "username"),
    ({"email": "nope"}, "invalid_email", "email"),
    ({"email": "a@localhost"}, "invalid_email", "email"),
    ({"email": "a@@b.com"}, "invalid_email", "email"),
    ({"email": "a b@c.com"}, "invalid_email", "email"),
    ({"email": "@b.com"}, "invalid_email", "email"),
    ({"email": "a@b..com"}, "invalid_email", "email"),
    ({"email": "x" * 249 + "@b.com"}, "invalid_email", "email"),
    ({"password": "short"}, "invalid_password", "password"),
    ({"password": "x" * 257}, "invalid_password", "password"),
    ({"password": "e\u0301" * 7}, "invalid_password", "password"),  # 14 code points, 7 after NFC
    ({"password": "\ud800" * 10}, "invalid_password", "password"),
    ({"display_name": ""}, "invalid_display_name", "display_name"),
    ({"display_name": "   "}, "invalid_display_name", "display_name"),
    ({"display_name": "x" * 65}, "invalid_display_name", "display_name"),
]


@pytest.mark.parametrize(("override", "code", "field_name"), BAD_REGISTRATIONS)
async def test_register_validation(
    env: Env, override: dict[str, str], code: str, field_name: str
) -> None:
    args = {"username": "alice", "email": "alice@example.com", "password": PASSWORD} | override
    with pytest.raises(InvalidRequest) as info:
        await env.auth.register(
            args["username"],
            args["email"],
            args["password"],
            display_name=args.get("display_name"),
        )
    assert info.value.code == code
    assert info.value.details["field"] == field_name
    assert await env.store.accounts.count_users() == 0


def test_password_length_counts_characters_after_nfc() -> None:
    check_password("e\u0301" * 8)  # 8 characters once composed
    check_password("\U0001f600" * 256)  # 1024 bytes, 256 characters
    with pytest.raises(InvalidRequest):
        check_password("\U0001f600" * 257)


# -- register and login ---------------------------------------------------


async def test_register_normalizes_and_logs_in(env: Env) -> None:
    pair = await env.auth.register(
        "Alice", " Alice@Example.COM ", PASSWORD, address="10.0.0.1", user_agent="tests"
    )
    user = pair.user
    assert (user.username, user.email, user.display_name, user.about) == (
        "alice",
        "alice@example.com",
        "alice",
        DEFAULT_ABOUT,
    )
    assert await env.auth.authenticate(pair.access_token) == ident(pair)
    session = await env.store.accounts.get_session(pair.session_id)
    assert session is not None and session.address == "10.0.0.1" and session.user_agent == "tests"
    assert session.expires_at - session.created_at == SETTINGS.refresh_ttl * 1000
    found = await env.store.accounts.find_user("alice")
    assert found is not None and found[1].startswith(passwords.PREFIX)


async def test_duplicates_are_case_insensitive(env: Env) -> None:
    await register(env, display_name="Alice A.")
    with pytest.raises(Conflict) as info:
        await env.auth.register("ALICE", "other@example.com", PASSWORD)
    assert info.value.code == "username_taken"
    with pytest.raises(Conflict) as info:
        await env.auth.register("bob", "ALICE@example.com", PASSWORD)
    assert info.value.code == "email_taken"


async def test_login_by_username_or_email_and_uniform_failure(env: Env) -> None:
    alice = await register(env)
    by_name = await env.auth.login("ALICE", PASSWORD)
    by_mail = await env.auth.login("Alice@Example.com", PASSWORD)
    assert by_name.user.id == by_mail.user.id == alice.user.id
    assert len({alice.session_id, by_name.session_id, by_mail.session_id}) == 3

    with pytest.raises(InvalidCredentials) as wrong:
        await env.auth.login("alice", PASSWORD + "x")
    with pytest.raises(InvalidCredentials) as unknown:
        await env.auth.login("nobody", PASSWORD)
    assert (
        wrong.value.to_dict()
        == unknown.value.to_dict()
        == {"code": "invalid_credentials", "message": "invalid username/email or password"}
    )


async def test_hashing_runs_off_the_event_loop(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[threading.Thread] = []
    real = passwords.hash_password

    def spy(password: str, rounds: int) -> str:
        threads.append(threading.current_thread())
        return real(password, rounds)

    monkeypatch.setattr(passwords, "hash_password", spy)
    await register(env)
    assert threads and threads[0] is not threading.main_thread()


async def test_unknown_user_costs_a_verification_too(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    await register(env)
    calls: list[str] = []
    real = passwords.verify_password

    def spy(password: str, stored: str) -> bool:
        calls.append(threading.current_thread().name)
        return real(password, stored)

    monkeypatch.setattr(passwords, "verify_password", spy)
    for login in ("alice", "nobody", "x" * 5000):
        with pytest.raises(InvalidCredentials):
            await env.auth.login(login, "wrong password")
    assert len(calls) == 3
    assert threading.main_thread().name not in calls


# -- rate limiting --------------------------------------------------------


async def test_a_guesser_is_locked_out_never_the_owner(env: Env) -> None:
    await register(env)
    for login in ("alice", "ALICE", "alice"):  # one account, however it is spelled
        with pytest.raises(InvalidCredentials):
            await env.auth.login(login, "wrong password", address="10.6.6.6")
    with pytest.raises(RateLimited) as info:  # the guesser's address, even the right password
        await env.auth.login("alice", PASSWORD, address="10.6.6.6")
    assert info.value.code == "too_many_login_attempts"
    assert 0 < info.value.retry_after <= SETTINGS.login_failure_window
    # the owner, elsewhere, logs in with her password all the while
    assert (await env.auth.login("alice", PASSWORD, address="10.0.0.7")).user.username == "alice"
    env.clock.now += SETTINGS.login_failure_window + 1
    assert (await env.auth.login("alice", PASSWORD, address="10.6.6.6")).user.username == "alice"


async def test_a_guessers_lockouts_double(env: Env) -> None:
    await register(env)
    window = SETTINGS.login_failure_window
    waits = []
    for _ in range(3):
        for _ in range(SETTINGS.login_failures_per_account):
            with pytest.raises(InvalidCredentials):
                await env.auth.login("alice", "wrong password", address="10.6.6.6")
        with pytest.raises(RateLimited) as info:
            await env.auth.login("alice", "wrong password", address="10.6.6.6")
        waits.append(info.value.retry_after)
        env.clock.now += info.value.retry_after + 0.5
    assert waits == pytest.approx([window, 2 * window, 4 * window], abs=1)


async def test_failed_logins_limited_per_address(env: Env) -> None:
    await register(env)
    for i in range(4):
        with pytest.raises(InvalidCredentials):
            await env.auth.login(f"user{i}", PASSWORD, address="10.0.0.1")
    with pytest.raises(RateLimited) as info:
        await env.auth.login("alice", PASSWORD, address="10.0.0.1")
    assert info.value.code == "too_many_login_attempts"
    # The same account from another address is fine.
    assert (await env.auth.login("alice", PASSWORD, address="10.0.0.2")).user.username == "alice"


async def test_concurrent_guesses_are_limited_too(env: Env) -> None:
    await register(env)
    results = await asyncio.gather(
        *(env.auth.login("alice", f"guess {i}") for i in range(6)), return_exceptions=True
    )
    kinds = sorted(type(r).__name__ for r in results)
    assert kinds == ["InvalidCredentials"] * 3 + ["RateLimited"] * 3


async def test_success_resets_account_count(env: Env) -> None:
    await register(env)
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            await env.auth.login("alice", "wrong password")
    await env.auth.login("alice", PASSWORD)
    for _ in range(2):  # would be blocked by now without the reset
        with pytest.raises(InvalidCredentials):
            await env.auth.login("alice", "wrong password")


# -- refresh ---------------------------------------------------------------


async def test_refresh_rotates_and_reuse_revokes_the_family(env: Env) -> None:
    first = await register(env)
    second = await env.auth.refresh(first.refresh_token)
    assert second.session_id == first.session_id
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    assert await env.auth.authenticate(second.access_token) == ident(first)
    assert env.revoked() == []

    with pytest.raises(Unauthenticated) as info:
        await env.auth.refresh(first.refresh_token)  # replayed: someone copied it
    assert info.value.code == "refresh_token_reused"
    assert env.revoked() == [[first.session_id]]
    assert env.events[-1][0] == user_topic(first.user.id)
    assert env.events[-1][1].data["user_id"] == first.user.id

    with pytest.raises(Unauthenticated) as info:
        await env.auth.refresh(second.refresh_token)  # the newer one died with the session
    assert info.value.code == "invalid_refresh_token"
    for token in (first.access_token, second.access_token):
        with pytest.raises(Unauthenticated) as info:
            await env.auth.authenticate(token)
        assert info.value.code == "session_revoked"


@pytest.mark.parametrize("token", ["", "not-a-token", "x" * 1000])
async def test_unknown_refresh_token(env: Env, token: str) -> None:
    with pytest.raises(Unauthenticated) as info:
        await env.auth.refresh(token)
    assert info.value.code == "invalid_refresh_token"


# -- authenticate ----------------------------------------------------------


async def test_authenticate_rejects_bad_tokens(env: Env) -> None:
    alice = await register(env)
    with pytest.raises(Unauthenticated) as info:
        await env.auth.authenticate("garbage")
    assert info.value.code == "invalid_token"
    # Well signed, but for a session that does not exist or belongs to someone else.
    for user_id, session_id in (("u_nobody", "s_nobody"), ("u_other", alice.session_id)):
        token, _ = env.issuer.issue(user_id, session_id, now_ms=alice.user.created_at)
        with pytest.raises(Unauthenticated) as info:
            await env.auth.authenticate(token)
        assert info.value.code == "invalid_token"


# -- logout and password change ---------------------------------------------


async def test_logout_and_logout_all(env: Env) -> None:
    s1 = await register(env)
    s2 = await env.auth.login("alice", PASSWORD)
    s3 = await env.auth.login("alice", PASSWORD)

    await env.auth.logout(ident(s1))
    assert env.revoked() == [[s1.session_id]]
    with pytest.raises(Unauthenticated) as info:
        await env.auth.authenticate(s1.access_token)
    assert info.value.code == "session_revoked"
    with pytest.raises(Unauthenticated):
        await env.auth.refresh(s1.refresh_token)
    await env.auth.logout(ident(s1))  # already gone: nothing more to announce
    assert len(env.revoked()) == 1

    assert await env.auth.logout_all(ident(s2)) == 2
    assert env.revoked()[-1] == sorted([s2.session_id, s3.session_id])
    for pair in (s2, s3):
        with pytest.raises(Unauthenticated):
            await env.auth.authenticate(pair.access_token)
    assert await env.auth.logout_all(ident(s2)) == 0
    assert len(env.revoked()) == 2


async def test_change_password(env: Env) -> None:
    here = await register(env)
    elsewhere = await env.auth.login("alice", PASSWORD)
    new = "a whole new password \U0001f511"

    with pytest.raises(InvalidRequest) as bad:
        await env.auth.change_password(ident(here), PASSWORD, "short")
    assert (bad.value.code, bad.value.details["field"]) == ("invalid_password", "new_password")
    with pytest.raises(InvalidCredentials):
        await env.auth.change_password(ident(here), "not my password", new)
    assert env.revoked() == []

    await env.auth.change_password(ident(here), PASSWORD, new)
    assert env.revoked() == [[elsewhere.session_id]]
    assert await env.auth.authenticate(here.access_token) == ident(here)
    with pytest.raises(Unauthenticated):
        await env.auth.authenticate(elsewhere.access_token)
    with pytest.raises(InvalidCredentials):
        await env.auth.login("alice", PASSWORD)
    assert (await env.auth.login("alice", new)).user.id == here.user.id


# -- disabled accounts -------------------------------------------------------


async def test_disabled_user_cannot_log_in_or_authenticate(env: Env) -> None:
    alice = await register(env)
    second = await env.auth.refresh(alice.refresh_token)
    await env.store.accounts.set_disabled(alice.user.id, True)

    with pytest.raises(InvalidCredentials):  # a wrong password learns nothing about the state
        await env.auth.login("alice", "wrong password")
    with pytest.raises(Forbidden) as info:
        await env.auth.login("alice", PASSWORD)
    assert info.value.code == "account_disabled"
    with pytest.raises(Unauthenticated) as unauth:
        await env.auth.authenticate(second.access_token)
    assert unauth.value.code == "account_disabled"
    with pytest.raises(Forbidden):
        await env.auth.refresh(second.refresh_token)
    assert env.revoked() == [[alice.session_id]]


# -- profiles and lookups ------------------------------------------------------


async def test_profile_and_lookups(env: Env) -> None:
    alice = await register(env)
    bob = await register(env, "bob")
    me = ident(alice)

    updated = await env.auth.update_profile(me, display_name="  Alice A.  ", about="line 1\nline 2")
    assert (updated.display_name, updated.about) == ("Alice A.", "line 1\nline 2")
    topic, event = env.events[-1]
    assert (topic, event.kind) == (user_topic(alice.user.id), "user.updated")
    assert event.data == updated.public() and "email" not in event.data
    assert await env.auth.update_profile(me) == updated
    with pytest.raises(InvalidRequest) as info:
        await env.auth.update_profile(me, display_name=" ")
    assert info.value.code == "invalid_display_name"
    with pytest.raises(InvalidRequest) as info:
        await env.auth.update_profile(me, about="x" * 191)
    assert info.value.code == "invalid_about"
    assert (await env.auth.update_profile(me, about="")).about == ""

    assert (await env.auth.get_user(me)).id == alice.user.id
    assert (await env.auth.get_user(me, bob.user.id)).username == "bob"
    with pytest.raises(NotFound):
        await env.auth.get_user(me, "u_nobody")
    assert (await env.auth.find_user(me, "BOB")).id == bob.user.id
    for probe in ("bob@example.com", "BOB@EXAMPLE.COM", "nobody", ""):
        with pytest.raises(NotFound):  # never by email: that would reveal who owns an address
            await env.auth.find_user(me, probe)
    users = await env.auth.get_users(me, [bob.user.id, alice.user.id, bob.user.id, "u_nobody"])
    assert sorted(u.username for u in users) == ["alice", "bob"]
    assert await env.auth.get_users(me, []) == []
