"""The terminal client under Pilot against a real ``nodechat serve``."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from rich.text import Text
from textual.widgets import Input

from nodechat.chatclient.profiles import ProfileStore
from nodechat.tui.app import AutoLogin, ChatApp
from nodechat.tui.render import MENTION_ME_STYLE
from nodechat.tui.screens import LoginScreen
from nodechat.tui.widgets import MessageList, Sidebar
from tests.tui.conftest import PASSWORD, Served, group_of, new_user, wait_for


def texts(app: ChatApp) -> list[str]:
    view = app.main.query_one(MessageList)
    return [str(view.get_option_at_index(i).prompt) for i in range(view.option_count)]


def sidebar_text(app: ChatApp) -> str:
    bar = app.main.query_one(Sidebar)
    return "\n".join(str(bar.get_option_at_index(i).prompt) for i in range(bar.option_count))


async def test_login_send_and_receive(served: Served, tmp_path: Path) -> None:
    ann, bob = await new_user(served.url, "ann"), await new_user(served.url, "bob")
    group = await group_of(bob, ann)
    channel = group["channels"][0]["id"]
    store = ProfileStore(tmp_path / "profiles")
    app = ChatApp(served.url, "p", store, notifier=lambda title, body: None)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LoginScreen), "the login screen")
        app.screen.query_one("#login-username", Input).value = ann.name
        app.screen.query_one("#login-password", Input).focus()
        await pilot.press(*PASSWORD, "enter")
        await wait_for(pilot, lambda: app.active == channel, "the group channel to open")
        # the session is remembered: refresh token in a 0600 file, no password
        saved = store.load("p")
        assert saved is not None and saved.username == ann.name and saved.refresh_token
        assert store.path("p").stat().st_mode & 0o777 == 0o600
        assert PASSWORD not in store.path("p").read_text()

        await pilot.press(*"hello from the tui", "enter")
        event = await bob.client.next_event("message.created", timeout=10)
        assert event["data"]["body"] == "hello from the tui"
        assert event["data"]["author_id"] == ann.id

        await bob.send(channel, "hi ann, from bob")
        await wait_for(
            pilot,
            lambda: any("hi ann, from bob" in t for t in texts(app)),
            "bob's message on screen",
        )
        assert any(f"{bob.name}: hi ann, from bob" in t for t in texts(app))
        view = app.main.query_one(MessageList)
        assert view.highlighted == view.option_count - 1  # the view follows new messages
    await app.session.close()
    for user in (ann, bob):
        await user.client.close()


def app_for(served: Served, tmp_path: Path, user_name: str, **kwargs: object) -> ChatApp:
    notices: list[tuple[str, str]] = []
    app = ChatApp(
        served.url,
        "p",
        ProfileStore(tmp_path / "profiles"),
        auto=AutoLogin(user_name, PASSWORD),
        notifier=lambda title, body: notices.append((title, body)),
        **kwargs,
    )  # type: ignore[arg-type]
    return app


def sidebar_line(app: ChatApp, conversation: str) -> str:
    bar = app.main.query_one(Sidebar)
    return str(bar.get_option(conversation).prompt)


async def test_mentions_unread_next_unread_read_mark_and_reply(
    served: Served, tmp_path: Path
) -> None:
    ann, bob = await new_user(served.url, "ann"), await new_user(served.url, "bob")
    group = await group_of(bob, ann)
    welcome = group["channels"][0]["id"]
    general = (await bob.client.request("channel.create", group_id=group["id"], name="general"))[
        "id"
    ]
    app = app_for(served, tmp_path, ann.name)
    desktop: list[str] = []
    bells: list[bool] = []
    app.notifier = lambda title, body: desktop.append(body)
    app.bell = lambda: bells.append(True)  # type: ignore[method-assign]
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.active == welcome, "the first channel to open")
        first = await bob.send(general, f"hey @{ann.name} look at this")
        await bob.send(general, "and this, no mention")
        await wait_for(
            pilot,
            lambda: sidebar_line(app, general).endswith(" 2 @1"),
            "the unread and mention counters on #general",
        )
        assert [n.mention for n in app.notices] == [True]  # bell + desktop for the mention
        assert desktop == [f"hey @{ann.name} look at this"] and bells == [True]

        await pilot.press("ctrl+n")  # jump to the next unread conversation
        await wait_for(pilot, lambda: app.active == general, "#general to open")
        await wait_for(
            pilot, lambda: sidebar_line(app, general).strip() == "# general", "the badge to clear"
        )

        async def server_unread() -> int:
            reply = await ann.client.request("conversation.list")
            return next(c["unread"] for c in reply["conversations"] if c["id"] == general)

        unread = 2
        for _ in range(100):  # read.mark reached the server (bounded poll)
            unread = await server_unread()
            if unread == 0:
                break
            await pilot.pause(0.05)
        assert unread == 0

        view = app.main.query_one(MessageList)
        prompt = view.get_option(first["id"]).prompt
        assert isinstance(prompt, Text)
        start = str(prompt).index(f"@{ann.name}")
        assert any(
            span.style == MENTION_ME_STYLE and span.start <= start < span.end
            for span in prompt.spans
        ), "the @mention of me is highlighted"

        view.focus()
        view.highlighted = view.get_option_index(first["id"])
        await pilot.press("r")
        await wait_for(pilot, lambda: app.reply_to == first["id"], "reply mode")
        await pilot.press(*"sure thing", "enter")
        event = await bob.client.next_event("message.created", timeout=10)
        while event["data"]["author_id"] != ann.id:
            event = await bob.client.next_event("message.created", timeout=10)
        assert event["data"]["reply_to"] == first["id"]
        await wait_for(
            pilot,
            lambda: any("╭ reply to " + bob.name in t and "sure thing" in t for t in texts(app)),
            "the reply with its quote",
        )
    await app.session.close()
    for user in (ann, bob):
        await user.client.close()


async def test_scrolling_up_loads_older_history(served: Served, tmp_path: Path) -> None:
    ann = await new_user(served.url, "ann")
    notes = f"self:{ann.id}"
    for i in range(120):
        await ann.send(notes, f"note {i}")
    app = app_for(served, tmp_path, ann.name)
    gate = asyncio.Event()
    async with app.run_test(size=(80, 24)) as pilot:
        real_call = app.session.call

        async def gated(op: str, /, **data: object) -> object:
            if op == "message.history" and data.get("before"):
                await gate.wait()  # hold the page so the loading state can be seen
            return await real_call(op, **data)

        app.session.call = gated  # type: ignore[method-assign]
        await wait_for(pilot, lambda: app.active is not None, "a conversation to open")
        app.open_conversation(notes)
        conv = app.session.state.conversations[notes]
        await wait_for(pilot, lambda: len(conv.messages) == 50, "the newest page")
        view = app.main.query_one(MessageList)
        assert "older messages" in view.loading_text
        view.focus()
        view.highlighted = view.get_option_index(conv.messages[0].id)
        await pilot.press("up")  # at the top: ask for older messages
        await wait_for(pilot, lambda: "loading older" in view.loading_text, "loading state")
        gate.set()
        try:
            await wait_for(pilot, lambda: len(conv.messages) == 100, "the older page")
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}: {len(conv.messages)} {conv.loading} {conv.has_more} "
                f"{app.notified} {app.session.status}"
            ) from None
        assert [m.body for m in conv.messages[:2]] == ["note 20", "note 21"]
        assert str(view.get_option(conv.messages[0].id).prompt).endswith("note 20")
        view.highlighted = view.get_option_index(conv.messages[0].id)
        await pilot.press("up")
        await wait_for(
            pilot,
            lambda: "beginning of conversation" in view.loading_text,
            "the start of the conversation",
        )
        assert [m.seq for m in conv.messages] == list(range(1, 121))
    await app.session.close()
    await ann.client.close()


async def test_register_on_the_login_screen_then_a_clear_error(
    served: Served, tmp_path: Path
) -> None:
    app = ChatApp(
        served.url, "reg", ProfileStore(tmp_path / "profiles"), notifier=lambda title, body: None
    )
    name = f"newbie{os.getpid() % 10000}"
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LoginScreen), "the login screen")
        login = app.screen
        assert isinstance(login, LoginScreen)
        login.query_one("#login-username", Input).value = name
        login.query_one("#login-password", Input).value = "short"
        login.query_one("#login-email", Input).focus()
        await pilot.press(*f"{name}@example.test", "enter")  # Enter in the email field
        await wait_for(pilot, lambda: "8-256 characters" in login.error, "a plain-words error")
        login.query_one("#login-password", Input).value = PASSWORD
        login.query_one("#login-email", Input).focus()
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: app.active == f"self:{app.session.state.my_id}",
            "notes to self of the new account",
        )
        assert app.session.state.my_username == name
