"""Desktop notifications and plain-words error messages."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import threading

from nodechat.errors import ChatError

PLAIN: dict[str, str] = {
    "file_too_large": "that file is too large for this server",
    "quota_exceeded": "your files take all the room you have; delete some messages with files",
    "file_not_found": "that file is gone, or not yours to send",
    "no_such_file": "there is no file at that path",
    "file_exists": "every name to save under exists already",
    "invalid_credentials": "wrong username or password",
    "too_many_login_attempts": "too many login attempts; wait a few minutes",
    "username_taken": "that username is taken",
    "email_taken": "that email is already registered",
    "invalid_username": "a username is 3-32 letters, digits, '_', '.' or '-'",
    "invalid_email": "that does not look like an email address",
    "invalid_password": "a password is 8-256 characters",
    "invite_invalid": "that invite code is unknown, expired or used up",
    "already_member": "you are already in that group",
    "banned": "you are banned from that group",
    "forbidden": "you are not allowed to do that",
    "user_not_found": "there is no such user",
    "self_target": "that would target yourself",
    "owner_cannot_leave": "the owner cannot leave; transfer ownership or delete the group",
    "conversation_not_found": "that conversation is gone or hidden from you",
    "message_not_found": "that message is gone",
    "invalid_body": "a message is 1-4000 characters and not blank",
    "invalid_name": "a name is 1-100 characters on one line",
    "blocked": "you cannot message this user",
    "invalid_emoji": "a reaction is one emoji or a :name: (lower case, no spaces)",
    "too_many_reactions": "this message has 20 different reactions already; use one of them",
    "message_deleted": "that message was deleted",
    "rate_limited": "slow down a little",
    "disconnected": "not connected to the server; retrying",
    "timeout": "the server did not answer in time",
    "shutting_down": "the server is restarting; retrying",
    "unknown_op": "this server does not support that",
    "internal": "the server had a problem; try again",
    "unreachable": "cannot reach the server (check the address; is it running?)",
    "bad_server": "the server's answer could not be read (is this a nodechat server?)",
}


def describe(exc: BaseException) -> str:
    """An error in plain words for a notification (never a traceback)."""
    if isinstance(exc, ChatError):
        return PLAIN.get(exc.code, exc.message)
    if isinstance(exc, TimeoutError):
        return "the server did not answer in time"
    if isinstance(exc, OSError):
        return f"cannot reach the server ({exc.strerror or exc})"
    return "something went wrong"


def desktop_notify(title: str, body: str) -> None:
    """Show a desktop notification with notify-send if it is installed; never fail."""
    exe = shutil.which("notify-send")
    if exe is None:
        return

    def run() -> None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                [exe, "--app-name=nodechat", title, body[:300]],
                timeout=10,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )

    threading.Thread(target=run, daemon=True).start()
