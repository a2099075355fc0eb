"""Threads in the terminal client under Pilot: t on a message opens its thread, the
replies come and go with their own compose box, the root shows "N replies · last"."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, OptionList

from nodechat.tui.render import THREAD_MARK
from nodechat.tui.threads import ThreadScreen
from nodechat.tui.widgets import MessageList
from tests.tui.conftest import Served, group_of, new_user, wait_for
from tests.tui.test_chat_app import app_for
from tests.tui.test_commands import said
from tests.tui.test_pins import line_of


async def test_t_opens_the_thread_and_replies_count_on_the_root(
    served: Served, tmp_path: Path
) -> None:
    ann, bob = await new_user(served.url, "ann"), await new_user(served.url, "bob")
    group = await group_of(ann, bob)
    welcome = group["channels"][0]["id"]
    root = await bob.send(welcome, "who is in for the hike?")
    tid = f"thread:{root['id']}"
    await bob.client.request("message.send", conversation=tid, body="me, bob", nonce="b1")
    app = app_for(served, tmp_path, ann.name)
    async with app.run_test(size=(110, 32)) as pilot:
        await wait_for(pilot, lambda: app.active is not None, "a conversation")
        app.open_conversation(welcome)
        conv = app.session.state.conversations[welcome]
        await wait_for(pilot, lambda: conv.loaded, "the history")
        view = app.main.query_one(MessageList)
        await wait_for(pilot, lambda: root["id"] in [o.id for o in view.options], "the root")
        assert f"{THREAD_MARK} 1 reply · last " in line_of(app, root["id"])

        view.focus()
        view.highlighted = view.get_option_index(root["id"])
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, ThreadScreen), "the thread")
        screen = app.screen
        assert isinstance(screen, ThreadScreen) and screen.conversation == tid
        replies = screen.query_one("#thread-messages", OptionList)
        await wait_for(pilot, lambda: replies.option_count == 1, "the reply")
        assert "me, bob" in str(replies.get_option_at_index(0).prompt)
        thread = app.session.state.conversations[tid]
        await wait_for(pilot, lambda: thread.last_read_seq == 1, "the thread marked read")

        compose = screen.query_one("#thread-compose", Input)
        assert compose.has_focus
        await pilot.press(*"count me in", "enter")
        counts = [1]
        while counts[-1] < 2:  # bob's own reply's summary came first
            event = await bob.client.next_event("message.thread", timeout=10)
            counts.append(event["data"]["thread"]["count"])
        assert counts[-1] == 2
        await wait_for(pilot, lambda: replies.option_count == 2, "my reply in the thread")
        # a reply from elsewhere arrives live in the open thread
        await bob.client.request("message.send", conversation=tid, body="great", nonce="b2")
        await wait_for(pilot, lambda: replies.option_count == 3, "bob's live reply")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main, "the thread closed")
        await wait_for(
            pilot, lambda: f"{THREAD_MARK} 3 replies" in line_of(app, root["id"]), "the count"
        )

        # a thread message cannot open a thread of its own
        app.open_conversation(tid)
        await wait_for(pilot, lambda: app.active == tid, "the thread as a conversation")
        await wait_for(pilot, lambda: len(view.options) >= 3, "its replies")
        view.focus()
        view.highlighted = view.option_count - 1
        await pilot.press("t")
        await wait_for(pilot, lambda: said(app, "threads do not nest"), "the refusal")
    await app.session.close()
    for user in (ann, bob):
        await user.client.close()


async def test_the_thread_screen_pages_in_older_replies(served: Served, tmp_path: Path) -> None:
    ann, bob = await new_user(served.url, "ann"), await new_user(served.url, "bob")
    group = await group_of(ann, bob)
    welcome = group["channels"][0]["id"]
    root = await bob.send(welcome, "a long thread")
    tid = f"thread:{root['id']}"
    for n in range(1, 56):
        await bob.client.request("message.send", conversation=tid, body=f"r{n}", nonce=f"r{n}")
    app = app_for(served, tmp_path, ann.name)
    async with app.run_test(size=(110, 32)) as pilot:
        await wait_for(pilot, lambda: app.active is not None, "a conversation")
        app.open_conversation(welcome)
        conv = app.session.state.conversations[welcome]
        await wait_for(pilot, lambda: conv.loaded, "the history")
        root_message = conv.find(root["id"])
        assert root_message is not None
        app.open_thread(root_message)
        await wait_for(pilot, lambda: isinstance(app.screen, ThreadScreen), "the thread")
        thread = app.session.state.conversations[tid]
        await wait_for(pilot, lambda: len(thread.messages) == 50, "the newest page")
        replies = app.screen.query_one("#thread-messages", OptionList)
        await wait_for(pilot, lambda: replies.option_count == 50, "drawn")
        replies.focus()
        await pilot.press("home")
        await wait_for(pilot, lambda: len(thread.messages) == 55, "the older replies")
        await wait_for(pilot, lambda: replies.option_count == 55, "drawn with the rest")
        assert "r1" in str(replies.get_option_at_index(0).prompt)
        assert replies.highlighted == 5  # still on the reply that was the oldest loaded
    await app.session.close()
    for user in (ann, bob):
        await user.client.close()
