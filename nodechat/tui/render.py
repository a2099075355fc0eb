"""How state is drawn as text: messages, sidebar lines, members. Pure functions."""

from __future__ import annotations

import re
import time

from rich.text import Text

from nodechat.chatclient.state import ChatState, Conversation, Message, SidebarEntry
from nodechat.tui.files import attachments_line

MENTION = re.compile(r"(?<![A-Za-z0-9_.@])@([A-Za-z0-9_.-]{3,32})")
URL = re.compile(r"https?://[^\s<>\"')\]]+")
MENTION_ME_STYLE = "bold black on yellow"
MENTION_STYLE = "bold cyan"
REACTED_STYLE = "bold"  # a reaction of mine, beside the others' dim ones


PIN_MARK = "📌"  # after a pinned message, and before each line of the pin list
THREAD_MARK = "↳"  # before the reply count under a thread's root


def clock(ms: int) -> str:
    """HH:MM in local time."""
    return time.strftime("%H:%M", time.localtime(ms / 1000))


def local_day(ms: int) -> str:
    """The local date of a timestamp, ``YYYY-MM-DD``."""
    return time.strftime("%Y-%m-%d", time.localtime(ms / 1000))


def day_line(ms: int) -> Text:
    """The separator above a day's first message: ``── Thursday 3 December 2026 ──``."""
    when = time.localtime(ms / 1000)
    label = time.strftime("%A ", when) + str(when.tm_mday) + time.strftime(" %B %Y", when)
    return Text(f"── {label} ──", style="dim", justify="center")


def snippet(text: str, width: int = 40) -> str:
    """One line of at most ``width`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def links(body: str) -> list[str]:
    """The http(s) links in a message body, in order."""
    return [m.group(0).rstrip(".,;:!?") for m in URL.finditer(body)]


def message_text(state: ChatState, conv: Conversation, message: Message) -> Text:
    """A message: optional reply line, then time, author, body and marks."""
    out = Text()
    if message.reply_to:
        target = conv.find(message.reply_to)
        quoted = (
            f"{state.username(target.author_id)}: "
            f"{'(deleted)' if target.deleted else snippet(target.body, 36)}"
            if target
            else "an older message"
        )
        out.append(f"╭ reply to {quoted}\n", style="dim italic")
    out.append(clock(message.created_at) + " ", style="dim")
    mine = message.author_id == state.my_id
    out.append(state.username(message.author_id), style="bold green" if mine else "bold")
    out.append(": ")
    if message.deleted:
        out.append("(message deleted)", style="dim italic")
        if message.thread is not None:  # its replies stay readable
            out.append_text(thread_line(message))
        return out
    me = state.my_username
    body = Text(message.body)
    for match in MENTION.finditer(message.body):
        name = match.group(1).rstrip(".").lower()
        style = MENTION_ME_STYLE if name == me and me in message.mentions else MENTION_STYLE
        body.stylize(style, match.start(), match.start() + 1 + len(name))
    for match in URL.finditer(message.body):
        body.stylize("underline", match.start(), match.end())
    out.append_text(body)
    if message.edited_at:
        out.append(" (edited)", style="dim")
    if conv.pinned(message.id):
        out.append(f" {PIN_MARK}", style="yellow")
    if message.attachments:
        out.append_text(attachments_line(message))
    if message.reactions:
        out.append_text(reactions_line(message))
    if message.thread is not None:
        out.append_text(thread_line(message))
    return out


def thread_line(message: Message) -> Text:
    """The line under a thread's root: ``↳ 3 replies · last 14:02`` (t opens it)."""
    thread = message.thread
    if thread is None or thread.count <= 0:
        return Text()
    words = f"{thread.count} {'reply' if thread.count == 1 else 'replies'}"
    if thread.last_at is not None:
        words += f" · last {clock(thread.last_at)}"
    out = Text(f"\n  {THREAD_MARK} {words}", style="cyan")
    if thread.unread:
        out.append(f" · {thread.unread} new", style="bold cyan")
    return out


def reactions_line(message: Message) -> Text:
    """The line under a message: ``👍 3  🎉 1*``, the ones I reacted with marked ``*``."""
    out = Text("\n  ")
    for n, (emoji, (count, me)) in enumerate(message.reactions.items()):
        if n:
            out.append("  ")
        out.append(f"{emoji} {count}" + ("*" if me else ""), style=REACTED_STYLE if me else "dim")
    return out


def badge(conv: Conversation, level: str) -> str:
    """' 3 @1' style counters for the sidebar, and a level that is not the default."""
    parts = []
    if conv.unread:
        parts.append(str(conv.unread))
    if conv.mentions:
        parts.append(f"@{conv.mentions}")
    if level == "none":
        parts.append("muted")
    elif level == "all" and conv.kind != "direct":
        parts.append("all")
    elif level == "mentions" and conv.kind == "direct":
        parts.append("@only")
    return (" " + " ".join(parts)) if parts else ""


def sidebar_line(state: ChatState, entry: SidebarEntry, active: str | None) -> Text:
    """One sidebar line: a header, or a conversation with its counters."""
    if entry.conversation is None:
        return Text(entry.label, style="bold underline")
    conv = state.conversations[entry.conversation]
    text = Text("  " * entry.depth)
    if conv.kind == "direct":
        online = conv.peer_id in state.online
        text.append("● " if online else "○ ", style="green" if online else "dim")
    style = "bold" if conv.unread else ""
    if conv.id == active:
        style += " reverse"
    text.append(entry.label, style=style.strip())
    count = badge(conv, state.level(conv.id))
    if count:
        text.append(count, style="bold magenta" if conv.mentions else "bold yellow")
    voice = state.voice.get(conv.id) or []
    if conv.channel_kind == "voice" and voice:
        names = ", ".join(state.username(u) for u in voice)
        text.append(f"\n{'  ' * (entry.depth + 1)}🔊 {names}", style="dim")
    return text


def member_lines(state: ChatState, conversation_id: str | None) -> Text:
    """The member panel: presence dot, name, role; voice participants."""
    conv = state.conversations.get(conversation_id or "")
    out = Text()
    if conv is None:
        return out
    if conv.group_id:
        roles = state.members.get(conv.group_id) or {}
        ids = list(roles) or [state.my_id, *state.users]
    else:
        roles = {}
        ids = [state.my_id] + ([conv.peer_id] if conv.peer_id else [])
    out.append("Members\n", style="bold underline")
    for uid in sorted(ids, key=lambda u: (u not in state.online, state.username(u))):
        online = uid in state.online
        out.append("● " if online else "○ ", style="green" if online else "dim")
        out.append(state.username(uid))
        role = roles.get(uid)
        if role and role != "member":
            out.append(f" ({role})", style="dim")
        out.append("\n")
    if conv.channel_kind == "voice":
        out.append("\nIn voice\n", style="bold underline")
        marks = state.voice_states.get(conv.id) or {}
        for uid in state.voice.get(conv.id) or []:
            flags = marks.get(uid) or {}
            speaking = bool(flags.get("speaking"))
            out.append("🗣 " if speaking else "🔊 ", style="bold green" if speaking else "")
            out.append(state.username(uid))
            if flags.get("muted"):
                out.append(" [muted]", style="yellow")
            if flags.get("deafened"):
                out.append(" [deafened]", style="red")
            out.append("\n")
        if not state.voice.get(conv.id):
            out.append("nobody\n", style="dim")
    return out
