"""The terminal client under Pilot against a real ``nodechat serve``."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input

from nodechat.chatclient.profiles import ProfileStore
from nodechat.tui.app import ChatApp
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
        await wait_for(pilot, lambda: any("hi ann, from bob" in t for t in texts(app)),
                       "bob's message on screen")
        assert any(f"{bob.name}: hi ann, from bob" in t for t in texts(app))
    await app.session.close()
    for user in (ann, bob):
        await user.client.close()
