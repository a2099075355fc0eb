"""Contract: users, sessions and refresh tokens."""

from __future__ import annotations

import pytest

from nodechat.errors import Conflict, NotFound
from nodechat.models import AuthSession, User
from nodechat.storage import RefreshOutcome, Store

T0 = 1_700_000_000_000
HOUR = 3_600_000


def make_user(name: str, **fields: object) -> User:
    values: dict[str, object] = {
        "id": f"usr_{name.lower()}",
        "username": name,
        "email": f"{name}@Example.org",
        "display_name": name.title(),
        "about": "",
        "created_at": T0,
    }
    values.update(fields)
    return User(**values)  # type: ignore[arg-type]


def make_session(
    sid: str, user_id: str = "usr_alice", *, expires_at: int = T0 + 24 * HOUR
) -> AuthSession:
    return AuthSession(
        id=sid,
        user_id=user_id,
        created_at=T0,
        expires_at=expires_at,
        user_agent="pytest",
        address="127.0.0.1",
    )


async def test_create_and_read_user(store: Store) -> None:
    alice = make_user("Alice", about="hi", is_admin=True)
    await store.accounts.create_user(alice, "hash-a")
    assert await store.accounts.get_user(alice.id) == alice
    assert await store.accounts.get_user("usr_nobody") is None
    assert await store.accounts.get_password_hash(alice.id) == "hash-a"
    assert await store.accounts.get_password_hash("usr_nobody") is None


async def test_get_users_returns_only_existing(store: Store) -> None:
    for name in ("alice", "bob", "carol"):
        await store.accounts.create_user(make_user(name), "h")
    found = await store.accounts.get_users(["usr_carol", "usr_ghost", "usr_alice"])
    assert sorted(u.id for u in found) == ["usr_alice", "usr_carol"]
    assert await store.accounts.get_users([]) == []


async def test_find_user_by_username_or_email_any_case(store: Store) -> None:
    alice = make_user("Alice")
    await store.accounts.create_user(alice, "hash-a")
    for login in ("alice", "ALICE", "Alice@example.ORG"):
        assert await store.accounts.find_user(login) == (alice, "hash-a")
    assert await store.accounts.find_user("bob") is None


@pytest.mark.parametrize(
    ("username", "email", "code"),
    [
        ("ALICE", "other@example.org", "username_taken"),
        ("bob", "alice@EXAMPLE.org", "email_taken"),
    ],
)
async def test_create_user_conflicts_case_insensitively(
    store: Store, username: str, email: str, code: str
) -> None:
    await store.accounts.create_user(make_user("alice"), "h")
    with pytest.raises(Conflict) as err:
        await store.accounts.create_user(
            make_user("x", id="usr_x", username=username, email=email), "h"
        )
    assert err.value.code == code
    assert await store.accounts.count_users() == 1
    assert await store.accounts.get_user("usr_x") is None


async def test_update_profile_changes_only_given_fields(store: Store) -> None:
    await store.accounts.create_user(make_user("alice", about="old"), "h")
    user = await store.accounts.update_profile("usr_alice", display_name="Al")
    assert (user.display_name, user.about) == ("Al", "old")
    user = await store.accounts.update_profile("usr_alice", about="new")
    assert (user.display_name, user.about) == ("Al", "new")
    assert await store.accounts.get_user("usr_alice") == user
    with pytest.raises(NotFound):
        await store.accounts.update_profile("usr_ghost", about="x")


async def test_password_disabled_and_admin_flags(store: Store) -> None:
    await store.accounts.create_user(make_user("alice"), "old")
    await store.accounts.set_password_hash("usr_alice", "new")
    assert await store.accounts.get_password_hash("usr_alice") == "new"
    assert (await store.accounts.set_disabled("usr_alice", True)).disabled
    assert (await store.accounts.get_user("usr_alice")).disabled  # type: ignore[union-attr]
    assert not (await store.accounts.set_disabled("usr_alice", False)).disabled
    assert (await store.accounts.set_admin("usr_alice", True)).is_admin
    assert not (await store.accounts.set_admin("usr_alice", False)).is_admin
    with pytest.raises(NotFound):
        await store.accounts.set_disabled("usr_ghost", True)
    with pytest.raises(NotFound):
        await store.accounts.set_admin("usr_ghost", True)
    with pytest.raises(NotFound):
        await store.accounts.set_password_hash("usr_ghost", "x")


async def test_list_users_pages_by_id_and_counts(store: Store) -> None:
    names = ["dave", "alice", "erin", "carol", "bob"]
    for name in names:
        await store.accounts.create_user(make_user(name), "h")
    assert await store.accounts.count_users() == 5
    first = await store.accounts.list_users(limit=2)
    assert [u.id for u in first] == ["usr_alice", "usr_bob"]
    rest = await store.accounts.list_users(after=first[-1].id, limit=10)
    assert [u.id for u in rest] == ["usr_carol", "usr_dave", "usr_erin"]
    assert await store.accounts.list_users(after="usr_erin") == []


async def test_sessions_create_get_and_list_active(store: Store) -> None:
    await store.accounts.create_user(make_user("alice"), "h")
    live = make_session("ses_1")
    short = make_session("ses_2", expires_at=T0 + HOUR)
    await store.accounts.create_session(live, "r1", T0 + HOUR)
    await store.accounts.create_session(short, "r2", T0 + HOUR)
    assert await store.accounts.get_session("ses_1") == live
    assert await store.accounts.get_session("ses_nope") is None
    assert {s.id for s in await store.accounts.list_sessions("usr_alice")} == {"ses_1", "ses_2"}
    later = T0 + 2 * HOUR
    assert [s.id for s in await store.accounts.list_sessions("usr_alice", active_at=later)] == [
        "ses_1"
    ]
    assert await store.accounts.revoke_session("ses_1", later)
    assert await store.accounts.list_sessions("usr_alice", active_at=later) == []
    assert await store.accounts.list_sessions("usr_bob") == []


async def test_rotate_then_reuse_revokes_the_session(store: Store) -> None:
    await store.accounts.create_session(make_session("ses_1"), "r1", T0 + HOUR)
    now = T0 + 1000

    rotated = await store.accounts.rotate_refresh("r1", "r2", T0 + 2 * HOUR, now)
    assert rotated.outcome is RefreshOutcome.ROTATED
    assert rotated.session is not None and rotated.session.id == "ses_1"

    reused = await store.accounts.rotate_refresh("r1", "r3", T0 + 2 * HOUR, now + 1)
    assert reused.outcome is RefreshOutcome.REUSED
    assert reused.session is not None and reused.session.revoked_at == now + 1
    stored = await store.accounts.get_session("ses_1")
    assert stored is not None and stored.revoked_at == now + 1

    # The legitimate successor dies with its session, and the reuse stored nothing.
    assert (
        await store.accounts.rotate_refresh("r2", "r4", T0 + 2 * HOUR, now + 2)
    ).outcome is RefreshOutcome.INVALID
    assert (
        await store.accounts.rotate_refresh("r3", "r5", T0 + 2 * HOUR, now + 2)
    ).outcome is RefreshOutcome.INVALID


async def test_rotate_chain_keeps_working(store: Store) -> None:
    await store.accounts.create_session(make_session("ses_1"), "r0", T0 + HOUR)
    for i in range(5):
        result = await store.accounts.rotate_refresh(f"r{i}", f"r{i + 1}", T0 + HOUR, T0 + i)
        assert result.outcome is RefreshOutcome.ROTATED
    assert (await store.accounts.get_session("ses_1")).revoked_at is None  # type: ignore[union-attr]


async def test_rotate_invalid_cases(store: Store) -> None:
    accounts = store.accounts
    assert (
        await accounts.rotate_refresh("unknown", "n", T0 + HOUR, T0)
    ).outcome is RefreshOutcome.INVALID
    # Expired token.
    await accounts.create_session(make_session("ses_1"), "r1", T0 + HOUR)
    assert (
        await accounts.rotate_refresh("r1", "n1", T0 + 2 * HOUR, T0 + HOUR)
    ).outcome is RefreshOutcome.INVALID
    # Revoked session.
    await accounts.create_session(make_session("ses_2"), "r2", T0 + HOUR)
    await accounts.revoke_session("ses_2", T0)
    assert (
        await accounts.rotate_refresh("r2", "n2", T0 + 2 * HOUR, T0 + 1)
    ).outcome is RefreshOutcome.INVALID
    # Expired session.
    await accounts.create_session(make_session("ses_3", expires_at=T0 + 10), "r3", T0 + HOUR)
    assert (
        await accounts.rotate_refresh("r3", "n3", T0 + 2 * HOUR, T0 + 10)
    ).outcome is RefreshOutcome.INVALID
    # None of the failures stored a successor.
    for new in ("n", "n1", "n2", "n3"):
        assert (
            await accounts.rotate_refresh(new, "x", T0 + 2 * HOUR, T0 + 1)
        ).outcome is RefreshOutcome.INVALID


async def test_revoke_session_once(store: Store) -> None:
    await store.accounts.create_session(make_session("ses_1"), "r1", T0 + HOUR)
    assert await store.accounts.revoke_session("ses_1", T0 + 5) is True
    assert await store.accounts.revoke_session("ses_1", T0 + 6) is False
    assert await store.accounts.revoke_session("ses_ghost", T0) is False
    assert (await store.accounts.get_session("ses_1")).revoked_at == T0 + 5  # type: ignore[union-attr]


async def test_revoke_user_sessions_keeps_one(store: Store) -> None:
    for sid in ("ses_a", "ses_b", "ses_c"):
        await store.accounts.create_session(make_session(sid), f"r-{sid}", T0 + HOUR)
    await store.accounts.create_session(make_session("ses_bob", "usr_bob"), "r-bob", T0 + HOUR)
    await store.accounts.revoke_session("ses_c", T0)

    revoked = await store.accounts.revoke_user_sessions("usr_alice", T0 + 1, keep="ses_b")
    assert sorted(revoked) == ["ses_a"]
    active = await store.accounts.list_sessions("usr_alice", active_at=T0 + 2)
    assert [s.id for s in active] == ["ses_b"]
    assert (await store.accounts.get_session("ses_bob")).revoked_at is None  # type: ignore[union-attr]
    assert (await store.accounts.get_session("ses_c")).revoked_at == T0  # type: ignore[union-attr]

    assert await store.accounts.revoke_user_sessions("usr_alice", T0 + 3) == ["ses_b"]
    assert await store.accounts.revoke_user_sessions("usr_alice", T0 + 4) == []
