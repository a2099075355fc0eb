"""The chat widgets. They draw :class:`ChatState` and post messages; they never do I/O."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message as TextualMessage
from textual.widgets import OptionList, TextArea
from textual.widgets.option_list import Option

from nodechat.chatclient.state import ChatState
from nodechat.tui.render import day_line, local_day, message_text, sidebar_line

TOP = "top"  # id of the first (status) line of the message list
WELCOME = (
    "Welcome! These are your notes to self. To start: /group new NAME creates a group, "
    "/join CODE joins one with an invite code, /dm USER writes to someone. F1 lists keys "
    "and commands."
)
NEW = "new"  # id of the line above the first message that arrived since the last read
NEW_LINE = Text("──────── new ────────", style="bold red", justify="center")


def patch(view: OptionList, options: list[Option]) -> bool:
    """Turn ``view`` into ``options`` in place when they only add lines at the end or
    change lines' text; False (nothing done) when lines were inserted, moved or removed."""
    old = view.options
    if len(options) < len(old) or any(o.id != n.id for o, n in zip(old, options, strict=False)):
        return False
    for n, (was, new) in enumerate(zip(old, options, strict=False)):
        if was.prompt != new.prompt:
            view.replace_option_prompt_at_index(n, new.prompt)
    if len(options) > len(old):
        view.add_options(options[len(old) :])
    return True


class Sidebar(OptionList):
    """Groups, channels, direct conversations and notes, with unread and mention counters."""

    rebuilds = 0  # full redraws (the rest patch changed lines in place)

    @dataclass
    class Opened(TextualMessage):
        """The user chose a conversation."""

        conversation: str

    def show(self, state: ChatState, active: str | None, unread_first: bool) -> None:
        """Redraw from the state, keeping the cursor on the same conversation."""
        current = self.highlighted_option.id if self.highlighted_option else active
        options: list[Option] = []
        for n, entry in enumerate(state.sidebar(unread_first)):
            prompt = sidebar_line(state, entry, active)
            if entry.conversation is None:
                options.append(Option(prompt, id=f"h{n}", disabled=True))
            elif not any(o.id == entry.conversation for o in options):
                options.append(Option(prompt, id=entry.conversation))
        if not patch(self, options):
            self.clear_options()
            self.add_options(options)
            self.rebuilds += 1
        ids = [o.id for o in options]
        if current in ids:
            self.highlighted = ids.index(current)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option_id:
            self.post_message(self.Opened(event.option_id))


class MessageList(OptionList):
    """The messages of the open conversation, oldest at the top; select one to act on it."""

    BINDINGS = [
        Binding("r", "act('reply')", "Reply"),
        Binding("e", "act('edit')", "Edit"),
        Binding("d,delete", "act('delete')", "Delete"),
        Binding("c,y", "act('copy')", "Copy"),
        Binding("o", "act('open')", "Open link"),
        Binding("l", "act('links')", "Links"),
        Binding("g", "act('original')", "Go to original"),
        Binding("p", "act('pin')", "Pin/unpin"),
        Binding("plus", "act('react')", "React"),
        Binding("t", "act('thread')", "Thread"),
        Binding("s", "act('save')", "Save file"),
        Binding("escape,i", "act('compose')", "Compose", show=False),
    ]
    ACTION_KEYS = frozenset("redcyolgipts") | {"plus"}  # the keys above; others go to compose

    @dataclass
    class Act(TextualMessage):
        """The user asked for ``action`` on the highlighted message (None: no message)."""

        action: str
        message_id: str | None

    @dataclass
    class NeedOlder(TextualMessage):
        """The user reached the top: load older history."""

        conversation: str

    @dataclass
    class SeenBottom(TextualMessage):
        """The newest message came into view: the conversation has been read."""

        conversation: str

    @dataclass
    class Selecting(TextualMessage):
        """The list gained (True) or lost (False) the focus: letter keys act on messages."""

        active: bool

    @dataclass
    class TypeThrough(TextualMessage):
        """A printable key the list does not bind: it belongs in the compose box."""

        text: str

    conversation: str | None = None
    rebuilds = 0  # full redraws (new messages are appended, edits patched in place)
    _first = 1  # the index of the first message's line
    _top_new = False  # the redraw put the selection on the first new message
    _pending_rows = 0  # unsent messages shown below the newest
    _show_pending = False  # following the newest: scroll the unsent lines into view
    _redrawing = False  # a redraw moves the scroll position; that is not the user scrolling

    def show(
        self,
        state: ChatState,
        conversation: str | None,
        *,
        follow: bool = False,
        pending: list[str] | None = None,
        new_after: int | None = None,
        at_new: bool = False,
    ) -> bool:
        """Redraw the conversation; keep the highlighted message, or follow the newest.
        True when the selection was put on the first new message (``at_new``).

        ``pending`` are sends not acknowledged yet: shown after the messages, dimmed.
        ``new_after`` is the read marker when the conversation was opened: a "new" line
        goes above the first later message of someone else; with ``at_new`` the
        selection starts there instead of at the newest message.
        """
        changed = conversation != self.conversation
        self.conversation = conversation
        at_bottom = (
            changed
            or follow
            or self.highlighted is None
            or (self.highlighted >= self.option_count - 1 - self._pending_rows)
        )  # then follow the newest message
        keep = (
            None if at_bottom else (self.highlighted_option.id if self.highlighted_option else None)
        )
        conv = state.conversations.get(conversation or "")
        options: list[Option] = []
        first_new: str | None = None
        if conv is None:
            options.append(
                Option(
                    Text("Pick a conversation on the left (Tab, arrows, Enter).", style="dim"),
                    id=TOP,
                    disabled=True,
                )
            )
        else:
            top = (
                "⟳ loading older messages…"
                if conv.loading
                else "↑ older messages: press Up at the top"
                if conv.has_more and conv.messages
                else "— beginning of conversation —"
                if conv.loaded or conv.messages
                else "⟳ loading…"
            )
            if not conv.messages and conv.loaded and conv.kind == "self" and not state.groups:
                top = WELCOME  # a new account: say where to start
            options.append(Option(Text(top, style="dim italic"), id=TOP, disabled=True))
            day = ""
            # the "new" line only once every message after the read marker is loaded
            covered = (
                new_after is not None
                and bool(conv.messages)
                and (conv.messages[0].seq <= new_after + 1 or not conv.has_more)
            )
            for m in conv.messages:
                if (today := local_day(m.created_at)) != day:
                    day = today
                    options.append(Option(day_line(m.created_at), id=f"day-{day}", disabled=True))
                if (
                    first_new is None
                    and new_after is not None
                    and m.seq > new_after
                    and m.author_id != state.my_id
                    and covered
                ):
                    first_new = m.id
                    options.append(Option(NEW_LINE, id=NEW, disabled=True))
                options.append(Option(message_text(state, conv, m), id=m.id))
        last = len(options) - 1  # the newest message (or the status line)
        for n, body in enumerate((pending or []) if conv is not None else []):
            line = Text("⧗ not sent yet: ", style="bold yellow")
            line.append(body, style="dim")
            options.append(Option(line, id=f"pending-{n}", disabled=True))
        self._pending_rows = len(options) - 1 - last
        self._first = next((n for n, o in enumerate(options) if not o.disabled), 0)
        self._redrawing = True
        if changed or not patch(self, options):
            self.clear_options()
            self.add_options(options)
            self.rebuilds += 1
        ids = [o.id for o in options]
        self._top_new = at_new and first_new is not None
        if self._top_new:
            self.highlighted = ids.index(first_new)
        elif keep in ids:
            self.highlighted = ids.index(keep)
        elif at_bottom and last > 0:
            self.highlighted = last
        self._show_pending = bool(self._pending_rows) and self.highlighted == last
        self.call_after_refresh(self._redrawn)
        return self._top_new

    @property
    def last_message(self) -> int:
        """The index of the newest message's line."""
        return self.option_count - 1 - self._pending_rows

    def at_bottom(self) -> bool:
        """Whether the newest message is in view (the user has seen the conversation)."""
        return self.option_count > 1 and (
            self.max_scroll_y == 0
            or self.scroll_y >= self.max_scroll_y
            or (self.highlighted is not None and self.highlighted >= self.last_message)
        )

    def _redrawn(self) -> None:
        if self._show_pending:
            self.scroll_end(animate=False)  # the unsent lines below the newest, too
        elif self._top_new and self.highlighted is not None:
            self.scroll_to_highlight(top=True)  # the first new message at the top,
            self.scroll_to(y=max(0, self.scroll_y - 1), animate=False)  # the "new" line above
        elif self.highlighted is not None:
            self.scroll_to_highlight()
        self._redrawing = False
        self._top_new = False
        self.call_after_refresh(self._check_seen)

    def _check_seen(self) -> None:
        if self.conversation and self.at_bottom():
            self.post_message(self.SeenBottom(self.conversation))

    def watch_highlighted(self, highlighted: int | None) -> None:
        super().watch_highlighted(highlighted)
        if highlighted is not None and highlighted >= self.last_message and self.conversation:
            self.post_message(self.SeenBottom(self.conversation))

    @property
    def loading_text(self) -> str:
        """The text of the status line at the top."""
        if not self.option_count:
            return ""
        return str(self.get_option_at_index(0).prompt)

    def _at_top(self) -> None:
        """The first message is highlighted: stay there and ask for older ones."""
        if self.option_count > 1:
            self.highlighted = self._first
            self.scroll_to(y=0, animate=False)
        if self.conversation:
            self.post_message(self.NeedOlder(self.conversation))

    def action_cursor_up(self) -> None:
        if self.highlighted is None or self.highlighted <= self._first:
            self._at_top()  # never wrap round to the newest message
            return
        super().action_cursor_up()

    def action_page_up(self) -> None:
        if self.highlighted is None or self.highlighted <= self._first:
            self._at_top()
            return
        super().action_page_up()  # type: ignore[no-untyped-call]
        if self.highlighted is None or self.highlighted <= self._first:
            self._at_top()

    def action_cursor_down(self) -> None:
        if self.highlighted is not None and self.highlighted >= self.last_message:
            return  # never wrap round to the oldest message
        super().action_cursor_down()

    def action_first(self) -> None:
        self._at_top()

    def on_focus(self) -> None:
        self.post_message(self.Selecting(True))

    def on_blur(self) -> None:
        self.post_message(self.Selecting(False))

    async def _on_key(self, event: events.Key) -> None:
        char = event.character
        if (
            char is not None
            and char.isprintable()
            and event.key not in self.ACTION_KEYS
            and not event.key.startswith(("ctrl+", "alt+"))
        ):
            event.stop()
            event.prevent_default()
            self.post_message(self.TypeThrough(char))
            return
        await super()._on_key(event)

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if self._redrawing or not self.conversation:
            return
        if new == 0 and old > 0:
            if self.option_count > 1:
                self.highlighted = self._first  # keep this message in view when older ones arrive
            self.post_message(self.NeedOlder(self.conversation))
        elif new >= self.max_scroll_y > old:
            self.post_message(self.SeenBottom(self.conversation))

    def action_act(self, action: str) -> None:
        option = self.highlighted_option
        message_id = option.id if option is not None and option.id != TOP else None
        self.post_message(self.Act(action, message_id))


class ComposeArea(TextArea):
    """Multi-line compose box: Enter sends, Ctrl+J / Alt+Enter adds a line,
    Up/Down at the edges walk the history, Tab completes @names."""

    @dataclass
    class Submitted(TextualMessage):
        """The user pressed Enter."""

        text: str

    @dataclass
    class Typing(TextualMessage):
        """The text changed (someone is typing)."""

    @dataclass
    class Cancel(TextualMessage):
        """Escape: drop the reply/edit mode."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, **kwargs)  # type: ignore[arg-type]
        self.sent: list[str] = []
        self._browse: int | None = None
        self._draft = ""  # what was in the box when Up started walking the history
        self.names: list[str] = []  # candidates for @-completion
        self._completion: tuple[str, list[str], int] | None = None

    async def _on_key(self, event: events.Key) -> None:
        key = event.key
        if key == "enter":
            event.stop()
            event.prevent_default()
            self.post_message(self.Submitted(self.text))
            return
        if key in ("ctrl+j", "alt+enter", "shift+enter"):
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        if key == "tab" and self.complete():
            event.stop()
            event.prevent_default()
            return
        if key == "escape":
            event.stop()
            self.post_message(self.Cancel())
            return
        if key != "tab":
            self._completion = None
        await super()._on_key(event)

    def action_cursor_up(self, select: bool = False) -> None:
        if not select and self.cursor_location[0] == 0 and self.sent:
            if self._browse is None:
                self._draft = self.text
            self._browse = (len(self.sent) if self._browse is None else self._browse) - 1
            self._browse = max(0, self._browse)
            self.load_text(self.sent[self._browse])
            return
        super().action_cursor_up(select)

    def action_cursor_down(self, select: bool = False) -> None:
        last = self.document.line_count - 1
        if not select and self._browse is not None and self.cursor_location[0] == last:
            self._browse += 1
            if self._browse >= len(self.sent):
                self._browse = None
                self.load_text(self._draft)  # back past the newest: the draft, as it was
                self._draft = ""
                self.move_cursor(self.document.end)
            else:
                self.load_text(self.sent[self._browse])
            return
        super().action_cursor_down(select)

    def remember(self, text: str) -> None:
        """Add a sent text to the history and clear the box."""
        if text.strip() and (not self.sent or self.sent[-1] != text):
            self.sent.append(text)
        self._browse = None
        self._draft = ""
        self.load_text("")

    def complete(self) -> bool:
        """Complete the @word before the cursor; repeated Tab cycles. False if no @word."""
        row, col = self.cursor_location
        line = self.document.get_line(row)
        if self._completion is not None:
            prefix, matches, n = self._completion
            n = (n + 1) % len(matches)
        else:
            start = line.rfind("@", 0, col)
            prefix = line[start + 1 : col] if start >= 0 else ""
            if start < 0 or " " in prefix:
                return False
            matches = [m for m in self.names if m.startswith(prefix.lower())]
            if not matches:
                return False
            n = 0
        start = line.rfind("@", 0, col)
        self.replace(f"@{matches[n]} ", (row, start), (row, col))
        self._completion = (prefix, matches, n)
        return True

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        if self.text:
            self.post_message(self.Typing())
