"""The role interfaces behave the same locally and over gRPC.

Every test runs twice through the ``services`` fixture (see ``service_env``):
``local`` calls LocalAuth/Group/MessageService directly; ``grpc`` calls the
Remote* clients of a real gRPC server on port 0. Results, error classes,
error codes and details, and the events seen on the caller's bus must match.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from nodechat.bus import group_topic, user_topic
from nodechat.errors import (
    ChatError,
    Conflict,
    Forbidden,
    InvalidCredentials,
    InvalidRequest,
    NotFound,
    Unauthenticated,
)
from nodechat.models import ChannelKind, ConversationKind, Identity, Reaction, Role
from nodechat.services.api import ReactionResult, SendItem, SendResult
from nodechat.services.messages import MAX_PINS
from nodechat.services.reactions import MAX_REACTIONS
from tests.contract.service_env import MODES, PASSWORD, ServiceEnv, open_services

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=MODES)
async def services(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ServiceEnv]:
    """The role interfaces, local or over gRPC (each test runs in both modes)."""
    async with open_services(request.param, tmp_path) as env:
        yield env


@contextmanager
def fails(cls: type[ChatError], code: str, **details: Any) -> Iterator[None]:
    """The block raises exactly ``cls`` with ``code`` (and these details)."""
    with pytest.raises(ChatError) as info:
        yield
    assert type(info.value) is cls, f"{type(info.value).__name__}: {info.value.to_dict()}"
    assert info.value.code == code
    for key, value in details.items():
        assert info.value.details[key] == value


async def group_with_channel(env: ServiceEnv, owner: Identity) -> tuple[str, str]:
    view = await env.groups.create_group(owner, "Book club", "we read")
    return view.group.id, view.channels[0].id


async def member_of(env: ServiceEnv, owner: Identity, group_id: str, who: Identity) -> None:
    invite = await env.groups.create_invite(owner, group_id)
    await env.groups.join(who, invite.code)


async def chatting_in_a_channel(env: ServiceEnv) -> tuple[Identity, Identity, str, str]:
    """Alice owns a group, Bob is a member, and the group's topic is watched."""
    _, alice = await env.user()
    _, bob = await env.user()
    gid, channel = await group_with_channel(env, alice)
    await member_of(env, alice, gid, bob)
    await env.watch(group_topic(gid))
    return alice, bob, gid, channel


# -- auth ------------------------------------------------------------------


async def test_register_authenticate_refresh_logout(services: ServiceEnv) -> None:
    env = services
    pair, me = await env.user("alice")
    assert pair.user.username == "alice" and pair.user.email == "alice@example.com"
    assert pair.access_token and pair.refresh_token and pair.access_expires_at > 0
    assert await env.auth.authenticate(pair.access_token) == me
    with fails(Conflict, "username_taken"):
        await env.auth.register("Alice", "other@example.com", PASSWORD)
    with fails(InvalidRequest, "invalid_username", field="username"):
        await env.auth.register("a", "a@example.com", PASSWORD)

    renewed = await env.auth.refresh(pair.refresh_token)
    assert renewed.session_id == pair.session_id and renewed.refresh_token != pair.refresh_token
    await env.watch(user_topic(me.user_id))
    with fails(Unauthenticated, "refresh_token_reused"):
        await env.auth.refresh(pair.refresh_token)
    revoked = env.seen("session.revoked", user_topic(me.user_id))
    assert [e.data["session_ids"] for e in revoked] == [[pair.session_id]]
    with fails(Unauthenticated, "session_revoked"):
        await env.auth.authenticate(renewed.access_token)

    second = await env.auth.login("ALICE@example.com", PASSWORD, address="10.0.0.1")
    assert second.user.id == me.user_id
    with fails(InvalidCredentials, "invalid_credentials"):
        await env.auth.login("alice", "wrong password!")
    await env.auth.logout(Identity(me.user_id, second.session_id))
    assert env.seen("session.revoked")[-1].data["session_ids"] == [second.session_id]
    with fails(Unauthenticated, "invalid_token"):
        await env.auth.authenticate("not a token")


async def test_users_and_profile(services: ServiceEnv) -> None:
    env = services
    alice, me = await env.user()
    bob, bob_id = await env.user()
    assert (await env.auth.get_user(me)).email == alice.user.email
    assert (await env.auth.get_user(me, bob.user.id)).username == bob.user.username
    assert (await env.auth.find_user(me, bob.user.username)).id == bob.user.id
    users = await env.auth.get_users(me, [bob.user.id, "u_missing", alice.user.id])
    assert sorted(u.id for u in users) == sorted([alice.user.id, bob.user.id])
    with fails(NotFound, "user_not_found"):
        await env.auth.get_user(me, "u_missing")

    await env.watch(user_topic(me.user_id))
    updated = await env.auth.update_profile(me, about="reading")
    assert updated.about == "reading" and updated.display_name == alice.user.display_name
    updated = await env.auth.update_profile(me, display_name="Alice A.")
    assert (updated.display_name, updated.about) == ("Alice A.", "reading")
    assert [e.data["display_name"] for e in env.seen("user.updated")] == [
        alice.user.display_name,
        "Alice A.",
    ]

    with fails(InvalidCredentials, "invalid_credentials"):
        await env.auth.change_password(me, "not the password", "new password 1")
    await env.auth.change_password(me, PASSWORD, "new password 1")
    assert (await env.auth.login(alice.user.username, "new password 1")).user.id == me.user_id
    assert await env.auth.logout_all(bob_id) == 1


# -- groups ----------------------------------------------------------------


async def test_groups_channels_and_roles(services: ServiceEnv) -> None:
    env = services
    _, owner = await env.user()
    _, bob = await env.user()
    await env.watch(user_topic(owner.user_id))
    view = await env.groups.create_group(owner, "Book club", "we read")
    gid = view.group.id
    assert view.role == "owner" and view.member_count == 1 and view.group.owner_id == owner.user_id
    assert [(c.name, c.kind) for c in view.channels] == [("welcome", ChannelKind.TEXT)]
    assert env.seen("group.joined") or env.seen("group.created")
    await env.watch(group_topic(gid))

    voice = await env.groups.create_channel(owner, gid, "lounge", "voice", "talk")
    assert (voice.kind, voice.topic, voice.position) == (ChannelKind.VOICE, "talk", 1)
    with fails(InvalidRequest, "invalid_kind"):
        await env.groups.create_channel(owner, gid, "bad", "video")
    renamed = await env.groups.update_channel(owner, voice.id, topic="quiet please")
    assert (renamed.name, renamed.topic) == ("lounge", "quiet please")
    order = await env.groups.reorder_channels(owner, gid, [voice.id, view.channels[0].id])
    assert [c.id for c in order] == [voice.id, view.channels[0].id]
    updated = await env.groups.update_group(owner, gid, description="we read books")
    assert (updated.group.name, updated.group.description) == ("Book club", "we read books")
    assert [e.kind for e in env.seen("channel.created", group_topic(gid))] == ["channel.created"]
    assert env.seen("group.updated", group_topic(gid))

    with fails(NotFound, "group_not_found"):
        await env.groups.get_group(bob, gid)
    with fails(NotFound, "group_not_found"):
        await env.groups.create_channel(bob, gid, "mine")
    await member_of(env, owner, gid, bob)
    assert env.seen("member.joined", group_topic(gid))[-1].data["user_id"] == bob.user_id
    with fails(Forbidden, "forbidden"):
        await env.groups.create_channel(bob, gid, "mine")
    with fails(InvalidRequest, "invalid_role"):
        await env.groups.set_role(owner, gid, bob.user_id, "superuser")
    member = await env.groups.set_role(owner, gid, bob.user_id, "admin")
    assert (member.role, member.user_id) == (Role.ADMIN, bob.user_id)
    members = (await env.groups.list_members(owner, gid)).members
    assert {(m.user_id, m.role) for m in members} == {
        (owner.user_id, Role.OWNER),
        (bob.user_id, Role.ADMIN),
    }
    assert [v.group.id for v in await env.groups.list_groups(bob)] == [gid]
    assert await env.groups.member_group_ids(bob.user_id) == [gid]

    with fails(Conflict, "owner_cannot_leave"):
        await env.groups.leave(owner, gid)
    moved = await env.groups.transfer_ownership(owner, gid, bob.user_id)
    assert moved.group.owner_id == bob.user_id and moved.role == "admin"
    await env.groups.leave(owner, gid)
    assert env.seen("member.left", group_topic(gid))
    await env.groups.delete_channel(bob, voice.id)
    assert env.seen("channel.deleted", group_topic(gid))
    await env.groups.delete_group(bob, gid)
    assert env.seen("group.deleted", group_topic(gid))
    with fails(NotFound, "group_not_found"):
        await env.groups.get_group(bob, gid)


async def test_member_list_pages_carry_the_users_and_a_cursor(services: ServiceEnv) -> None:
    env = services
    _, owner = await env.user()
    gid, _ = await group_with_channel(env, owner)
    others = [(await env.user())[1] for _ in range(4)]
    for who in others:
        await member_of(env, owner, gid, who)
    seen: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        page = await env.groups.list_members(owner, gid, after=after, limit=2)
        pages += 1
        assert [u.id for u in page.users] == [m.user_id for m in page.members]
        seen += [m.user_id for m in page.members]
        if page.next is None:
            break
        after = page.next
    assert pages == 3 and seen[0] == owner.user_id
    assert sorted(seen) == sorted([owner.user_id, *(o.user_id for o in others)])
    whole = await env.groups.list_members(owner, gid)
    assert [m.user_id for m in whole.members] == seen and whole.next is None
    assert (await env.groups.get_group(owner, gid)).member_count == 5
    for bad in ("not-a-cursor", "\u00b2:" + owner.user_id, "\u0663:" + owner.user_id):
        with fails(InvalidRequest, "invalid_cursor", field="after"):
            await env.groups.list_members(owner, gid, after=bad)
    with fails(InvalidRequest, "invalid_request", field="limit"):
        await env.groups.list_members(owner, gid, limit=1001)
    _, stranger = await env.user()
    with fails(NotFound, "group_not_found"):
        await env.groups.list_members(stranger, gid)


async def test_invites_kick_and_ban(services: ServiceEnv) -> None:
    env = services
    _, owner = await env.user()
    _, bob = await env.user()
    _, carol = await env.user()
    gid, _ = await group_with_channel(env, owner)
    await env.watch(group_topic(gid))
    once = await env.groups.create_invite(owner, gid, max_uses=1)
    assert once.max_uses == 1 and once.expires_at is not None and once.uses == 0
    forever = await env.groups.create_invite(owner, gid, expires_in=60)
    assert forever.max_uses is None
    assert {i.code for i in await env.groups.list_invites(owner, gid)} == {once.code, forever.code}
    joined = await env.groups.join(bob, once.code)
    assert joined.group.id == gid and joined.role == "member" and joined.member_count == 2
    with fails(NotFound, "invite_invalid"):
        await env.groups.join(carol, once.code)
    with fails(Conflict, "already_member"):
        await env.groups.join(bob, forever.code)
    revoked = await env.groups.revoke_invite(owner, forever.code)
    assert revoked.revoked
    with fails(NotFound, "invite_invalid"):
        await env.groups.join(carol, forever.code)

    await env.groups.kick(owner, gid, bob.user_id)
    assert env.seen("member.kicked", group_topic(gid))[-1].data["user_id"] == bob.user_id
    with fails(Conflict, "self_target"):
        await env.groups.kick(owner, gid, owner.user_id)
    again = await env.groups.create_invite(owner, gid)
    await env.groups.join(bob, again.code)
    await env.groups.ban(owner, gid, bob.user_id)
    assert env.seen("member.banned", group_topic(gid))
    with fails(Forbidden, "banned"):
        await env.groups.join(bob, again.code)
    await env.groups.unban(owner, gid, bob.user_id)
    with fails(NotFound, "ban_not_found"):
        await env.groups.unban(owner, gid, bob.user_id)
    assert (await env.groups.join(bob, again.code)).member_count == 2


# -- messages --------------------------------------------------------------


async def test_send_edit_delete_history(services: ServiceEnv) -> None:
    env = services
    alice, bob, gid, channel = await chatting_in_a_channel(env)

    first = await env.messages.send(alice, channel, "hello", "n-1")
    assert first.created and first.message.seq == 1 and first.message.reply_to is None
    created = env.seen("message.created", group_topic(gid))
    assert [(e.data["id"], e.data["seq"], e.data["author_id"]) for e in created] == [
        (first.message.id, 1, alice.user_id)
    ]
    again = await env.messages.send(alice, channel, "hello", "n-1")
    assert not again.created and again.message == first.message
    assert len(env.seen("message.created")) == 1
    reply = await env.messages.send(bob, channel, "hi!", "n-1", reply_to=first.message.id)
    assert reply.created and reply.message.seq == 2 and reply.message.reply_to == first.message.id
    with fails(InvalidRequest, "invalid_reply", field="reply_to"):
        await env.messages.send(bob, channel, "?", "n-2", reply_to="m_missing")
    with fails(InvalidRequest, "invalid_body", field="body"):
        await env.messages.send(bob, channel, "   ", "n-3")
    with fails(NotFound, "conversation_not_found"):
        await env.messages.send(bob, "ch_missing", "hi", "n-4")

    edited = await env.messages.edit(alice, first.message.id, "hello, all")
    assert edited.body == "hello, all" and edited.edited_at is not None
    assert env.seen("message.edited", group_topic(gid))[-1].data["body"] == "hello, all"
    with fails(Forbidden, "forbidden"):
        await env.messages.edit(bob, first.message.id, "mine now")
    deleted = await env.messages.delete(alice, reply.message.id)  # the owner moderates
    assert deleted.deleted and deleted.seq == 2
    assert env.seen("message.deleted", group_topic(gid))[-1].data["id"] == reply.message.id

    for i in range(3, 8):
        await env.messages.send(bob, channel, f"message {i}", f"bulk-{i}")
    newest = await env.messages.history(bob, channel, limit=3)
    assert [m.seq for m in newest.messages] == [7, 6, 5] and newest.has_more
    older = await env.messages.history(bob, channel, before=5, limit=10)
    assert [m.seq for m in older.messages] == [4, 3, 2, 1] and not older.has_more
    assert older.messages[2].deleted and older.messages[3].edited_at is not None
    after = await env.messages.history(bob, channel, after=5)
    assert [m.seq for m in after.messages] == [6, 7] and not after.has_more
    between = await env.messages.history(bob, channel, before=6, after=1)  # a range
    assert [m.seq for m in between.messages] == [2, 3, 4, 5] and not between.has_more
    first = await env.messages.history(bob, channel, before=6, after=1, limit=2)
    assert [m.seq for m in first.messages] == [2, 3] and first.has_more
    with fails(InvalidRequest, "invalid_request", field="before"):
        await env.messages.history(bob, channel, before=-1)

    replay = await env.messages.replay(bob, channel, 5, 10)
    assert (replay.conversation_id, [m.seq for m in replay.messages]) == (channel, [6, 7])
    assert replay.last_seq == 7 and not replay.too_old
    gap = await env.messages.replay(bob, channel, 0, 3)
    assert gap.too_old and gap.messages == [] and gap.last_seq == 7

    await env.watch(user_topic(bob.user_id))
    assert await env.messages.mark_read(bob, channel, 5) == 5
    assert await env.messages.mark_read(bob, channel, 99) == 7
    assert env.seen("read.updated", user_topic(bob.user_id))[-1].data == {
        "conversation": channel,
        "seq": 7,
    }
    await env.messages.typing(bob, channel)
    assert env.seen("typing", group_topic(gid))[-1].data["user_id"] == bob.user_id


async def test_pins_in_a_channel(services: ServiceEnv) -> None:
    env = services
    alice, bob, gid, channel = await chatting_in_a_channel(env)
    _, carol = await env.user()  # not a member
    first = (await env.messages.send(bob, channel, "read chapter 1", "p-1")).message
    second = (await env.messages.send(alice, channel, "and chapter 2", "p-2")).message

    pinned = await env.messages.pin(alice, first.id)
    assert pinned.message == first and pinned.pin.pinned_by == alice.user_id
    assert pinned.pin.conversation_id == channel
    events = env.seen("message.pinned", group_topic(gid))
    assert [(e.data["message_id"], e.data["by"], e.data["conversation"]) for e in events] == [
        (first.id, alice.user_id, channel)
    ]
    assert events[0].data["pinned_at"] == pinned.pin.pinned_at
    assert events[0].data["message"]["body"] == "read chapter 1"
    again = await env.messages.pin(alice, first.id)  # idempotent: the first pin, no event
    assert again.pin == pinned.pin and len(env.seen("message.pinned")) == 1
    await env.messages.pin(alice, second.id)
    listed = await env.messages.pins(bob, channel)  # any member reads the pins
    assert [p.message.id for p in listed] == [second.id, first.id]
    assert listed[1] == pinned

    with fails(Forbidden, "forbidden"):  # a plain member may not pin in a channel
        await env.messages.pin(bob, first.id)
    with fails(Forbidden, "forbidden"):
        await env.messages.unpin(bob, first.id)
    with fails(NotFound, "message_not_found"):  # outsiders learn nothing
        await env.messages.pin(carol, first.id)
    with fails(NotFound, "conversation_not_found"):
        await env.messages.pins(carol, channel)
    with fails(NotFound, "message_not_found"):
        await env.messages.pin(alice, "m_missing")

    await env.groups.set_role(alice, gid, bob.user_id, Role.ADMIN)
    unpinned = await env.messages.unpin(bob, second.id)  # an admin may
    assert unpinned.id == second.id
    gone = env.seen("message.unpinned", group_topic(gid))
    assert [(e.data["message_id"], e.data["by"]) for e in gone] == [(second.id, bob.user_id)]
    await env.messages.unpin(bob, second.id)  # idempotent: no second event
    assert len(env.seen("message.unpinned")) == 1

    await env.messages.delete(alice, first.id)  # a deleted message leaves the pins
    assert await env.messages.pins(alice, channel) == []
    assert env.seen("message.unpinned")[-1].data["message_id"] == first.id
    with fails(NotFound, "message_not_found"):
        await env.messages.pin(alice, first.id)

    await env.groups.kick(alice, gid, bob.user_id)
    with fails(NotFound, "conversation_not_found"):
        await env.messages.pins(bob, channel)
    with fails(NotFound, "message_not_found"):
        await env.messages.pin(bob, second.id)


async def test_pins_in_direct_and_self_conversations_and_the_limit(
    services: ServiceEnv,
) -> None:
    env = services
    _, alice = await env.user()
    _, bob = await env.user()
    dm = (await env.messages.open_direct(alice, bob.user_id)).conversation.id
    sent = (await env.messages.send(alice, dm, "our secret", "d-1")).message
    await env.watch(user_topic(alice.user_id), user_topic(bob.user_id))
    assert (await env.messages.pin(bob, sent.id)).pin.pinned_by == bob.user_id  # either side
    assert {t for t, e in env.events if e.kind == "message.pinned"} == {
        user_topic(alice.user_id),
        user_topic(bob.user_id),
    }
    assert [p.message.id for p in await env.messages.pins(alice, dm)] == [sent.id]

    notes = f"self:{alice.user_id}"
    ids = [
        (await env.messages.send(alice, notes, f"note {i}", f"s-{i}")).message.id
        for i in range(MAX_PINS + 1)
    ]
    for message_id in ids[:MAX_PINS]:
        await env.messages.pin(alice, message_id)
    with fails(Conflict, "too_many_pins"):
        await env.messages.pin(alice, ids[-1])
    with fails(NotFound, "message_not_found"):  # someone else's notes
        await env.messages.pin(bob, ids[0])
    await env.messages.unpin(alice, ids[0])
    await env.messages.pin(alice, ids[-1])
    assert len(await env.messages.pins(alice, notes)) == MAX_PINS


async def test_reactions(services: ServiceEnv) -> None:
    env = services
    alice, bob, gid, channel = await chatting_in_a_channel(env)
    _, carol = await env.user()
    sent = (await env.messages.send(alice, channel, "vote", "r-1")).message
    mid = sent.id

    added = await env.messages.react(bob, mid, "👍")
    assert added == ReactionResult(mid, channel, "👍", 1, True, True)
    assert await env.messages.react(bob, mid, "👍") == ReactionResult(
        mid, channel, "👍", 1, True, False
    )
    await env.messages.react(alice, mid, "👍")
    await env.messages.react(alice, mid, ":tada:")
    events = env.seen("message.reaction", group_topic(gid))
    assert [
        (e.data["user_id"], e.data["emoji"], e.data["count"], e.data["added"]) for e in events
    ] == [
        (bob.user_id, "👍", 1, True),
        (alice.user_id, "👍", 2, True),
        (alice.user_id, ":tada:", 1, True),
    ]
    assert events[0].data["message_id"] == mid and events[0].data["conversation"] == channel
    seen_by_bob = (await env.messages.history(bob, channel)).messages[0].reactions
    assert seen_by_bob == (Reaction("👍", 2, True), Reaction(":tada:", 1, False))
    seen_by_alice = (await env.messages.history(alice, channel)).messages[0].reactions
    assert seen_by_alice == (Reaction("👍", 2, True), Reaction(":tada:", 1, True))
    replayed = await env.messages.replay(bob, channel, 0, 10)
    assert replayed.messages[0].reactions == seen_by_bob

    removed = await env.messages.unreact(bob, mid, "👍")
    assert removed == ReactionResult(mid, channel, "👍", 1, False, True)
    assert await env.messages.unreact(bob, mid, "👍") == ReactionResult(
        mid, channel, "👍", 1, False, False
    )
    assert env.seen("message.reaction")[-1].data["added"] is False
    assert len(env.seen("message.reaction")) == 4  # repeats publish nothing

    for bad in ("", "thumbs", "👍 👍", "a\x00", ":no spaces:", "x" * 40):
        with fails(InvalidRequest, "invalid_emoji", field="emoji"):
            await env.messages.react(bob, mid, bad)
    for i in range(MAX_REACTIONS - 2):
        await env.messages.react(bob, mid, f":e{i}:")
    with fails(Conflict, "too_many_reactions"):
        await env.messages.react(bob, mid, ":one_too_many:")

    with fails(NotFound, "message_not_found"):  # an outsider learns nothing
        await env.messages.react(carol, mid, "👍")
    with fails(NotFound, "message_not_found"):
        await env.messages.react(bob, "m_missing", "👍")
    await env.groups.kick(alice, gid, bob.user_id)
    with fails(NotFound, "message_not_found"):  # nor does a kicked member
        await env.messages.unreact(bob, mid, ":e0:")
    await env.messages.delete(alice, mid)
    with fails(Conflict, "message_deleted"):
        await env.messages.react(alice, mid, "👍")
    assert (await env.messages.history(alice, channel)).messages[0].reactions == ()


async def test_direct_messages_blocks_and_conversations(services: ServiceEnv) -> None:
    env = services
    _, alice = await env.user()
    _, bob = await env.user()
    gid, channel = await group_with_channel(env, alice)
    state = await env.messages.open_direct(alice, bob.user_id)
    dm = state.conversation.id
    assert state.conversation.kind is ConversationKind.DIRECT and state.peer_id == bob.user_id
    assert state.conversation.group_id is None and state.extra == {}
    assert sorted(state.conversation.participants) == sorted([alice.user_id, bob.user_id])
    with fails(Conflict, "self_target"):
        await env.messages.open_direct(alice, alice.user_id)
    with fails(NotFound, "user_not_found"):
        await env.messages.open_direct(alice, "u_missing")

    await env.watch(user_topic(bob.user_id))
    sent = await env.messages.send(alice, dm, "psst", "dm-1")
    assert [e.data["id"] for e in env.seen("message.created", user_topic(bob.user_id))] == [
        sent.message.id
    ]
    assert await env.messages.direct_peer_ids(bob.user_id) == [alice.user_id]

    states = {s.conversation.id: s for s in await env.messages.conversations(bob)}
    assert states[dm].unread == 1 and states[dm].conversation.last_seq == 1
    assert states[f"self:{bob.user_id}"].conversation.kind is ConversationKind.SELF
    assert channel not in states
    mine = {s.conversation.id: s for s in await env.messages.conversations(alice)}
    assert mine[channel].conversation.group_id == gid
    notes = await env.messages.send(bob, f"self:{bob.user_id}", "buy milk", "note-1")
    assert notes.message.seq == 1

    await env.messages.block(bob, alice.user_id)
    with fails(Forbidden, "blocked"):
        await env.messages.send(alice, dm, "hello?", "dm-2")
    with fails(Conflict, "self_target"):
        await env.messages.block(bob, bob.user_id)
    await env.messages.unblock(bob, alice.user_id)
    assert (await env.messages.send(alice, dm, "hello?", "dm-2")).message.seq == 2


async def test_a_new_users_conversations_list_notes_without_storing_them(
    services: ServiceEnv,
) -> None:
    # a connect reads and never waits for a commit: notes to self are stored at first use
    env = services
    _, carol = await env.user()
    notes = f"self:{carol.user_id}"
    assert env.store is not None
    for _ in range(2):
        states = {s.conversation.id: s for s in await env.messages.conversations(carol)}
        assert states[notes].conversation.kind is ConversationKind.SELF
        assert states[notes].conversation.last_seq == 0 and states[notes].unread == 0
        assert await env.store.messages.get_conversation(notes) is None
    page = await env.messages.history(carol, notes)
    assert page.messages == []
    assert (await env.messages.send(carol, notes, "first note", "n-1")).message.seq == 1
    states = {s.conversation.id: s for s in await env.messages.conversations(carol)}
    assert states[notes].conversation.last_seq == 1


async def test_concurrent_sends_are_gap_free_and_batched(services: ServiceEnv) -> None:
    env = services
    alice, bob, gid, channel = await chatting_in_a_channel(env)
    remote = env.remote_messages
    batches_before = remote.send_many_calls if remote is not None else 0

    sends: list[Awaitable[Any]] = [
        env.messages.send(alice if i % 2 else bob, channel, f"message {i}", f"c-{i}")
        for i in range(200)
    ]
    sends.append(env.messages.send(bob, "ch_missing", "lost", "c-missing"))
    results = await asyncio.gather(*sends, return_exceptions=True)

    *sent, missing = results
    assert isinstance(missing, NotFound) and missing.code == "conversation_not_found"
    ok = [r for r in sent if isinstance(r, SendResult)]
    assert len(ok) == 200
    seqs = sorted(r.message.seq for r in ok)
    assert seqs == list(range(1, 201))
    assert all(r.created for r in ok)
    bodies = {r.message.body for r in ok}
    assert bodies == {f"message {i}" for i in range(200)}
    created = env.seen("message.created", group_topic(gid))
    assert [e.data["seq"] for e in created] == list(range(1, 201))
    if remote is not None:
        assert 1 <= remote.send_many_calls - batches_before <= 3
    retried = await asyncio.gather(
        *(env.messages.send(bob, channel, "again", f"c-{i}") for i in range(0, 200, 2))
    )
    assert not any(r.created for r in retried)
    assert len(env.seen("message.created")) == 200


async def test_send_many_keeps_item_order_and_answers_each_item(services: ServiceEnv) -> None:
    env = services
    alice, bob, gid, channel = await chatting_in_a_channel(env)
    notes = f"self:{alice.user_id}"
    items = [SendItem(alice, channel, f"in order {i}", f"o-{i}") for i in range(30)]
    items.insert(5, SendItem(alice, channel, "   ", "blank"))
    items.insert(9, SendItem(bob, "ch_missing", "lost", "m-1"))
    items.insert(12, SendItem(alice, notes, "a note", "note-1"))
    items.insert(20, SendItem(alice, channel, "dup", "o-3"))  # a retry of an earlier item

    outcomes = await env.messages.send_many(items)

    assert len(outcomes) == len(items)
    blank, missing, note, dup = outcomes[5], outcomes[9], outcomes[12], outcomes[20]
    assert isinstance(blank, InvalidRequest) and blank.code == "invalid_body"
    assert isinstance(missing, NotFound) and missing.code == "conversation_not_found"
    assert isinstance(note, SendResult) and note.message.conversation_id == notes
    assert isinstance(dup, SendResult) and not dup.created
    ordered = [o for i, o in enumerate(outcomes) if i not in (5, 9, 12, 20)]
    assert all(isinstance(o, SendResult) and o.created for o in ordered)
    got = [(o.message.seq, o.message.body) for o in ordered if isinstance(o, SendResult)]
    assert got == [(i + 1, f"in order {i}") for i in range(30)]
    assert dup.message.seq == 4  # the stored o-3
    created = env.seen("message.created", group_topic(gid))
    assert [e.data["seq"] for e in created] == list(range(1, 31))
    assert await env.messages.send_many([]) == []
