"""Files in the terminal client under Pilot: /attach uploads and sends, the file is shown
under its message, s and /save write it to disk without overwriting anything."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nodechat.chatclient.files import upload_file
from nodechat.tui import files as tui_files
from nodechat.tui.app import ChatApp
from nodechat.tui.widgets import ComposeArea, MessageList
from tests.tui.conftest import Served, free_port, group_of, new_user, wait_for
from tests.tui.test_chat_app import app_for, texts


@pytest.fixture(scope="module")
def files_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server whose HTTP API port is known (the files go there)."""
    server = Served(tmp_path_factory.mktemp("serve-files") / "data", api_port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def api(served: Served) -> str:
    return f"http://127.0.0.1:{served.api_port}"


def line_of(app: ChatApp, body: str) -> str:
    return next((t for t in texts(app) if body in t), "")


async def test_a_file_is_shown_and_saved_with_s(
    files_served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = files_served
    ann, bob = await new_user(served.url, "ann"), await new_user(served.url, "bob")
    group = await group_of(bob, ann)
    welcome = group["channels"][0]["id"]
    source = tmp_path / "plan.pdf"
    source.write_bytes(b"%PDF-1.4 the plan")
    record = await upload_file(api(served), bob.tokens["access_token"], source)
    sent = await bob.send(welcome, "the plan", attachments=[record["id"]])
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    monkeypatch.setattr(tui_files, "default_dir", lambda: downloads)
    (downloads / "plan.pdf").write_bytes(b"mine, keep it")  # never overwritten

    app = app_for(served, tmp_path, ann.name, api_url=api(served))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: welcome in app.session.state.conversations, "the snapshot")
        app.open_conversation(welcome)
        await wait_for(pilot, lambda: "📎 plan.pdf (17 B)" in line_of(app, "the plan"), "the file")
        view = app.main.query_one(MessageList)
        view.focus()
        view.highlighted = view.get_option_index(sent["id"])
        await pilot.press("s")
        saved = downloads / "plan (1).pdf"
        await wait_for(pilot, saved.exists, "the saved file")
        assert saved.read_bytes() == b"%PDF-1.4 the plan"
        assert (downloads / "plan.pdf").read_bytes() == b"mine, keep it"
        await wait_for(pilot, lambda: any("saved" in n for n in app.notified), "the notice")
        assert [p.name for p in downloads.iterdir() if p.name.startswith(".")] == []


async def test_attach_uploads_and_sends(files_served: Served, tmp_path: Path) -> None:
    served = files_served
    ann, bob = await new_user(served.url, "ann"), await new_user(served.url, "bob")
    group = await group_of(bob, ann)
    welcome = group["channels"][0]["id"]
    photo = tmp_path / "my photo.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    app = app_for(served, tmp_path, ann.name, api_url=api(served))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: welcome in app.session.state.conversations, "the snapshot")
        app.open_conversation(welcome)
        compose = app.main.query_one(ComposeArea)
        compose.focus()
        compose.load_text(f"/attach {photo}")
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: "📎 my photo.png (48 B)" in line_of(app, "my photo.png"), "sent"
        )
        await wait_for(
            pilot, lambda: any("sent my photo.png" in n for n in app.notified), "the notice"
        )
        page = await bob.client.request("message.history", conversation=welcome)
        (attachment,) = page["messages"][0]["attachments"]
        assert (attachment["name"], attachment["type"]) == ("my photo.png", "image/png")

        compose.focus()
        compose.load_text(f"/attach {tmp_path / 'missing.txt'}")
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: any("no file at that path" in n for n in app.notified), "the error"
        )
        out = tmp_path / "out"
        out.mkdir()
        compose.focus()
        compose.load_text(f"/save {out}")
        await pilot.press("enter")
        await wait_for(pilot, (out / "my photo.png").exists, "saved with /save")
