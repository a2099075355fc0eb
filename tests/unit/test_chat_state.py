"""The client's pure state model, profile store and slash-command parser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nodechat.chatclient import ChatState, Profile, ProfileStore, parse_command
from nodechat.errors import ChatError

ME, BOB = "u_me", "u_bob"
CH, CH2, VOICE = "ch_1", "ch_2", "ch_v"
DM = f"dm:{BOB}:{ME}"


def snapshot(**extra: Any) -> dict[str, Any]:
    channels = [
        {"id": CH, "group_id": "g_1", "name": "welcome", "kind": "text", "position": 0},
        {"id": CH2, "group_id": "g_1", "name": "general", "kind": "text", "position": 1},
        {"id": VOICE, "group_id": "g_1", "name": "lounge", "kind": "voice", "position": 2},
    ]
    convs = [
        {
            "id": c["id"],
            "kind": "channel",
            "group_id": "g_1",
            "peer_id": None,
            "last_seq": 0,
            "last_read_seq": 0,
            "unread": 0,
        }
        for c in channels
    ]
    convs += [
        {
            "id": DM,
            "kind": "direct",
            "group_id": None,
            "peer_id": BOB,
            "last_seq": 0,
            "last_read_seq": 0,
            "unread": 0,
        },
        {
            "id": f"self:{ME}",
            "kind": "self",
            "group_id": None,
            "peer_id": None,
            "last_seq": 0,
            "last_read_seq": 0,
            "unread": 0,
        },
    ]
    return {
        "user": {"id": ME, "username": "me"},
        "groups": [{"id": "g_1", "name": "Hikers", "role": "owner", "channels": channels}],
        "conversations": convs,
        "users": [{"id": BOB, "username": "bob"}],
        "online": [ME],
        "resume": {},
        **extra,
    }


def message(
    conv: str, seq: int, author: str = BOB, body: str = "hi", mentions: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {
        "id": f"m_{conv}_{seq}",
        "conversation": conv,
        "seq": seq,
        "author_id": author,
        "body": body,
        "created_at": 1_800_000_000_000,
        "mentions": list(mentions),
    }


def test_unread_and_mentions_count_and_clear_on_read() -> None:
    state = ChatState()
    state.apply_snapshot(snapshot())
    state.apply_event("message.created", message(CH2, 1, body="@me hi", mentions=("me",)), 0)
    change = state.apply_event("message.created", message(CH2, 2), 0)
    state.apply_event("message.created", message(CH2, 2), 0)  # duplicate seq: ignored
    state.apply_event("message.created", message(CH2, 3, author=ME), 0)  # mine: not unread
    conv = state.conversations[CH2]
    assert (conv.unread, conv.mentions, conv.last_seq) == (2, 1, 3)
    assert [m.seq for m in conv.messages] == [1, 2, 3]
    assert change.sidebar and CH2 in change.conversations
    assert state.next_unread(CH) == CH2 and state.next_unread(CH2) is None
    state.apply_event("read.updated", {"conversation": CH2, "seq": 3}, 0)
    assert (conv.unread, conv.mentions) == (0, 0)


def test_mentions_counted_from_history_are_not_counted_again_on_replay() -> None:
    state = ChatState()
    snap = snapshot()
    snap["conversations"][1].update(last_seq=3, last_read_seq=1, unread=2)
    state.apply_snapshot(snap)
    unread = [message(CH2, 2, mentions=("me",)), message(CH2, 3, mentions=("me",), author=ME)]
    state.count_mentions(CH2, unread)
    assert state.conversations[CH2].mentions == 1  # my own message does not count
    state.apply_event("message.created", unread[0], 0)  # replayed after the count
    state.apply_event("message.created", message(CH2, 4, mentions=("me",)), 0)  # live
    assert state.conversations[CH2].mentions == 2


def test_notification_levels_per_conversation() -> None:
    state = ChatState()
    state.apply_snapshot(snapshot())
    assert (state.level(CH), state.level(DM)) == ("mentions", "all")  # the defaults
    state.set_level(CH, "all")
    state.set_level(DM, "mentions")
    plain = state.apply_event("message.created", message(CH, 1), 0)
    direct = state.apply_event("message.created", message(DM, 1), 0)
    direct_mention = state.apply_event("message.created", message(DM, 2, mentions=("me",)), 0)
    assert (len(plain.notices), len(direct.notices), len(direct_mention.notices)) == (1, 0, 1)
    state.set_level(CH, "none")
    assert CH in state.muted and CH not in state.levels
    muted = state.apply_event("message.created", message(CH, 2, mentions=("me",)), 0)
    assert not muted.notices and state.conversations[CH].mentions == 1  # counted, not told
    state.set_level(CH, "mentions")  # back to the default: nothing stored
    assert CH not in state.muted and CH not in state.levels
    with pytest.raises(ValueError):
        state.set_level(CH, "loud")


def test_profile_keeps_notification_settings(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path)
    store.save(Profile("p", "ws://x/", "ann", "rt", ("c1",), "c2", (("c3", "all"),), True))
    loaded = store.load("p")
    assert loaded is not None
    assert (loaded.muted, loaded.last_conversation, loaded.notify, loaded.dnd) == (
        ("c1",),
        "c2",
        (("c3", "all"),),
        True,
    )
    store.forget_token("p")
    after = store.load("p")
    assert after is not None and after.refresh_token is None and after.notify == loaded.notify


def test_notices_for_mentions_and_direct_messages_unless_muted() -> None:
    state = ChatState()
    state.apply_snapshot(snapshot())
    plain = state.apply_event("message.created", message(CH, 1), 0)
    mention = state.apply_event("message.created", message(CH, 2, mentions=("me",)), 0)
    direct = state.apply_event("message.created", message(DM, 1), 0)
    state.muted.add(DM)
    muted = state.apply_event("message.created", message(DM, 2), 0)
    assert (len(plain.notices), len(mention.notices), len(direct.notices), len(muted.notices)) == (
        0,
        1,
        1,
        0,
    )
    assert mention.notices[0].mention and not direct.notices[0].mention


def test_replayed_messages_are_not_counted_twice() -> None:
    state = ChatState()
    snap = snapshot()
    snap["conversations"][0].update(last_seq=2, unread=2)  # the snapshot counts seqs 1-2
    state.apply_snapshot(snap)
    for seq in (1, 2):
        state.apply_event("message.created", message(CH, seq), 0)
    assert state.conversations[CH].unread == 2
    assert state.resume_points()[CH] == 2


def test_resume_too_old_discards_the_cache() -> None:
    state = ChatState()
    state.apply_snapshot(snapshot())
    state.add_history(CH, [message(CH, 1)], has_more=False, older=False)
    change = state.apply_snapshot(snapshot(resume={CH: {"too_old": True, "last_seq": 5000}}))
    assert change.reload == {CH} and state.conversations[CH].messages == []


def test_typing_edit_delete_presence_voice_and_unknown_events() -> None:
    state = ChatState()
    state.apply_snapshot(snapshot(voice={VOICE: [BOB]}))
    state.apply_event("typing", {"conversation": CH, "user_id": BOB}, 100.0)
    assert state.typing_in(CH, 101.0) == ["bob"] and state.typing_in(CH, 200.0) == []
    state.apply_event("message.created", message(CH, 1), 0)
    state.apply_event("message.edited", {**message(CH, 1, body="new"), "edited_at": 5}, 0)
    assert state.conversations[CH].messages[0].body == "new"
    state.apply_event("message.deleted", {"id": f"m_{CH}_1", "conversation": CH, "seq": 1}, 0)
    assert state.conversations[CH].messages[0].deleted
    state.apply_event("presence", {"user_id": BOB, "status": "online"}, 0)
    assert BOB in state.online
    assert state.voice == {VOICE: [BOB]}
    state.apply_event("voice.updated", {"channel": VOICE, "participants": [BOB, ME]}, 0)
    assert state.voice[VOICE] == [BOB, ME]
    assert state.apply_event("something.new", {"x": 1}, 0).sidebar is False
    assert state.apply_event("message.created", {"bad": "shape"}, 0).sidebar is False
    state.apply_snapshot(snapshot())  # a server without voice: no participants, no crash
    assert state.voice == {}


def test_sidebar_marks_voice_and_orders_unread_first() -> None:
    state = ChatState()
    state.apply_snapshot(snapshot())
    state.apply_event("message.created", message(DM, 1), 0)
    labels = [e.label for e in state.sidebar()]
    assert labels[:4] == ["Hikers", "# welcome", "# general", "♪ lounge"]
    first = state.sidebar(unread_first=True)
    assert [e.label for e in first[:2]] == ["Unread", "@bob"]


def test_profile_store_is_owner_only_and_forgets_tokens(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path / "profiles")
    path = store.save(Profile("work", "ws://h:1/", "ann", "secret-refresh", ("ch_1",)))
    assert path.stat().st_mode & 0o777 == 0o600
    assert store.load("work") == Profile("work", "ws://h:1/", "ann", "secret-refresh", ("ch_1",))
    store.forget_token("work")
    loaded = store.load("work")
    assert loaded is not None and loaded.refresh_token is None and loaded.username == "ann"
    assert store.load("absent") is None
    with pytest.raises(ChatError):
        store.path("../escape")


def test_slash_commands_parse() -> None:
    assert parse_command("hello") is None
    assert parse_command("//not a command") is None
    join = parse_command("/join abc123")
    assert join is not None and join.name == "join" and join.args == ("abc123",)
    group = parse_command("/group new The Hikers")
    assert group is not None and group.rest == "new The Hikers"
    for bad in ("/join", "/group Hikers", "/frobnicate"):
        with pytest.raises(ChatError):
            parse_command(bad)
