"""The pins of the open conversation: a modal list; Enter selects the message in the view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message as TextualMessage
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from nodechat.chatclient.state import ChatState, Conversation
from nodechat.tui.render import PIN_MARK, clock, snippet


def pin_line(state: ChatState, conv: Conversation, n: int) -> Text:
    """One pin: who wrote it, a snippet of it (as loaded, so edits show), who pinned it."""
    entry = conv.pins[n]
    message = conv.find(entry.message.id) or entry.message
    line = Text(f"{PIN_MARK} ")
    line.append(state.username(message.author_id), style="bold")
    line.append(f": {snippet(message.body, 60)}\n")
    line.append(
        f"   pinned by {state.username(entry.pinned_by)} at {clock(entry.pinned_at)}",
        style="dim",
    )
    return line


class PinsScreen(ModalScreen[None]):
    """The pinned messages of one conversation, newest pin first."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss", "Close")]

    @dataclass
    class Chosen(TextualMessage):
        """Select ``message_id`` in the message list."""

        message_id: str

    def __init__(self, state: ChatState, conv: Conversation) -> None:
        super().__init__()
        self.message_ids = [p.message.id for p in conv.pins]
        self.lines = [pin_line(state, conv, n) for n in range(len(conv.pins))]
        self.title_text = f"Pinned in {state.title(conv.id)}"

    def compose(self) -> ComposeResult:
        with Vertical(id="pins-box"):
            yield Label(f"{self.title_text}: Enter goes to a message, Esc closes", id="pins-title")
            if not self.lines:
                yield Label("Nothing is pinned here yet (p on a message pins it).", id="pins-none")
            yield OptionList(
                *(
                    Option(line, id=mid)
                    for line, mid in zip(self.lines, self.message_ids, strict=True)
                ),
                id="pins",
            )

    def on_mount(self) -> None:
        if self.lines:
            self.query_one("#pins", OptionList).highlighted = 0

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option_id:
            self.app.post_message(self.Chosen(event.option_id))
        self.dismiss()
