"""Contract: groups, channels, members, bans and invites."""

from __future__ import annotations

import pytest

from nodechat.errors import Conflict, Forbidden, InvalidRequest, NotFound
from nodechat.models import (
    Channel,
    ChannelKind,
    Conversation,
    ConversationKind,
    Group,
    Invite,
    Member,
    Role,
    direct_conversation_id,
)
from nodechat.storage import Store

T0 = 1_700_000_000_000
G = "grp_1"


def channel(cid: str, position: int, group_id: str = G, **fields: object) -> Channel:
    values: dict[str, object] = {
        "id": cid,
        "group_id": group_id,
        "name": cid.removeprefix("chn_"),
        "kind": ChannelKind.TEXT,
        "position": position,
        "created_at": T0,
    }
    values.update(fields)
    return Channel(**values)  # type: ignore[arg-type]


def member(
    user_id: str, role: Role = Role.MEMBER, joined_at: int = T0 + 1, group_id: str = G
) -> Member:
    return Member(group_id=group_id, user_id=user_id, role=role, joined_at=joined_at)


def invite(code: str, **fields: object) -> Invite:
    values: dict[str, object] = {
        "code": code,
        "group_id": G,
        "created_by": "usr_owner",
        "created_at": T0,
        "expires_at": None,
        "max_uses": None,
    }
    values.update(fields)
    return Invite(**values)  # type: ignore[arg-type]


async def make_group(
    store: Store,
    group_id: str = G,
    owner: str = "usr_owner",
    channels: tuple[str, ...] = ("chn_general", "chn_random"),
) -> Group:
    group = Group(
        id=group_id, name=f"group {group_id}", description="d", owner_id=owner, created_at=T0
    )
    await store.groups.create_group(
        group,
        member(owner, Role.OWNER, T0, group_id),
        [channel(cid, i, group_id) for i, cid in enumerate(channels)],
    )
    return group


async def test_create_group_with_owner_channels_and_conversations(store: Store) -> None:
    group = await make_group(store)
    assert await store.groups.get_group(G) == group
    assert await store.groups.get_group("grp_none") is None
    assert await store.groups.get_member(G, "usr_owner") == member("usr_owner", Role.OWNER, T0)
    assert [c.id for c in await store.groups.list_channels(G)] == ["chn_general", "chn_random"]
    conversation = await store.messages.get_conversation("chn_general")
    assert conversation == Conversation(
        id="chn_general", kind=ConversationKind.CHANNEL, group_id=G, last_seq=0
    )
    with pytest.raises(Conflict):
        await make_group(store, channels=())


async def test_update_group(store: Store) -> None:
    await make_group(store)
    updated = await store.groups.update_group(G, name="renamed")
    assert (updated.name, updated.description) == ("renamed", "d")
    updated = await store.groups.update_group(G, description="new")
    assert (updated.name, updated.description) == ("renamed", "new")
    assert await store.groups.get_group(G) == updated
    with pytest.raises(NotFound):
        await store.groups.update_group("grp_none", name="x")


async def test_list_groups_by_membership_age_and_all_groups_by_id(store: Store) -> None:
    await make_group(store, "grp_b", channels=("chn_b",))
    await make_group(store, "grp_a", owner="usr_other", channels=("chn_a",))
    await make_group(store, "grp_c", owner="usr_other", channels=("chn_c",))
    await store.groups.add_member(member("usr_owner", joined_at=T0 + 5, group_id="grp_c"))
    await store.groups.add_member(member("usr_owner", joined_at=T0 + 9, group_id="grp_a"))
    assert [g.id for g in await store.groups.list_groups("usr_owner")] == [
        "grp_b",
        "grp_c",
        "grp_a",
    ]
    assert await store.groups.member_group_ids("usr_owner") == ["grp_b", "grp_c", "grp_a"]
    assert await store.groups.list_groups("usr_nobody") == []
    assert [g.id for g in await store.groups.list_all_groups(limit=2)] == ["grp_a", "grp_b"]
    assert [g.id for g in await store.groups.list_all_groups(after="grp_b")] == ["grp_c"]


async def test_member_pages_follow_join_time_then_user_id(store: Store) -> None:
    await make_group(store)  # the owner joined at T0
    for uid, at in (("usr_d", 2), ("usr_b", 1), ("usr_c", 2), ("usr_a", 1), ("usr_e", 3)):
        await store.groups.add_member(member(uid, joined_at=T0 + at))
    order = ["usr_owner", "usr_a", "usr_b", "usr_c", "usr_d", "usr_e"]
    assert [m.user_id for m in await store.groups.list_members(G)] == order
    assert await store.groups.count_members(G) == 6
    assert await store.groups.count_members("grp_none") == 0
    pages, after = [], None
    while True:
        page = await store.groups.list_members(G, after=after, limit=2)
        if not page:
            break
        pages.append([m.user_id for m in page])
        after = (page[-1].joined_at, page[-1].user_id)
    assert pages == [order[0:2], order[2:4], order[4:6]]  # ties (T0+2) split across pages
    assert await store.groups.list_members(G, after=(T0 + 3, "usr_e")) == []
    # the count is kept with the group (not counted per read): every way out counts
    await store.groups.remove_member(G, "usr_a")
    await store.groups.ban(G, "usr_b", "usr_owner", T0 + 9)
    await store.groups.ban(G, "usr_nobody", "usr_owner", T0 + 9)  # not a member
    assert await store.groups.count_members(G) == len(await store.groups.list_members(G)) == 4


async def test_members_add_list_remove(store: Store) -> None:
    await make_group(store)
    await store.groups.add_member(member("usr_b", joined_at=T0 + 2))
    await store.groups.add_member(member("usr_a", joined_at=T0 + 1))
    assert [m.user_id for m in await store.groups.list_members(G)] == [
        "usr_owner",
        "usr_a",
        "usr_b",
    ]
    with pytest.raises(Conflict) as err:
        await store.groups.add_member(member("usr_a", Role.ADMIN, T0 + 3))
    assert err.value.code == "already_member"
    assert (await store.groups.get_member(G, "usr_a")).role is Role.MEMBER  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        await store.groups.add_member(member("usr_a", group_id="grp_none"))
    assert await store.groups.remove_member(G, "usr_a") is True
    assert await store.groups.remove_member(G, "usr_a") is False
    assert await store.groups.get_member(G, "usr_a") is None
    assert await store.groups.member_group_ids("usr_a") == []


async def test_set_role(store: Store) -> None:
    await make_group(store)
    await store.groups.add_member(member("usr_a"))
    assert (await store.groups.set_role(G, "usr_a", Role.ADMIN)).role is Role.ADMIN
    assert (await store.groups.get_member(G, "usr_a")).role is Role.ADMIN  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        await store.groups.set_role(G, "usr_ghost", Role.ADMIN)


async def test_transfer_owner(store: Store) -> None:
    await make_group(store)
    await store.groups.add_member(member("usr_a"))
    group = await store.groups.transfer_owner(G, "usr_owner", "usr_a")
    assert group.owner_id == "usr_a"
    assert (await store.groups.get_group(G)).owner_id == "usr_a"  # type: ignore[union-attr]
    assert (await store.groups.get_member(G, "usr_a")).role is Role.OWNER  # type: ignore[union-attr]
    assert (await store.groups.get_member(G, "usr_owner")).role is Role.ADMIN  # type: ignore[union-attr]


async def test_transfer_owner_to_non_member_changes_nothing(store: Store) -> None:
    await make_group(store)
    with pytest.raises(NotFound):
        await store.groups.transfer_owner(G, "usr_owner", "usr_ghost")
    with pytest.raises(NotFound):
        await store.groups.transfer_owner("grp_none", "usr_owner", "usr_a")
    assert (await store.groups.get_group(G)).owner_id == "usr_owner"  # type: ignore[union-attr]
    assert (await store.groups.get_member(G, "usr_owner")).role is Role.OWNER  # type: ignore[union-attr]
    assert await store.groups.get_member(G, "usr_ghost") is None


async def test_ban_removes_membership_and_unban(store: Store) -> None:
    await make_group(store)
    await store.groups.add_member(member("usr_a"))
    await store.groups.ban(G, "usr_a", "usr_owner", T0)
    await store.groups.ban(G, "usr_a", "usr_owner", T0 + 1)  # idempotent
    assert await store.groups.is_banned(G, "usr_a")
    assert await store.groups.get_member(G, "usr_a") is None
    await store.groups.ban(G, "usr_never_joined", "usr_owner", T0)
    assert await store.groups.is_banned(G, "usr_never_joined")
    assert await store.groups.unban(G, "usr_a") is True
    assert await store.groups.unban(G, "usr_a") is False
    assert not await store.groups.is_banned(G, "usr_a")


async def test_channels_create_update_delete(store: Store) -> None:
    await make_group(store)
    voice = channel("chn_voice", 2, kind=ChannelKind.VOICE, topic="talk")
    await store.groups.create_channel(voice)
    assert await store.groups.get_channel("chn_voice") == voice
    assert await store.groups.get_channel("chn_none") is None
    assert (await store.messages.get_conversation("chn_voice")) is not None
    with pytest.raises(Conflict):
        await store.groups.create_channel(voice)
    with pytest.raises(NotFound):
        await store.groups.create_channel(channel("chn_orphan", 0, group_id="grp_none"))

    updated = await store.groups.update_channel("chn_voice", topic="new topic")
    assert (updated.name, updated.topic) == ("voice", "new topic")
    updated = await store.groups.update_channel("chn_voice", name="lounge")
    assert (updated.name, updated.topic) == ("lounge", "new topic")
    with pytest.raises(NotFound):
        await store.groups.update_channel("chn_none", name="x")

    await store.messages.append(
        "chn_voice",
        message_id="msg_1",
        author_id="usr_owner",
        body="hi",
        nonce="n1",
        reply_to=None,
        now=T0,
    )
    await store.groups.delete_channel("chn_voice")
    assert await store.groups.get_channel("chn_voice") is None
    assert await store.messages.get_conversation("chn_voice") is None
    assert await store.messages.get_message("msg_1") is None
    assert await store.messages.count_messages() == 0
    assert [c.id for c in await store.groups.list_channels(G)] == ["chn_general", "chn_random"]
    with pytest.raises(NotFound):
        await store.groups.delete_channel("chn_voice")


async def test_reorder_channels(store: Store) -> None:
    await make_group(store, channels=("chn_a", "chn_b", "chn_c"))
    reordered = await store.groups.reorder_channels(G, ["chn_c", "chn_a", "chn_b"])
    assert [(c.id, c.position) for c in reordered] == [("chn_c", 0), ("chn_a", 1), ("chn_b", 2)]
    assert await store.groups.list_channels(G) == reordered


@pytest.mark.parametrize(
    "ids",
    [
        ["chn_a", "chn_b"],  # one missing
        ["chn_a", "chn_b", "chn_c", "chn_other"],  # one foreign
        ["chn_a", "chn_b", "chn_b"],  # a duplicate instead of chn_c
        ["chn_a", "chn_b", "chn_c", "chn_c"],  # a duplicate on top
        [],
    ],
)
async def test_reorder_channels_rejects_anything_but_the_exact_set(
    store: Store, ids: list[str]
) -> None:
    await make_group(store, channels=("chn_a", "chn_b", "chn_c"))
    await make_group(store, "grp_2", channels=("chn_other",))
    before = await store.groups.list_channels(G)
    with pytest.raises(InvalidRequest):
        await store.groups.reorder_channels(G, ids)
    assert await store.groups.list_channels(G) == before


async def test_invites_create_list_revoke(store: Store) -> None:
    await make_group(store)
    old, new = invite("inv_old", created_at=T0), invite("inv_new", created_at=T0 + 10, max_uses=3)
    await store.groups.create_invite(old)
    await store.groups.create_invite(new)
    assert await store.groups.get_invite("inv_new") == new
    assert await store.groups.get_invite("inv_none") is None
    assert [i.code for i in await store.groups.list_invites(G)] == ["inv_new", "inv_old"]
    with pytest.raises(Conflict):
        await store.groups.create_invite(old)
    with pytest.raises(NotFound):
        await store.groups.create_invite(invite("inv_x", group_id="grp_none"))
    revoked = await store.groups.revoke_invite("inv_old")
    assert revoked.revoked and (await store.groups.get_invite("inv_old")).revoked  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        await store.groups.revoke_invite("inv_none")


async def test_join_with_invite_adds_member_and_counts_a_use(store: Store) -> None:
    await make_group(store)
    await store.groups.create_invite(invite("inv_1", max_uses=2, expires_at=T0 + 100))
    joined = await store.groups.join_with_invite("inv_1", "usr_a", T0 + 50)
    assert joined == Member(group_id=G, user_id="usr_a", role=Role.MEMBER, joined_at=T0 + 50)
    assert await store.groups.get_member(G, "usr_a") == joined
    assert (await store.groups.get_invite("inv_1")).uses == 1  # type: ignore[union-attr]

    with pytest.raises(Conflict) as err:
        await store.groups.join_with_invite("inv_1", "usr_a", T0 + 51)
    assert err.value.code == "already_member"
    assert (await store.groups.get_invite("inv_1")).uses == 1  # type: ignore[union-attr]

    await store.groups.join_with_invite("inv_1", "usr_b", T0 + 52)
    with pytest.raises(NotFound) as used_up:
        await store.groups.join_with_invite("inv_1", "usr_c", T0 + 53)
    assert used_up.value.code == "invite_invalid"
    assert await store.groups.get_member(G, "usr_c") is None
    assert (await store.groups.get_invite("inv_1")).uses == 2  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"expires_at": T0 + 10}, "expired"),
        ({"max_uses": 1, "uses": 1}, "used up"),
        ({"revoked": True}, "revoked"),
        (None, "unknown"),
    ],
)
async def test_join_with_unusable_invite(
    store: Store, fields: dict[str, object] | None, code: str
) -> None:
    await make_group(store)
    if fields is not None:
        await store.groups.create_invite(invite("inv_1", **fields))
    with pytest.raises(NotFound) as err:
        await store.groups.join_with_invite("inv_1", "usr_a", T0 + 10)
    assert err.value.code == "invite_invalid", code
    assert await store.groups.get_member(G, "usr_a") is None


async def test_join_with_invite_banned(store: Store) -> None:
    await make_group(store)
    await store.groups.create_invite(invite("inv_1"))
    await store.groups.ban(G, "usr_a", "usr_owner", T0)
    with pytest.raises(Forbidden) as err:
        await store.groups.join_with_invite("inv_1", "usr_a", T0 + 1)
    assert err.value.code == "banned"
    assert await store.groups.get_member(G, "usr_a") is None
    assert (await store.groups.get_invite("inv_1")).uses == 0  # type: ignore[union-attr]


async def test_delete_group_cascades(store: Store) -> None:
    await make_group(store)
    await make_group(store, "grp_keep", channels=("chn_keep",))
    await store.groups.add_member(member("usr_a"))
    await store.groups.ban(G, "usr_b", "usr_owner", T0)
    await store.groups.create_invite(invite("inv_1"))
    dm = await store.messages.ensure_conversation(
        Conversation(
            id=direct_conversation_id("usr_a", "usr_b"),
            kind=ConversationKind.DIRECT,
            participants=("usr_a", "usr_b"),
        )
    )
    for i, conversation_id in enumerate(["chn_general", "chn_random", "chn_keep", dm.id]):
        await store.messages.append(
            conversation_id,
            message_id=f"msg_{i}",
            author_id="usr_a",
            body="x",
            nonce=f"n{i}",
            reply_to=None,
            now=T0,
        )
    await store.messages.set_read_marker("usr_a", "chn_general", 1)

    await store.groups.delete_group(G)

    assert await store.groups.get_group(G) is None
    assert await store.groups.list_channels(G) == []
    assert await store.groups.get_channel("chn_general") is None
    assert await store.groups.list_members(G) == []
    assert await store.groups.get_invite("inv_1") is None
    assert not await store.groups.is_banned(G, "usr_b")
    assert await store.groups.member_group_ids("usr_a") == []
    assert await store.messages.get_conversation("chn_general") is None
    assert await store.messages.get_conversation("chn_random") is None
    assert await store.messages.get_message("msg_0") is None
    assert await store.messages.get_message("msg_1") is None
    assert await store.messages.last_seqs(["chn_general", "chn_random"]) == {}
    assert await store.messages.read_markers("usr_a", ["chn_general"]) == {"chn_general": 0}
    # Other groups and direct messages are untouched.
    assert await store.messages.count_messages() == 2
    assert await store.messages.get_message("msg_2") is not None
    assert await store.messages.get_message("msg_3") is not None
    assert [g.id for g in await store.groups.list_groups("usr_owner")] == ["grp_keep"]
    with pytest.raises(NotFound):
        await store.groups.delete_group(G)
