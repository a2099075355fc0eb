"""Reactions without I/O: what an emoji may be, and how the client state follows them."""

from __future__ import annotations

import pytest

from nodechat.chatclient import ChatState
from nodechat.errors import InvalidRequest
from nodechat.services.reactions import check_emoji
from tests.unit.test_chat_state import BOB, CH, ME, message, snapshot


@pytest.mark.parametrize(
    "emoji",
    ["👍", "❤️", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "1️⃣", "#️⃣", "✅", ":tada:", ":+1:", ":thumbs_up:"],
)
def test_emoji_accepted(emoji: str) -> None:
    assert check_emoji(emoji) == emoji


@pytest.mark.parametrize(
    "emoji",
    ["", " ", "👍 ", "a", "ok", "日本", "\x00", "👍\n", ":Tada:", ":a b:", "::", "🎉" * 33],
)
def test_emoji_refused(emoji: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_emoji(emoji)
    assert refused.value.code == "invalid_emoji" and refused.value.details == {"field": "emoji"}


def _reaction(emoji: str, user: str, count: int, added: bool = True) -> dict[str, object]:
    return {
        "message_id": f"m_{CH}_1",
        "conversation": CH,
        "emoji": emoji,
        "user_id": user,
        "count": count,
        "added": added,
    }


def test_state_follows_history_and_reaction_events() -> None:
    state = ChatState()
    state.apply_snapshot(snapshot())
    wire = {**message(CH, 1), "reactions": [{"emoji": "👍", "count": 1, "me": False}]}
    state.add_history(CH, [wire], False, older=False)
    msg = state.conversations[CH].messages[0]
    assert msg.reactions == {"👍": (1, False)}
    assert not state.reacted(CH, msg.id, "👍")

    change = state.apply_event("message.reaction", _reaction("👍", ME, 2), 0.0)
    assert change.conversations == {CH} and msg.reactions == {"👍": (2, True)}
    assert state.reacted(CH, msg.id, "👍")
    state.apply_event("message.reaction", _reaction("🎉", BOB, 1), 0.0)
    assert list(msg.reactions) == ["👍", "🎉"] and msg.reactions["🎉"] == (1, False)

    # an edit event carries no reactions: those known stay
    state.apply_event("message.edited", {**message(CH, 1, body="hi!"), "edited_at": 1}, 0.0)
    edited = state.conversations[CH].messages[0]
    assert edited.body == "hi!" and edited.reactions == {"👍": (2, True), "🎉": (1, False)}

    state.apply_event("message.reaction", _reaction("👍", ME, 1, added=False), 0.0)
    state.apply_event("message.reaction", _reaction("🎉", BOB, 0, added=False), 0.0)
    assert edited.reactions == {"👍": (1, False)}
    state.apply_event("message.deleted", {"id": edited.id, "conversation": CH, "seq": 1}, 0.0)
    assert edited.reactions == {}
    assert (
        state.apply_event("message.reaction", _reaction("👍", BOB, 1), 0.0).conversations == set()
    )
