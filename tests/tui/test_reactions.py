"""Reactions in the terminal client under Pilot: shown under a message, toggled with +."""

from __future__ import annotations

from pathlib import Path

from nodechat.tui.app import ChatApp
from nodechat.tui.screens import ReactionScreen
from nodechat.tui.widgets import MessageList
from tests.tui.conftest import Served, group_of, new_user, wait_for
from tests.tui.test_chat_app import app_for, texts


def line_of(app: ChatApp, body: str) -> str:
    return next((t for t in texts(app) if body in t), "")


async def test_reactions_are_shown_and_toggled_from_the_keyboard(
    served: Served, tmp_path: Path
) -> None:
    ann, bob = await new_user(served.url, "ann"), await new_user(served.url, "bob")
    group = await group_of(bob, ann)
    welcome = group["channels"][0]["id"]
    sent = await bob.send(welcome, "lunch at noon?")
    await bob.client.request("message.react", message_id=sent["id"], emoji="👍")
    app = app_for(served, tmp_path, ann.name)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: welcome in app.session.state.conversations, "the snapshot")
        app.open_conversation(welcome)
        # from history: bob's reaction, not marked as mine
        await wait_for(pilot, lambda: "👍 1" in line_of(app, "lunch at noon?"), "the reaction")
        assert "👍 1*" not in line_of(app, "lunch at noon?")

        view = app.main.query_one(MessageList)
        view.focus()
        view.highlighted = view.get_option_index(sent["id"])
        await pilot.press("plus")
        await wait_for(pilot, lambda: isinstance(app.screen, ReactionScreen), "the picker")
        await pilot.press("1")  # the first common one: 👍
        await wait_for(pilot, lambda: "👍 2*" in line_of(app, "lunch at noon?"), "mine added")

        view.focus()
        await pilot.press("plus")
        await wait_for(pilot, lambda: isinstance(app.screen, ReactionScreen), "the picker")
        await pilot.press(*":tada:", "enter")  # any :shortcode: typed in
        await wait_for(pilot, lambda: ":tada: 1*" in line_of(app, "lunch at noon?"), "a typed one")

        view.focus()
        await pilot.press("plus")
        await wait_for(pilot, lambda: isinstance(app.screen, ReactionScreen), "the picker")
        await pilot.press("1")  # the same again takes it back
        await wait_for(
            pilot,
            lambda: "👍 1  :tada: 1*" in line_of(app, "lunch at noon?"),
            "mine taken back",
        )

        view.focus()
        await pilot.press("plus")
        await wait_for(pilot, lambda: isinstance(app.screen, ReactionScreen), "the picker")
        await pilot.press(*"yes", "enter")  # not an emoji: refused, said in plain words
        await wait_for(
            pilot,
            lambda: any("a reaction is one emoji" in n for n in app.notified),
            "the refusal",
        )

        await bob.client.request("message.react", message_id=sent["id"], emoji="🎉")
        await wait_for(pilot, lambda: "🎉 1" in line_of(app, "lunch at noon?"), "bob's event")
        page = await bob.client.request("message.history", conversation=welcome)
        assert page["messages"][0]["reactions"] == [
            {"emoji": "👍", "count": 1, "me": True},
            {"emoji": ":tada:", "count": 1, "me": False},
            {"emoji": "🎉", "count": 1, "me": True},
        ]
