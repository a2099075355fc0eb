"""Pins in the terminal client under Pilot: p on a message, the pin mark, /pins and the palette."""

from __future__ import annotations

from pathlib import Path

from textual.command import CommandList, CommandPalette
from textual.widgets import OptionList

from nodechat.tui.pins import PinsScreen
from nodechat.tui.render import PIN_MARK
from nodechat.tui.widgets import MessageList
from tests.tui.conftest import Served, group_of, new_user, wait_for
from tests.tui.test_chat_app import app_for
from tests.tui.test_commands import command, said


def line_of(app: object, message_id: str) -> str:
    view = app.main.query_one(MessageList)  # type: ignore[attr-defined]
    return str(view.get_option(message_id).prompt)


async def test_pin_unpin_marks_and_the_pin_list(served: Served, tmp_path: Path) -> None:
    ann, bob = await new_user(served.url, "ann"), await new_user(served.url, "bob")
    group = await group_of(ann, bob)
    welcome = group["channels"][0]["id"]
    first = await bob.send(welcome, "the trail map is at the hut")
    second = await bob.send(welcome, "bring water")
    app = app_for(served, tmp_path, ann.name)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.active is not None, "a conversation")
        app.open_conversation(welcome)
        conv = app.session.state.conversations[welcome]
        await wait_for(pilot, lambda: conv.loaded and conv.pins_loaded, "history and pins")
        view = app.main.query_one(MessageList)
        await wait_for(pilot, lambda: first["id"] in [o.id for o in view.options], "the messages")

        view.focus()
        view.highlighted = view.get_option_index(first["id"])
        await pilot.press("p")
        await wait_for(pilot, lambda: PIN_MARK in line_of(app, first["id"]), "the pin mark")
        assert said(app, "message pinned")
        event = await bob.client.next_event("message.pinned")
        assert event["data"]["message_id"] == first["id"] and event["data"]["by"] == ann.id
        assert PIN_MARK not in line_of(app, second["id"])

        # a pin made elsewhere (another session) arrives as an event and is marked too
        await ann.client.request("message.pin", message_id=second["id"])
        await wait_for(pilot, lambda: PIN_MARK in line_of(app, second["id"]), "the event's mark")

        await command(pilot, app, "/pins")
        await wait_for(pilot, lambda: isinstance(app.screen, PinsScreen), "the pin list")
        listed = app.screen.query_one("#pins", OptionList)
        assert [o.id for o in listed.options] == [second["id"], first["id"]]  # newest pin first
        assert "bring water" in str(listed.options[0].prompt)
        assert f"pinned by {ann.name}" in str(listed.options[1].prompt)
        await pilot.press("down", "enter")  # go to the older pin: the first message
        await wait_for(pilot, lambda: app.screen is app.main, "the list closed")
        await wait_for(
            pilot,
            lambda: (
                view.highlighted_option is not None and view.highlighted_option.id == first["id"]
            ),
            "the pinned message selected",
        )

        await pilot.press("p")  # on a pinned message: unpin
        await wait_for(pilot, lambda: PIN_MARK not in line_of(app, first["id"]), "unpinned")
        assert said(app, "message unpinned")
        assert [p.message.id for p in conv.pins] == [second["id"]]

        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press(*"Pins")
        hits = app.screen.query_one(CommandList)

        def top_hit() -> str:
            if hits.option_count == 0 or hits.highlighted is None:
                return ""
            return str(hits.get_option_at_index(hits.highlighted).prompt)

        # the palette searches in a worker: wait until the entry is the chosen hit
        await wait_for(pilot, lambda: "The pinned messages" in top_hit(), "the Pins entry")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PinsScreen), "the palette's pins")
        listed = app.screen.query_one("#pins", OptionList)
        assert [o.id for o in listed.options] == [second["id"]]
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main, "closed")
    await app.session.close()
    for user in (ann, bob):
        await user.client.close()
