"""Server search in the terminal client under Pilot: Ctrl+F and /search, the results
list (conversation, author, snippet), more pages, and Enter jumping to the message."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import OptionList

from nodechat.tui.search import MORE, SearchScreen
from nodechat.tui.widgets import MessageList
from tests.tui.conftest import Served, group_of, new_user, wait_for
from tests.tui.test_chat_app import app_for
from tests.tui.test_commands import command


async def test_search_lists_results_and_enter_jumps_to_the_message(
    served: Served, tmp_path: Path
) -> None:
    ann, bob = await new_user(served.url, "ann"), await new_user(served.url, "bob")
    group = await group_of(ann, bob)
    welcome = group["channels"][0]["id"]
    target = await bob.send(welcome, "the canoe is booked for saturday")
    for i in range(60):  # the match is far back: the jump must page history in
        await bob.send(welcome, f"filler {i}")
    notes = f"self:{ann.id}"
    await ann.send(notes, "pack the canoe paddles")
    app = app_for(served, tmp_path, ann.name)
    async with app.run_test(size=(110, 34)) as pilot:
        await wait_for(pilot, lambda: app.active is not None, "a conversation")
        app.open_conversation(notes)
        await wait_for(pilot, lambda: app.session.state.conversations[notes].loaded, "notes")

        await pilot.press("ctrl+f")
        await pilot.press(*"Canoe saturday", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen), "the results")
        listed = app.screen.query_one("#search-results", OptionList)
        assert listed.option_count == 1  # every word must match
        line = str(listed.get_option_at_index(0).prompt)
        assert bob.name in line and "canoe is booked" in line and "welcome" in line
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is app.main, "the results closed")
        await wait_for(pilot, lambda: app.active == welcome, "the match's conversation")
        view = app.main.query_one(MessageList)
        await wait_for(
            pilot,
            lambda: (
                view.highlighted_option is not None and view.highlighted_option.id == target["id"]
            ),
            "the match selected",
        )

        await command(pilot, app, "/search here canoe")  # only the open conversation
        await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen), "here results")
        listed = app.screen.query_one("#search-results", OptionList)
        assert listed.option_count == 1 and "booked" in str(listed.get_option_at_index(0).prompt)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main, "closed")

        await command(pilot, app, "/search filler")  # 60 matches: pages of 20
        await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen), "filler results")
        listed = app.screen.query_one("#search-results", OptionList)
        assert listed.option_count == 21 and listed.get_option_at_index(20).id == MORE
        listed.highlighted = 20
        await pilot.press("enter")
        await wait_for(pilot, lambda: listed.option_count == 41, "the next page")
        assert isinstance(app.screen, SearchScreen)
        results = app.session.state.search
        assert results is not None and len({h.message.id for h in results.hits}) == 40
        await pilot.press("escape")
    await app.session.close()
    for user in (ann, bob):
        await user.client.close()
