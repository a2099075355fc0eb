"""Slash commands, message actions, search, typing, members, help and palette under Pilot."""

from __future__ import annotations

from pathlib import Path

from textual.command import CommandPalette
from textual.widgets import Input, Static

from nodechat.tui.app import ChatApp
from nodechat.tui.render import member_lines
from nodechat.tui.screens import ConfirmScreen, HelpScreen
from nodechat.tui.search import SearchScreen
from nodechat.tui.widgets import ComposeArea, MessageList
from tests.tui.conftest import Served, new_user, wait_for
from tests.tui.test_chat_app import app_for, sidebar_line, texts


async def command(pilot: object, app: ChatApp, text: str) -> None:
    compose = app.main.query_one(ComposeArea)
    compose.focus()
    compose.load_text(text)
    await pilot.press("enter")  # type: ignore[attr-defined]


def said(app: ChatApp, needle: str) -> bool:
    return any(needle in n for n in app.notified)


async def test_commands_and_message_actions(served: Served, tmp_path: Path) -> None:
    ann, bob = await new_user(served.url, "ann"), await new_user(served.url, "bob")
    app = app_for(served, tmp_path, ann.name)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.active == f"self:{ann.id}", "notes to self")

        await command(pilot, app, "/group new Walkers")
        await wait_for(
            pilot,
            lambda: "Walkers" in app.session.state.title(app.active or ""),
            "the new group's channel",
        )
        welcome = app.active
        await command(pilot, app, "/invite")
        await wait_for(pilot, lambda: said(app, "invite code"), "the invite code")
        code = app.clipboard
        assert len(code) == 12 and said(app, f"/join {code}")
        await bob.client.request("group.join", code=code)

        await command(pilot, app, "/channel new lounge voice")
        await wait_for(
            pilot,
            lambda: app.session.state.title(app.active or "").endswith("♪ lounge"),
            "the voice channel",
        )
        lounge = app.active
        assert lounge is not None
        await command(pilot, app, "/voice")  # join the open voice channel
        await wait_for(pilot, lambda: said(app, "in voice with 1 participant"), "the join")
        # microphone and speakers (roster-only where there is no sound device, as on CI)
        await wait_for(pilot, lambda: app.audio.live is not None, "audio for the join")
        await bob.client.request("voice.join", channel=lounge)  # voice.updated from the server

        def header() -> str:
            return str(app.main.query_one("#conversation-header", Static).render())

        await wait_for(
            pilot,
            lambda: bob.name in header() and ann.name in header(),
            "both participants in the voice channel's header",
        )
        await pilot.press("f6")  # mute
        await wait_for(
            pilot,
            lambda: app.session.state.my_voice_state(lounge).get("muted") is True,
            "ann muted",
        )
        assert f"{ann.name} [muted]" in member_lines(app.session.state, lounge).plain
        await command(pilot, app, "/voice deafen")
        await wait_for(
            pilot,
            lambda: "[deafened]" in member_lines(app.session.state, lounge).plain,
            "ann deafened in the member panel",
        )
        await pilot.press("f6")  # unmute
        await wait_for(
            pilot,
            lambda: f"{ann.name} [muted]" not in member_lines(app.session.state, lounge).plain,
            "ann unmuted",
        )
        await command(pilot, app, "/voice leave")
        await wait_for(pilot, lambda: ann.name not in header(), "ann left the voice channel")
        assert app.audio.live is None  # stopped on leave

        await command(pilot, app, "/leave")  # the owner cannot leave: said in plain words
        await wait_for(pilot, lambda: said(app, "owner cannot leave"), "the refusal")
        await command(pilot, app, "/nonsense")
        await wait_for(pilot, lambda: said(app, "unknown command /nonsense"), "the usage")
        assert app.main.query_one(ComposeArea).text == "/nonsense"  # kept for fixing
        app.main.query_one(ComposeArea).load_text("")

        assert welcome is not None
        app.open_conversation(welcome)
        await pilot.press(*"see https://example.org/x and more", "enter")
        await wait_for(pilot, lambda: any("example.org/x" in t for t in texts(app)), "the send")
        view = app.main.query_one(MessageList)
        view.focus()
        view.highlighted = view.option_count - 1
        mine = view.highlighted_option
        assert mine is not None and mine.id
        await pilot.press("c")
        assert app.clipboard == "see https://example.org/x and more"  # OSC 52 copy
        await pilot.press("o")  # open the message's links from the keyboard
        await wait_for(pilot, lambda: said(app, "opening https://example.org/x"), "the link")

        await pilot.press("e")
        await wait_for(pilot, lambda: app.editing == mine.id, "edit mode")
        app.main.query_one(ComposeArea).load_text("edited text")
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: any("edited text (edited)" in t for t in texts(app)), "the edit mark"
        )
        view.focus()
        view.highlighted = view.get_option_index(mine.id)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("y")
        await wait_for(
            pilot, lambda: any("(message deleted)" in t for t in texts(app)), "the deleted mark"
        )

        await bob.send(welcome, "a needle in the haystack")
        await bob.send(welcome, "something else")
        await wait_for(pilot, lambda: any("something else" in t for t in texts(app)), "bob")
        compose = app.main.query_one(ComposeArea)
        await wait_for(pilot, lambda: bob.name in compose.names, "the member names")
        compose.focus()
        await pilot.press(*f"hi @{bob.name[:4]}", "tab")  # @-completion of a member name
        assert compose.text == f"hi @{bob.name} "
        compose.load_text("")

        await pilot.press("ctrl+f")
        search = app.main.query_one("#search", Input)
        assert search.has_focus
        await pilot.press(*"NEEDLE", "enter")  # a server search: the results list
        await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen), "the results")
        await pilot.press("enter")  # jump to the match
        await wait_for(pilot, lambda: app.screen is app.main, "the results closed")
        await wait_for(
            pilot,
            lambda: (
                view.highlighted_option is not None
                and "needle in the haystack" in str(view.highlighted_option.prompt)
            ),
            "the match selected",
        )

        await bob.client.request("typing", conversation=welcome)
        await wait_for(
            pilot,
            lambda: f"{bob.name} is typing" in str(app.main.query_one("#typing", Static).render()),
            "the typing indicator",
        )

        app.main.query_one("#members-panel").display = False
        await pilot.press("f2")
        members = str(app.main.query_one("#members", Static).render())
        assert "● " + ann.name in members and bob.name in members

        await command(pilot, app, f"/dm {bob.name}")
        await wait_for(
            pilot,
            lambda: app.active is not None and app.active.startswith("dm:"),
            "the direct conversation",
        )
        direct = app.active
        await command(pilot, app, "/mute")
        await wait_for(pilot, lambda: direct in app.session.state.muted, "mute")
        app.open_conversation(welcome)
        await bob.send(direct, "a muted direct message")
        await wait_for(pilot, lambda: "1" in sidebar_line(app, direct), "the DM badge")
        assert "muted" in sidebar_line(app, direct)
        assert not any("muted direct" in n.body for n in app.notices)
        saved = app.session.saved_profile()
        assert saved is not None and direct in saved.muted

        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main, "help closed")
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press("escape")

        await command(pilot, app, "/logout")
        await wait_for(
            pilot, lambda: said(app, "logged out") or app.session.status == "logged out", "logout"
        )
        saved = app.session.saved_profile()
        assert saved is not None and saved.refresh_token is None
    await app.session.close()
    for user in (ann, bob):
        await user.client.close()
