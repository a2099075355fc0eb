"""Contract: bulk writes (``store.bulk``), the store side of ``nodechat admin bench-accounts``."""

from __future__ import annotations

import pytest

from nodechat.errors import Conflict, NotFound
from nodechat.models import AuthSession, Channel, ChannelKind, Group, Member, Role, User
from nodechat.storage import RefreshOutcome, Store
from nodechat.storage.bulk import NewSession
from tests.contract.test_store_accounts import HOUR, T0, make_user


def bench_user(i: int) -> User:
    name = f"bench-{i:06d}"
    return make_user(name, id=f"usr_b{i}", email=f"{name}@bench.invalid")


async def make_group(store: Store, group_id: str, owner: str) -> None:
    await store.groups.create_group(
        Group(group_id, group_id, "", owner, T0),
        Member(group_id, owner, Role.OWNER, T0),
        [Channel(f"chn_{group_id}", group_id, "bench", ChannelKind.TEXT, 0, created_at=T0)],
    )


async def test_create_users_shares_one_hash_and_finds_them_by_username(store: Store) -> None:
    users = [bench_user(i) for i in range(250)]
    assert await store.bulk.create_users(users, "shared-hash") == 250
    assert await store.accounts.count_users() == 250
    names = [f"BENCH-{i:06d}" for i in range(0, 250, 7)] + ["bench-999999"]
    found = await store.bulk.find_users(names)
    assert sorted(u.username for u, _ in found) == [f"bench-{i:06d}" for i in range(0, 250, 7)]
    assert {h for _, h in found} == {"shared-hash"}
    assert await store.accounts.get_user("usr_b3") == users[3]
    assert await store.bulk.find_users([]) == []


async def test_create_users_skips_what_is_taken_and_changes_nothing_of_it(store: Store) -> None:
    await store.accounts.create_user(make_user("bench-000001"), "own-hash")
    await store.accounts.create_user(make_user("ann", email="bench-000002@BENCH.invalid"), "h")
    users = [bench_user(i) for i in range(4)]
    clash = make_user("other", id="usr_b0", email="other@bench.invalid")  # bench 0's id
    assert await store.bulk.create_users([*users[:3], clash], "shared") == 1
    found = {u.username: h for u, h in await store.bulk.find_users(["bench-000000"])}
    assert found == {"bench-000000": "shared"}
    assert await store.accounts.find_user("bench-000001") == (
        make_user("bench-000001"),
        "own-hash",
    )
    assert await store.accounts.find_user("bench-000002") is None
    assert await store.bulk.create_users(users[:1], "shared") == 0
    assert await store.bulk.create_users([], "shared") == 0
    assert await store.accounts.count_users() == 3


async def test_add_members_counts_only_new_memberships(store: Store) -> None:
    await make_group(store, "grp_a", "usr_b0")
    await make_group(store, "grp_b", "usr_b0")
    members = [
        Member("grp_a" if i % 2 else "grp_b", f"usr_b{i}", Role.MEMBER, T0) for i in range(9)
    ]
    assert await store.bulk.add_members(members) == 8  # usr_b0 owns grp_b already
    assert await store.bulk.add_members(members) == 0
    listed = await store.groups.list_members("grp_b")
    assert [m.user_id for m in listed][0] == "usr_b0" and listed[0].role is Role.OWNER
    assert sorted(m.user_id for m in listed) == sorted(f"usr_b{i}" for i in range(0, 9, 2))
    assert await store.groups.member_group_ids("usr_b3") == ["grp_a"]
    assert await store.bulk.add_members([]) == 0


async def test_add_members_of_a_missing_group_inserts_nothing(store: Store) -> None:
    await make_group(store, "grp_a", "usr_owner")
    with pytest.raises(NotFound) as err:
        await store.bulk.add_members(
            [
                Member("grp_a", "usr_x", Role.MEMBER, T0),
                Member("grp_ghost", "usr_y", Role.MEMBER, T0),
            ]
        )
    assert err.value.code == "group_not_found"
    assert [m.user_id for m in await store.groups.list_members("grp_a")] == ["usr_owner"]


def new_session(i: int) -> NewSession:
    session = AuthSession(f"ses_{i}", f"usr_b{i}", T0, T0 + HOUR, user_agent="bench")
    return NewSession(session, f"refresh-{i}", T0 + HOUR)


async def test_create_sessions_stores_sessions_and_refresh_tokens(store: Store) -> None:
    sessions = [new_session(i) for i in range(300)]
    await store.bulk.create_sessions(sessions)
    assert await store.accounts.get_session("ses_17") == sessions[17].session
    assert [s.id for s in await store.accounts.list_sessions("usr_b5", active_at=T0)] == ["ses_5"]
    rotated = await store.accounts.rotate_refresh("refresh-5", "next", T0 + HOUR, T0 + 1)
    assert rotated.outcome is RefreshOutcome.ROTATED
    assert rotated.session is not None and rotated.session.id == "ses_5"
    await store.bulk.create_sessions([])


async def test_create_sessions_refuses_a_taken_session_id(store: Store) -> None:
    await store.bulk.create_sessions([new_session(1)])
    with pytest.raises(Conflict) as err:
        await store.bulk.create_sessions([new_session(2), new_session(1)])
    assert err.value.code == "session_exists"
    assert await store.accounts.get_session("ses_2") is None
    assert await store.accounts.get_session("ses_1") == new_session(1).session
