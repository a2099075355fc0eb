"""The smaller daily-use fixes of ``nodechat chat``: links, replies, days, DMs, voice,
a new account, toasts, 80 columns."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from textual.widgets import Label
from textual.widgets._toast import Toast

from nodechat.chatclient.state import ChatState
from nodechat.tui import commands
from nodechat.tui.app import ChatApp
from nodechat.tui.render import day_line
from nodechat.tui.screens import LinkScreen, LoginScreen
from nodechat.tui.widgets import ComposeArea, MessageList
from tests.tui.conftest import Served, group_of, new_user, wait_for
from tests.tui.test_chat_app import app_for, texts
from tests.tui.test_daily_use import wire_message


async def test_the_link_picker_opens_or_copies_one_link(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann = await new_user(served.url, "ann")
    notes = f"self:{ann.id}"
    await ann.send(notes, "see https://one.example/a and https://two.example/b.")
    app = app_for(served, tmp_path, ann.name)
    opened: list[str] = []
    async with app.run_test(size=(100, 30)) as pilot:
        app.open_url = lambda url, **kw: opened.append(url)  # type: ignore[method-assign]
        await wait_for(pilot, lambda: app.active == notes, "the notes")
        await wait_for(pilot, lambda: any("two.example" in t for t in texts(app)), "the message")
        view = app.main.query_one(MessageList)
        view.focus()
        view.highlighted = view.last_message
        await pilot.press("o")  # two links: the picker, not both at once
        await wait_for(pilot, lambda: isinstance(app.screen, LinkScreen), "the picker")
        assert opened == []
        await pilot.press("2")
        await wait_for(pilot, lambda: opened == ["https://two.example/b"], "the second link")

        monkeypatch.setattr(commands, "copy_local", lambda text: False)  # e.g. over SSH
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, LinkScreen), "the picker")
        await pilot.press("c")
        await wait_for(pilot, lambda: app.clipboard == "https://one.example/a", "one link copied")
        said = app.notified[-1]
        assert "OSC 52" in said and "copied to the clipboard" not in said  # no false claim
        monkeypatch.setattr(commands, "copy_local", lambda text: True)
        await pilot.press("c")
        await wait_for(pilot, lambda: app.notified[-1] == "message copied to the clipboard", "ok")
    await app.session.close()
    await ann.client.close()


async def test_g_goes_to_the_original_of_a_reply_loading_history(
    served: Served, tmp_path: Path
) -> None:
    ann = await new_user(served.url, "ann")
    notes = f"self:{ann.id}"
    original = await ann.send(notes, "the original")
    for i in range(120):
        await ann.send(notes, f"filler {i}")
    await ann.send(notes, "the reply", reply_to=original["id"])
    app = app_for(served, tmp_path, ann.name)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.active == notes, "the notes")
        await wait_for(pilot, lambda: any("the reply" in t for t in texts(app)), "the reply")
        view = app.main.query_one(MessageList)
        view.focus()
        view.highlighted = view.last_message
        await pilot.press("g")
        await wait_for(
            pilot,
            lambda: (h := view.highlighted_option) is not None and h.id == original["id"],
            "the original selected",
        )
        assert app.session.state.conversations[notes].messages[0].id == original["id"]
        await pilot.press("g")
        await wait_for(pilot, lambda: "not a reply" in app.notified[-1], "not a reply said")
    await app.session.close()
    await ann.client.close()


async def test_days_have_a_line_and_a_new_account_gets_a_hint(
    served: Served, tmp_path: Path
) -> None:
    ann = await new_user(served.url, "ann")
    notes = f"self:{ann.id}"
    app = app_for(served, tmp_path, ann.name)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.active == notes, "the notes")
        view = app.main.query_one(MessageList)
        await wait_for(pilot, lambda: "/group new" in view.loading_text, "the welcome hint")
        assert "/join" in view.loading_text and "/dm" in view.loading_text
        day = 86_400_000
        now = int(time.time() * 1000)
        for seq, at in ((1, now - 2 * day), (2, now - 2 * day + 60_000), (3, now)):
            message = wire_message(notes, seq, ann.id, f"note {seq}")
            message["created_at"] = at
            app.session.apply_frame({"event": "message.created", "data": message})
        await wait_for(pilot, lambda: any("note 3" in t for t in texts(app)), "the notes drawn")
        lines = texts(app)
        days = [t for t in lines if t.startswith("── ")]
        assert days == [str(day_line(now - 2 * day)), str(day_line(now))]
        assert lines.index(days[1]) == lines.index(next(t for t in lines if "note 3" in t)) - 1
    await app.session.close()
    await ann.client.close()


def test_direct_conversations_are_ordered_by_last_activity() -> None:
    state = ChatState()
    state.apply_snapshot(
        {
            "user": {"id": "u_me", "username": "me"},
            "groups": [],
            "conversations": [
                {"id": f"dm:u_me:{peer}", "kind": "direct", "peer_id": peer, "last_seq": 1}
                for peer in ("u_a", "u_b", "u_c")
            ],
            "users": [],
            "online": [],
        }
    )
    assert state.ordered() == ["dm:u_me:u_a", "dm:u_me:u_b", "dm:u_me:u_c"]  # server order
    change = state.apply_event("message.created", wire_message("dm:u_me:u_c", 2, "u_c", "hi"), 0)
    assert change.sidebar
    assert state.ordered()[0] == "dm:u_me:u_c"
    state.apply_event(
        "message.created",
        wire_message("dm:u_me:u_b", 2, "u_b", "yo") | {"created_at": 1_900_000_000_000},
        0,
    )
    assert state.ordered()[:2] == ["dm:u_me:u_b", "dm:u_me:u_c"]


async def test_a_voice_channel_takes_commands_not_text(served: Served, tmp_path: Path) -> None:
    ann, bob = await new_user(served.url, "ann"), await new_user(served.url, "bob")
    group = await group_of(bob, ann)
    lounge = await bob.client.request(
        "channel.create", group_id=group["id"], name="lounge", kind="voice"
    )
    app = app_for(served, tmp_path, ann.name)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: lounge["id"] in app.session.state.conversations, "lounge")
        app.open_conversation(lounge["id"])
        compose = app.main.query_one(ComposeArea)
        assert "/voice join" in str(compose.placeholder)
        await pilot.press(*"hello voice", "enter")
        await wait_for(pilot, lambda: "carries no text" in app.notified[-1], "the refusal")
        assert compose.text == "hello voice"  # kept, not sent
    await app.session.close()
    for user in (ann, bob):
        await user.client.close()


async def test_toasts_stay_off_the_compose_box_and_80_columns_fit(
    served: Served, tmp_path: Path
) -> None:
    ann = await new_user(served.url, "ann")
    app = app_for(served, tmp_path, ann.name)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.active is not None, "a conversation")
        app.notify("a toast that must not hide what you type")
        await wait_for(pilot, lambda: bool(app.screen.query(Toast)), "the toast")
        await pilot.pause()
        toast = app.screen.query(Toast).first().region
        compose = app.main.query_one(ComposeArea).region
        assert toast.bottom <= compose.y, (toast, compose)
        status = app.main.query_one("#status").render()
        assert "F1 help" in str(status) and len(str(status)) <= 78
    await app.session.close()
    await ann.client.close()


async def test_a_long_login_error_wraps_at_80_columns(tmp_path: Path) -> None:
    app = ChatApp("ws://127.0.0.1:9/", "p", notifier=lambda t, b: None, backoff=(0.2, 0.4))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LoginScreen), "the login screen")
        login = app.screen
        assert isinstance(login, LoginScreen)
        login.show_error(
            "cannot reach ws://127.0.0.1:9/: [Errno 111] Connect call failed "
            "('127.0.0.1', 9): is the server running, and is this its address?"
        )
        await pilot.pause()
        label = login.query_one("#login-error", Label)
        box = login.query_one("#login-box").region
        assert label.region.height >= 2 and label.region.right <= box.right
    await app.session.close()


async def test_direct_conversations_open_ordered_by_activity(
    served: Served, tmp_path: Path
) -> None:
    ann = await new_user(served.url, "ann")
    peers = [await new_user(served.url, name) for name in ("pa", "pb", "pc")]
    dms = {}
    for peer in peers:
        dm = await peer.client.request("dm.open", user_id=ann.id)
        dms[peer.name] = dm["id"]
    for name in ("pb", "pc", "pa"):  # pa last: the most recent
        peer = next(p for p in peers if p.name.startswith(name))
        await peer.send(dms[peer.name], f"hello from {name}")
    app = app_for(served, tmp_path, ann.name)
    async with app.run_test(size=(100, 30)) as pilot:
        state = app.session.state
        order = [dms[p.name] for p in (peers[0], peers[2], peers[1])]  # pa, pc, pb
        await wait_for(
            pilot,
            lambda: [c for c in state.ordered() if c.startswith("dm:")] == order,
            "the direct conversations newest first",
        )
    await app.session.close()
    for user in (ann, *peers):
        await user.client.close()
