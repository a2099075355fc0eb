"""What broke daily use of ``nodechat chat`` (issue: the client good enough to live in)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.command import CommandPalette
from textual.widgets import Input

from nodechat.chatclient.state import BACKGROUND_KEEP, Change
from nodechat.errors import Unavailable
from nodechat.tui.screens import ConfirmScreen
from nodechat.tui.search import SearchScreen
from nodechat.tui.widgets import ComposeArea, MessageList, Sidebar
from tests.tui.conftest import Served, User, group_of, new_user, wait_for
from tests.tui.test_chat_app import app_for, sidebar_line, texts


async def test_the_draft_survives_walking_the_sent_history(served: Served, tmp_path: Path) -> None:
    ann = await new_user(served.url, "ann")
    app = app_for(served, tmp_path, ann.name)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.active is not None, "a conversation to open")
        compose = app.main.query_one(ComposeArea)
        compose.focus()
        await pilot.press(*"first", "enter", *"second", "enter")
        await wait_for(
            pilot,
            lambda: len(app.session.state.conversations[app.active or ""].messages) == 2,
            "the sends",
        )
        await pilot.press(*"a draft in progress")
        await pilot.press("up")
        assert compose.text == "second"
        await pilot.press("up")
        assert compose.text == "first"
        await pilot.press("down", "down")
        assert compose.text == "a draft in progress"
        assert compose.cursor_location == compose.document.end  # typing goes on at the end
        await pilot.press(*" and more")
        assert compose.text == "a draft in progress and more"
    await app.session.close()
    await ann.client.close()


async def test_scrolling_back_stays_at_the_top_and_loads_older(
    served: Served, tmp_path: Path
) -> None:
    ann = await new_user(served.url, "ann")
    notes = f"self:{ann.id}"
    for i in range(160):
        await ann.send(notes, f"note {i}")
    app = app_for(served, tmp_path, ann.name)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.active is not None, "a conversation to open")
        app.open_conversation(notes)
        conv = app.session.state.conversations[notes]
        await wait_for(pilot, lambda: len(conv.messages) == 50, "the newest page")
        view = app.main.query_one(MessageList)
        view.focus()
        await pilot.press("home")  # Home at once asks for the page before
        await wait_for(pilot, lambda: len(conv.messages) == 100, "older messages after Home")
        highlighted = view.highlighted_option
        assert highlighted is not None and str(highlighted.prompt).endswith("note 110")
        for _ in range(10):  # PgUp up to the top asks for older ones too
            await pilot.press("pageup")
            if len(conv.messages) > 100:
                break
        await wait_for(pilot, lambda: len(conv.messages) == 150, "older messages after PgUp")
        highlighted = view.highlighted_option
        assert highlighted is not None and str(highlighted.prompt).endswith("note 60")
        view.highlighted = view.get_option_index(conv.messages[0].id)
        await pilot.press("up")  # at the top: older ones, and the selection stays put
        await wait_for(pilot, lambda: len(conv.messages) == 160, "older messages after Up")
        await wait_for(
            pilot, lambda: "beginning of conversation" in view.loading_text, "the beginning"
        )
        highlighted = view.highlighted_option
        assert highlighted is not None and str(highlighted.prompt).endswith("note 10")
        assert view.highlighted == view.get_option_index(conv.messages[10].id)  # no wrapping
        await pilot.press("home", "up", "up")
        assert view.highlighted == view.get_option_index(conv.messages[0].id)
    await app.session.close()
    await ann.client.close()


async def test_letter_keys_write_a_message_unless_the_user_chose_a_message(
    served: Served, tmp_path: Path
) -> None:
    ann = await new_user(served.url, "ann")
    notes = f"self:{ann.id}"
    for body in ("keep me", "the one to delete"):
        await ann.send(notes, body)
    app = app_for(served, tmp_path, ann.name)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.active is not None, "a conversation to open")
        compose = app.main.query_one(ComposeArea)
        view = app.main.query_one(MessageList)
        mode = app.main.query_one("#compose-mode")

        # opened from the palette: the compose box has the focus, not the message list
        view.focus()
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press(*"Open notes to self")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.active == notes and app.screen is app.main, "notes")
        conv = app.session.state.conversations[notes]
        await wait_for(pilot, lambda: len(conv.messages) == 2, "the notes")
        await wait_for(pilot, lambda: compose.has_focus, "the compose box focused")
        await pilot.press(*"yes, do order")
        assert compose.text == "yes, do order"
        assert app.clipboard == "" and app.editing is None

        # Esc with nothing to cancel stays in the compose box
        await pilot.press("escape")
        assert compose.has_focus
        compose.load_text("")

        # closing search goes back to the compose box
        await pilot.press("ctrl+f")
        await pilot.press(*"keep", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen), "the results")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main, "the results closed")
        assert compose.has_focus and not app.main.query_one("#search", Input).display

        # in the list on purpose, it says so; keys it does not bind go to the compose box
        view.focus()
        await pilot.pause()
        assert "on a message" in str(mode.render())
        await pilot.press("h", "i")
        assert compose.has_focus and compose.text == "hi"
        assert "on a message" not in str(mode.render())
        compose.load_text("")

        # d asks first: No (or Enter) keeps the message, y deletes it
        view.focus()
        view.highlighted = view.option_count - 1
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is app.main, "the question closed")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is app.main, "the question closed")
        assert not any(m.deleted for m in conv.messages)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("y")
        await wait_for(pilot, lambda: any("(message deleted)" in t for t in texts(app)), "delete")
        assert [m.deleted for m in conv.messages] == [False, True]
    await app.session.close()
    await ann.client.close()


async def test_a_queued_send_the_server_refuses_leaves_the_queue_with_the_reason(
    served: Served, tmp_path: Path
) -> None:
    ann, bob = await new_user(served.url, "ann"), await new_user(served.url, "bob")
    group = await group_of(bob, ann)
    channel = group["channels"][0]["id"]
    app = app_for(served, tmp_path, ann.name, backoff=(0.2, 1.0))
    gate, held = asyncio.Event(), asyncio.Event()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.active == channel, "the channel")
        real_call = app.session.call

        async def lost_ack(op: str, /, **data: object) -> object:
            if op == "message.send":  # the ack is lost: the send goes to the outbox
                held.set()
                await gate.wait()
                raise Unavailable("the server did not answer in time", code="timeout")
            return await real_call(op, **data)

        app.session.call = lost_ack  # type: ignore[method-assign]
        await pilot.press(*"sent as I was kicked", "enter")
        await wait_for(pilot, held.is_set, "the send on its way")
        await bob.client.request("member.kick", group_id=group["id"], user_id=ann.id)
        await wait_for(pilot, lambda: channel not in app.session.state.conversations, "the kick")
        gate.set()
        await wait_for(pilot, lambda: app.session.pending == 0, "the queue emptied")
        await wait_for(
            pilot,
            lambda: any("not sent" in n and "sent as I was kicked" in n for n in app.notified),
            "the refused send said",
        )
        assert "unsent" not in str(app.main.query_one("#status").render())
    await app.session.close()
    for user in (ann, bob):
        await user.client.close()


async def test_authors_have_names_right_after_joining(served: Served, tmp_path: Path) -> None:
    ann, bob = await new_user(served.url, "ann"), await new_user(served.url, "bob")
    group = await group_of(bob, name="Readers")
    channel = group["channels"][0]["id"]
    await bob.send(channel, "history from before you came")
    invite = await bob.client.request("invite.create", group_id=group["id"])
    app = app_for(served, tmp_path, ann.name)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.active is not None, "a conversation to open")
        compose = app.main.query_one(ComposeArea)
        compose.focus()
        compose.load_text(f"/join {invite['code']}")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.active == channel, "the joined group's channel")
        await wait_for(
            pilot, lambda: any("history from before" in t for t in texts(app)), "the history"
        )
        await wait_for(
            pilot,
            lambda: any(f"{bob.name}: history from before" in t for t in texts(app)),
            "the author's name, not an id",
            timeout=5,
        )
        await bob.send(channel, "and a new one")
        await wait_for(
            pilot, lambda: any(f"{bob.name}: and a new one" in t for t in texts(app)), "bob"
        )
        carol = await new_user(served.url, "carol")
        await carol.client.request("group.join", code=invite["code"])
        await carol.send(channel, "hello, I am new here")
        await wait_for(
            pilot,
            lambda: any(f"{carol.name}: hello, I am new here" in t for t in texts(app)),
            "the newcomer's name, not an id",
            timeout=5,
        )
        await carol.client.close()
    await app.session.close()
    for user in (ann, bob):
        await user.client.close()


def wire_message(conversation: str, seq: int, author: str, body: str) -> dict[str, object]:
    return {
        "id": f"m_{conversation[-6:]}_{seq}",
        "conversation": conversation,
        "seq": seq,
        "author_id": author,
        "body": body,
        "created_at": 1_800_000_000_000 + seq,
        "mentions": [],
    }


async def test_a_flood_into_a_background_channel_is_drawn_once_per_frame(
    served: Served, tmp_path: Path
) -> None:
    ann, bob = await new_user(served.url, "ann"), await new_user(served.url, "bob")
    group = await group_of(bob, ann)
    open_channel = group["channels"][0]["id"]
    busy = await bob.client.request("channel.create", group_id=group["id"], name="busy")
    app = app_for(served, tmp_path, ann.name)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: busy["id"] in app.session.state.conversations, "channels")
        app.open_conversation(open_channel)
        await wait_for(pilot, lambda: app.session.state.conversations[open_channel].loaded, "load")
        await pilot.pause()
        sidebar, view = app.main.query_one(Sidebar), app.main.query_one(MessageList)
        before = (sidebar.rebuilds, view.rebuilds)
        drawn: list[bool] = []  # after each draw: is the open channel's message on screen?
        draw = app._apply

        def recording(change: Change) -> None:
            draw(change)
            drawn.append(any("the one that matters" in t for t in texts(app)))

        app._apply = recording  # type: ignore[method-assign]

        # 5,000 events into the channel that is not open, then one into the open one, all
        # arriving before the app draws again (as a burst read from the socket does)
        for seq in range(1, 5001):
            app.session.apply_frame(
                {"event": "message.created", "data": wire_message(busy["id"], seq, bob.id, "x")}
            )
        app.session.apply_frame(
            {
                "event": "message.created",
                "data": wire_message(open_channel, 1, bob.id, "the one that matters"),
            }
        )
        await wait_for(
            pilot, lambda: any("the one that matters" in t for t in texts(app)), "the message"
        )
        assert drawn[0]  # the very next draw, one for all 5,001 events
        assert (sidebar.rebuilds, view.rebuilds) == before  # patched and appended in place
        assert "5000" in sidebar_line(app, busy["id"])
        kept = app.session.state.conversations[busy["id"]].messages
        assert len(kept) == BACKGROUND_KEEP and kept[-1].seq == 5000  # bounded memory
    await app.session.close()
    for user in (ann, bob):
        await user.client.close()


async def server_unread(user: User, conversation: str) -> int:
    reply = await user.client.request("conversation.list")
    return int(next(c["unread"] for c in reply["conversations"] if c["id"] == conversation))


async def test_triage_opens_at_the_first_unread_and_reads_at_the_bottom(
    served: Served, tmp_path: Path
) -> None:
    ann, bob = await new_user(served.url, "ann"), await new_user(served.url, "bob")
    group = await group_of(bob, ann)
    general = await bob.client.request("channel.create", group_id=group["id"], name="general")
    general_id = general["id"]
    for i in range(5):
        await bob.send(general_id, f"old {i}")
    first = app_for(served, tmp_path, ann.name)
    async with first.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: first.active is not None, "a conversation")
        first.open_conversation(general_id)  # read the five, and leave it open
        await wait_for(
            pilot, lambda: first.session.state.conversations[general_id].unread == 0, "read"
        )
    await first.session.close()
    for _ in range(200):
        if await server_unread(ann, general_id) == 0:
            break
        await asyncio.sleep(0.05)
    for i in range(80):
        await bob.send(general_id, f"new {i}")

    app = app_for(served, tmp_path, ann.name)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.active == general_id, "the last conversation reopened")
        view = app.main.query_one(MessageList)
        conv = app.session.state.conversations[general_id]
        await wait_for(
            pilot, lambda: conv.oldest_seq is not None and conv.oldest_seq <= 6, "paging back"
        )
        await wait_for(
            pilot,
            lambda: (h := view.highlighted_option) is not None and str(h.prompt).endswith("new 0"),
            "the selection on the first unread message",
        )
        at = view.get_option_index("new")  # the "new" line right above it
        assert view.get_option_index(conv.messages[5].id) == at + 1
        assert "new" in str(view.get_option_at_index(at).prompt)
        await pilot.pause(0.2)
        assert not view.at_bottom()
        assert await server_unread(ann, general_id) == 80  # not read: not seen yet
        view.focus()
        await pilot.press("end")  # the newest in view: now it is read
        for _ in range(200):
            if await server_unread(ann, general_id) == 0:
                break
            await pilot.pause(0.05)
        assert await server_unread(ann, general_id) == 0
        assert view.get_option_index("new") == at  # the line stays while the view is open
    await app.session.close()
    for user in (ann, bob):
        await user.client.close()


async def test_keys_for_next_and_previous_unread_and_next_mention(
    served: Served, tmp_path: Path
) -> None:
    ann, bob = await new_user(served.url, "ann"), await new_user(served.url, "bob")
    group = await group_of(bob, ann)
    welcome = group["channels"][0]["id"]
    general = (await bob.client.request("channel.create", group_id=group["id"], name="general"))[
        "id"
    ]
    random = (await bob.client.request("channel.create", group_id=group["id"], name="random"))["id"]
    app = app_for(served, tmp_path, ann.name)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.active == welcome, "the first channel")
        await bob.send(general, "plain news")
        await bob.send(random, f"@{ann.name} you are wanted")
        state = app.session.state
        await wait_for(pilot, lambda: state.conversations[random].mentions == 1, "the mention")
        await wait_for(pilot, lambda: state.conversations[general].unread == 1, "the unread")
        await pilot.press("ctrl+t")  # next mention skips #general
        await wait_for(pilot, lambda: app.active == random, "the mention's channel")
        await wait_for(pilot, lambda: state.conversations[random].unread == 0, "read")
        await pilot.press("ctrl+b")  # previous unread, going back from #random
        await wait_for(pilot, lambda: app.active == general, "#general")
        await wait_for(pilot, lambda: state.conversations[general].unread == 0, "read")
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: "no unread mentions" in app.notified, "nothing left said")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: "no unread conversations" in app.notified, "said")
    await app.session.close()
    for user in (ann, bob):
        await user.client.close()


async def test_notification_levels_and_do_not_disturb(served: Served, tmp_path: Path) -> None:
    ann, bob = await new_user(served.url, "ann"), await new_user(served.url, "bob")
    group = await group_of(bob, ann)
    welcome = group["channels"][0]["id"]
    general = (await bob.client.request("channel.create", group_id=group["id"], name="general"))[
        "id"
    ]
    desktop: list[str] = []
    app = app_for(served, tmp_path, ann.name)
    app.notifier = lambda title, body: desktop.append(body)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.active == welcome, "the first channel")
        app.open_conversation(general)
        compose = app.main.query_one(ComposeArea)
        compose.load_text("/notify all")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.session.state.level(general) == "all", "the level")
        app.open_conversation(welcome)
        await bob.send(general, "no mention, but every message notifies here")
        await wait_for(pilot, lambda: len(desktop) == 1, "the desktop notification")
        assert "all" in sidebar_line(app, general)

        compose.load_text("/dnd on")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.session.state.dnd, "do not disturb")
        assert "DND" in str(app.main.query_one("#status").render())
        await bob.send(general, f"@{ann.name} even a mention stays quiet")
        conv = app.session.state.conversations[general]
        await wait_for(pilot, lambda: conv.mentions == 1, "the mention counted")
        assert len(desktop) == 1  # counted, not announced

        saved = app.session.saved_profile()
        assert saved is not None and saved.dnd and (general, "all") in saved.notify
        compose.load_text("/dnd off")
        await pilot.press("enter")
        await wait_for(pilot, lambda: not app.session.state.dnd, "do not disturb off")
        compose.load_text("/notify loud")
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("usage: /notify" in n for n in app.notified), "usage")
    await app.session.close()
    for user in (ann, bob):
        await user.client.close()
