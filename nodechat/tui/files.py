"""Files in the terminal client: ``/attach PATH`` uploads and sends, ``s`` or ``/save``
saves a message's file (docs/client.md)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text

from nodechat.chatclient.files import FileRef, default_dir, size_text
from nodechat.chatclient.records import Message
from nodechat.chatclient.session import ChatSession

FILE_MARK = "📎"


def attachments_line(message: Message) -> Text:
    """The lines under a message: ``📎 report.pdf (12.1 KiB)``, one per file."""
    out = Text()
    for file in message.attachments:
        out.append(f"\n  {FILE_MARK} ", style="cyan")
        out.append(file.name, style="cyan underline")
        out.append(f" ({size_text(file.size)})", style="dim")
    return out


def save_target(given: str) -> Path:
    """Where ``/save [PATH]`` writes: the path given (``~`` expanded), else the
    Downloads directory (or the working directory)."""
    return Path(given).expanduser() if given.strip() else default_dir()


class Progress:
    """Reports an upload's or download's progress at most every 10%."""

    def __init__(self, say: object, verb: str, name: str) -> None:
        self.say = say
        self.verb = verb
        self.name = name
        self.shown = -1

    def __call__(self, done: int, total: int) -> None:
        """Called per chunk."""
        tenth = 10 if total <= 0 else min(10, done * 10 // total)
        if tenth > self.shown and tenth < 10 and callable(self.say):
            self.shown = tenth
            self.say(f"{self.verb} {self.name}: {tenth * 10}%")


async def attach_and_send(
    session: ChatSession, conversation: str, path_text: str, reply_to: str | None, say: object
) -> str:
    """Upload the file at ``path_text`` and send it in ``conversation``; what to tell."""
    path = Path(path_text.strip()).expanduser()
    record = await session.upload(path, Progress(say, "uploading", path.name))
    body = f"{FILE_MARK} {record['name']}"
    await session.send_message(conversation, body, reply_to, attachments=[str(record["id"])])
    return f"sent {record['name']} ({size_text(int(record['size']))}, {record['type']})"


async def save_files(
    session: ChatSession, files: tuple[FileRef, ...], given: str, say: object
) -> str:
    """Save every file of a message; what to tell."""
    target = save_target(given)
    if len(files) > 1 and not target.is_dir():
        target = target.parent if target.parent.is_dir() else default_dir()
    saved = [await session.save_file(f, target, Progress(say, "saving", f.name)) for f in files]
    return "saved " + ", ".join(str(p) for p in saved)
