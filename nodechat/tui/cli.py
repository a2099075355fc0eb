"""``nodechat chat``: the terminal client's command-line entry point."""

from __future__ import annotations

import logging
import os
from typing import Annotated

import typer

from nodechat.chatclient.profiles import ProfileStore
from nodechat.errors import ChatError

ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        help="Server URL, e.g. ws://127.0.0.1:7801/ [default: the profile's, "
        "else ws://127.0.0.1:7801/]",
        envvar="NODECHAT_SERVER",
        show_default=False,
    ),
]
ProfileOption = Annotated[
    str,
    typer.Option(
        "--profile",
        help="Saved login to use (one file per profile in the user config dir).",
        envvar="NODECHAT_PROFILE",
    ),
]
UserOption = Annotated[
    str | None,
    typer.Option(
        "--username",
        help="Log in non-interactively as this user (with NODECHAT_PASSWORD).",
        envvar="NODECHAT_USERNAME",
        show_default=False,
    ),
]
RegisterOption = Annotated[
    str | None,
    typer.Option(
        "--register-email",
        help="Register --username with this email instead of logging in.",
        envvar="NODECHAT_REGISTER_EMAIL",
        show_default=False,
    ),
]
ApiUrlOption = Annotated[
    str | None,
    typer.Option(
        "--api-url",
        help="The HTTP API for files (default: from --server; port 7800 for ws://…:7801/).",
        envvar="NODECHAT_API_URL",
        show_default=False,
    ),
]
NoAudioOption = Annotated[
    bool,
    typer.Option(
        "--no-audio",
        help="Voice without microphone and speakers (roster only).",
        envvar="NODECHAT_NO_AUDIO",
    ),
]
EditorOption = Annotated[
    str, typer.Option("--editor", help="Editor for Ctrl+G.", envvar=["VISUAL", "EDITOR"])
]


def chat(
    server: ServerOption = None,
    profile: ProfileOption = "default",
    username: UserOption = None,
    register_email: RegisterOption = None,
    editor: EditorOption = "vi",
    api_url: ApiUrlOption = None,
    no_audio: NoAudioOption = False,
) -> None:
    """Chat in the terminal (Textual client).

    With --username, the password comes from the NODECHAT_PASSWORD variable,
    never from the command line (where other users could see it in ps).
    """
    from nodechat.tui.app import AutoLogin, ChatApp

    logging.basicConfig(level=logging.CRITICAL)  # never draw log lines over the screen
    store = ProfileStore()
    try:
        saved = store.load(profile)
    except ChatError as exc:
        typer.echo(f"nodechat: {exc.message}", err=True)
        raise typer.Exit(2) from None
    url = server or (saved.server if saved else "ws://127.0.0.1:7801/")
    password = os.environ.get("NODECHAT_PASSWORD")
    auto = (
        AutoLogin(username, password, register_email or "", bool(register_email))
        if username and password
        else None
    )
    ChatApp(
        url, profile, store, auto=auto, editor=editor, api_url=api_url, audio=not no_audio
    ).run()
