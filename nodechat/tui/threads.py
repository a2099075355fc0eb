"""A message's thread: a screen over the conversation with the replies, oldest at the
top, and a compose box of its own. ``t`` on a message opens it; Esc closes it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from nodechat.chatclient.session import ChatSession
from nodechat.tui.render import message_text, snippet

Spawn = Callable[[Awaitable[Any]], None]


class ThreadScreen(ModalScreen[None]):
    """The replies under one message; Enter in the box sends a reply."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss", "Close")]

    def __init__(self, session: ChatSession, conversation: str, spawn: Spawn) -> None:
        super().__init__()
        self.session = session
        self.conversation = conversation  # thread:<root id>
        self._spawn = spawn
        self.draws = 0

    def compose(self) -> ComposeResult:
        state = self.session.state
        conv = state.conversations[self.conversation]
        parent = state.conversations.get(conv.parent or "")
        root = parent.find(self.conversation.split(":", 1)[1]) if parent else None
        about = (
            f"{state.username(root.author_id)}: {snippet(root.body, 50)}"
            if root is not None and not root.deleted
            else "a message"
        )
        with Vertical(id="thread-box"):
            yield Label(f"Thread on {about}  (Esc closes)", id="thread-title")
            yield OptionList(id="thread-messages")
            yield Input(placeholder="Reply in the thread, Enter sends", id="thread-compose")

    def on_mount(self) -> None:
        self.redraw()
        self.query_one("#thread-compose", Input).focus()

    def redraw(self) -> None:
        """Draw the thread's loaded replies (and the ones still waiting to be sent),
        keeping the selected reply selected unless the newest one was: then the newest."""
        state = self.session.state
        conv = state.conversations.get(self.conversation)
        view = self.query_one("#thread-messages", OptionList)
        current = view.highlighted_option
        following = view.highlighted is None or view.highlighted >= view.option_count - 1
        keep = current.id if current is not None and not following else None
        view.clear_options()
        if conv is None:
            return
        ids = [m.id for m in conv.messages]
        view.add_options(Option(message_text(state, conv, m), id=m.id) for m in conv.messages)
        for body in self.session.pending_in(self.conversation):
            view.add_option(Option(f"(sending) {snippet(body, 60)}", disabled=True))
        if not ids:
            view.add_option(Option("No replies yet: write the first one below.", disabled=True))
        else:
            view.highlighted = ids.index(keep) if keep in ids else len(ids) - 1
        self.draws += 1
        if conv.unread or conv.last_read_seq < conv.last_seq:
            self._spawn(self.session.mark_read(self.conversation))  # on screen: read

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        """At the oldest loaded reply: page in the older ones."""
        event.stop()
        conv = self.session.state.conversations.get(self.conversation)
        if event.option_index == 0 and conv is not None and conv.has_more and conv.messages:
            self._spawn(self.session.load_older(self.conversation))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "thread-compose":
            return
        event.stop()
        body = event.value.strip()
        if not body:
            return
        event.input.value = ""
        self._spawn(self.session.send_message(self.conversation, body))
