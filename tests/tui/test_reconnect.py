"""The client survives a server restart: it reconnects, resumes, and loses nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

from nodechat.chatclient.profiles import ProfileStore
from nodechat.client import ChatClient
from nodechat.tui.app import AutoLogin, ChatApp
from nodechat.tui.screens import LoginScreen
from tests.tui.conftest import PASSWORD, Served, group_of, new_user, wait_for
from tests.tui.test_chat_app import texts


async def test_reconnect_after_restart_with_nothing_lost(tmp_path: Path) -> None:
    served = Served(tmp_path / "data")
    served.start()
    try:
        ann, bob = await new_user(served.url, "ann"), await new_user(served.url, "bob")
        group = await group_of(bob, ann)
        channel = group["channels"][0]["id"]
        await bob.send(channel, "before the restart")
        await ann.client.close()
        await bob.client.close()

        app = ChatApp(
            served.url,
            "p",
            ProfileStore(tmp_path / "profiles"),
            auto=AutoLogin(ann.name, PASSWORD),
            notifier=lambda t, b: None,
            backoff=(0.2, 1.0),
        )
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(
                pilot,
                lambda: any("before the restart" in t for t in texts(app)),
                "the first message",
            )
            await asyncio.to_thread(served.stop)  # the loop must stay free to answer the close
            await wait_for(
                pilot, lambda: app.session.status == "reconnecting", "the reconnecting state"
            )
            assert "reconnecting" in str(app.main.query_one("#status").render())
            await pilot.press(*"typed while down", "enter")  # queued, sent after resume
            await wait_for(pilot, lambda: app.session.pending == 1, "the queued message")
            status = app.main.query_one("#status")
            await wait_for(pilot, lambda: "1 unsent" in str(status.render()), "the unsent count")
            assert texts(app)[-1] == "⧗ not sent yet: typed while down"  # pending, in place

            await asyncio.to_thread(served.start)  # same port, same data dir
            bob2 = await ChatClient.connect(served.url)
            login = await bob2.request("auth.login", login=bob.name, password=PASSWORD)
            await bob2.authenticate(login["access_token"])
            for i in range(3):
                await bob2.request(
                    "message.send",
                    conversation=channel,
                    body=f"while you were away {i}",
                    nonce=f"away{i}",
                )

            await wait_for(pilot, lambda: app.session.status == "online", "online again")
            await wait_for(
                pilot,
                lambda: sum("while you were away" in t for t in texts(app)) == 3,
                "the messages sent while the client was away",
            )
            await wait_for(pilot, lambda: app.session.pending == 0, "the outbox to drain")
            await wait_for(pilot, lambda: "unsent" not in str(status.render()), "no unsent count")
            await wait_for(
                pilot,
                lambda: not any("not sent yet" in t for t in texts(app)),
                "the pending line gone",
            )
            assert app.session.last_resume is not None and channel in app.session.last_resume
            assert "online" in str(app.main.query_one("#status").render())

            conv = app.session.state.conversations[channel]
            seqs = [m.seq for m in conv.messages]
            assert seqs == sorted(set(seqs)) == list(range(1, len(seqs) + 1))
            page = await bob2.request("message.history", conversation=channel, limit=100)
            bodies = [m["body"] for m in page["messages"]]
            assert bodies.count("typed while down") == 1  # resent once, same nonce
            await wait_for(
                pilot,
                lambda: any("typed while down" in t for t in texts(app)),
                "the queued message on screen",
            )
            await bob2.close()
        await app.session.close()
    finally:
        served.stop()


async def test_a_saved_session_waits_for_a_server_that_is_down(tmp_path: Path) -> None:
    served = Served(tmp_path / "data")
    served.start()
    store = ProfileStore(tmp_path / "profiles")
    try:
        ann = await new_user(served.url, "ann")
        await ann.client.close()
        first = ChatApp(
            served.url, "p", store, auto=AutoLogin(ann.name, PASSWORD), notifier=lambda t, b: None
        )
        async with first.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: first.session.status == "online", "the first login")
        await first.session.close()
        await asyncio.to_thread(served.stop)

        app = ChatApp(served.url, "p", store, notifier=lambda t, b: None, backoff=(0.2, 1.0))
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: app.session.status == "reconnecting", "retrying")
            status = app.main.query_one("#status")
            await wait_for(pilot, lambda: "retrying in" in str(status.render()), "the retry said")
            assert not isinstance(app.screen, LoginScreen)  # the saved session is still good
            await asyncio.to_thread(served.start)
            await wait_for(pilot, lambda: app.session.status == "online", "online when it is back")
            await wait_for(pilot, lambda: app.active == f"self:{ann.id}", "notes opened")
            assert not isinstance(app.screen, LoginScreen)
        await app.session.close()
    finally:
        served.stop()
