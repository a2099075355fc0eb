"""Screens: log in / register, the main chat screen and the help screen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message as TextualMessage
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from nodechat.chatclient.commands import help_lines
from nodechat.tui.widgets import ComposeArea, MessageList, Sidebar


class LoginScreen(Screen[None]):
    """Server, username and password; log in or register (an email is needed to register)."""

    # priority: focus moves before the keys typed after Tab are handed out, so a fast
    # typist's (or a paste's) next characters land in the next field, not this one
    BINDINGS = [
        Binding("tab", "app.focus_next", "Next field", show=False, priority=True),
        Binding("shift+tab", "app.focus_previous", "Previous field", show=False, priority=True),
    ]

    @dataclass
    class Submitted(TextualMessage):
        """The user asked to log in (register=False) or to register."""

        register: bool
        server: str
        username: str
        password: str
        email: str

    def __init__(self, server: str, username: str = "") -> None:
        super().__init__()
        self.server, self.username = server, username
        self.error = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="login-box"):
            yield Label("nodechat", id="login-title")
            yield Input(
                self.server, placeholder="server, e.g. ws://127.0.0.1:7801/", id="login-server"
            )
            yield Input(self.username, placeholder="username or email", id="login-username")
            yield Input(placeholder="password", password=True, id="login-password")
            yield Input(placeholder="email (only to register)", id="login-email")
            with Horizontal(id="login-buttons"):
                yield Button("Log in", variant="primary", id="login-go")
                yield Button("Register", id="login-register")
            yield Label(self.error, id="login-error")

    def on_mount(self) -> None:
        field = "#login-password" if self.username else "#login-username"
        self.query_one(field, Input).focus()

    def _submit(self, register: bool) -> None:
        def value(name: str) -> str:
            return self.query_one(f"#login-{name}", Input).value.strip()

        self.show_error("logging in…" if not register else "registering…")
        self.post_message(
            self.Submitted(
                register,
                value("server"),
                value("username"),
                self.query_one("#login-password", Input).value,
                value("email"),
            )
        )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit(register=event.input.id == "login-email" and bool(event.value.strip()))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self._submit(register=event.button.id == "login-register")

    def show_error(self, text: str) -> None:
        """Show a problem (or progress) under the form."""
        self.error = text
        if self.is_mounted:
            self.query_one("#login-error", Label).update(text)


class MainScreen(Screen[None]):
    """Sidebar | header, messages, typing line, search, compose | members; status bar."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="body"):
            yield Sidebar(id="sidebar")
            with Vertical(id="center"):
                yield Static("", id="conversation-header")
                yield MessageList(id="messages")
                yield Static("", id="typing")
                yield Input(
                    placeholder="search everything you can read (here: WORDS for this "
                    "conversation; Enter: search, Esc: close)",
                    id="search",
                )
                yield Static("", id="compose-mode")
                yield ComposeArea(id="compose")
            with VerticalScroll(id="members-panel"):
                yield Static("", id="members")
        yield Static("", id="status")

    def on_mount(self) -> None:
        self.query_one("#search").display = False
        self.query_one(ComposeArea).focus()


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; only y or Enter on "Yes" says yes (a destructive action waits here)."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape,q", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(self.question, id="confirm-question", markup=False)
            with Horizontal(id="confirm-buttons"):
                yield Button("Yes (y)", variant="error", id="confirm-yes")
                yield Button("No (n)", variant="primary", id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()  # Enter alone keeps the message

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class LinkScreen(ModalScreen[None]):
    """The links of one message, numbered: open one or copy one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "dismiss", "Close"),
        Binding("o", "choose('open')", "Open"),
        Binding("c,y", "choose('copy')", "Copy"),
        *(Binding(str(n), f"number({n})", show=False) for n in range(1, 10)),
    ]

    @dataclass
    class Chosen(TextualMessage):
        """Open or copy ``url``."""

        action: str
        url: str

    def __init__(self, links: list[str]) -> None:
        super().__init__()
        self.links = links

    def compose(self) -> ComposeResult:
        with Vertical(id="links-box"):
            yield Label("Links: 1-9 or Enter/o opens, c copies, Esc closes", id="links-title")
            yield OptionList(
                *(Option(f"{n}. {url}", id=str(n)) for n, url in enumerate(self.links, 1)),
                id="links",
            )

    def on_mount(self) -> None:
        self.query_one("#links", OptionList).highlighted = 0

    def _pick(self, action: str, index: int | None) -> None:
        if index is None or not 0 <= index < len(self.links):
            return
        self.app.post_message(self.Chosen(action, self.links[index]))
        self.dismiss()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._pick("open", event.option_index)

    def action_choose(self, action: str) -> None:
        self._pick(action, self.query_one("#links", OptionList).highlighted)

    def action_number(self, n: int) -> None:
        self._pick("open", n - 1)


class ReactionScreen(ModalScreen[None]):
    """Pick a reaction for one message: 1-9 for a common one, or type any emoji/:shortcode:."""

    COMMON = ("👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀", "✅")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"),
        *(Binding(str(n), f"number({n})", show=False) for n in range(1, 10)),
    ]

    @dataclass
    class Chosen(TextualMessage):
        """React to ``message_id`` with ``emoji`` (again: take it back)."""

        message_id: str
        emoji: str

    def __init__(self, message_id: str, mine: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.message_id = message_id
        self.mine = mine

    def compose(self) -> ComposeResult:
        with Vertical(id="react-box"):
            yield Label(
                "React: 1-9 picks, or type an emoji or :name: and Enter; Esc closes "
                "(* = yours: picking it again takes it back)",
                id="react-title",
            )
            yield Static(
                "  ".join(
                    f"{n}.{emoji}{'*' if emoji in self.mine else ''}"
                    for n, emoji in enumerate(self.COMMON, 1)
                ),
                id="react-common",
                markup=False,
            )
            yield Input(placeholder=":thumbsup: or an emoji", id="react-input")

    def on_mount(self) -> None:
        self.query_one("#react-input", Input).focus()

    def _pick(self, emoji: str) -> None:
        emoji = emoji.strip()
        if emoji:
            self.app.post_message(self.Chosen(self.message_id, emoji))
        self.dismiss()

    def on_input_changed(self, event: Input.Changed) -> None:
        # a digit alone in the box picks a common one (the Input has the focus, so the
        # bindings above never see the key)
        value = event.value
        if len(value) == 1 and value in "123456789":
            event.stop()
            self._pick(self.COMMON[int(value) - 1])

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._pick(event.value)

    def action_number(self, n: int) -> None:
        self._pick(self.COMMON[n - 1])


class HelpScreen(ModalScreen[None]):
    """Keys and slash commands."""

    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close")]

    KEYS = [
        ("Enter", "send (in the compose box); open (in the sidebar)"),
        ("Ctrl+J / Alt+Enter", "new line in the compose box"),
        ("Up / Down", "compose history at the first/last line"),
        ("Tab / Shift+Tab", "move between sidebar, messages and compose"),
        ("Tab after @na", "complete a member name"),
        ("Ctrl+N / Ctrl+B", "next / previous unread conversation"),
        ("Ctrl+T", "next conversation that mentions you"),
        ("Ctrl+F", "search the server (here: WORDS: this conversation)"),
        ("Ctrl+G", "write the message in $EDITOR"),
        ("r e d c", "on a message: reply, edit, delete (asks first), copy"),
        ("o / l", "on a message: open its link; with several, pick one (open or copy)"),
        ("g", "on a reply: go to the message it answers"),
        ("p", "on a message: pin or unpin it (channels: owners and admins)"),
        ("+", "on a message: react (1-9 or type one; the same again takes it back)"),
        ("t", "on a message: open its thread (replies, with their own compose box)"),
        ("i / Esc / typing", "on a message: back to the compose box"),
        ("Up/PgUp/Home at top", "load older messages"),
        ("F2 / F3", "member list / unread-first ordering"),
        ("F6 / F7", "voice: mute / deafen yourself"),
        ("Ctrl+P", "command palette (themes, conversations, actions)"),
        ("Esc", "cancel reply or edit; close search"),
        ("Ctrl+Q", "quit"),
    ]

    def compose(self) -> ComposeResult:
        lines = ["[b]Keys[/b]"] + [escape(f"  {k:<20} {v}") for k, v in self.KEYS]
        lines += ["", "[b]Commands[/b]"] + [escape(f"  {line}") for line in help_lines()]
        with VerticalScroll(id="help-box"):
            yield Static("\n".join(lines), id="help-text", markup=True)
            yield Label("Esc closes this help.", id="help-close")
