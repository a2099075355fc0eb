"""The terminal chat app: wires widgets to a :class:`ChatSession`; I/O runs in workers."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from rich.text import Text
from textual.app import ScreenStackError, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.message import Message as TextualMessage
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Input, Static

from nodechat.chatclient.live_audio import AudioDevice, SoundDevice
from nodechat.chatclient.profiles import ProfileStore
from nodechat.chatclient.session import ChatSession, normalize_url
from nodechat.chatclient.state import Change, Notice
from nodechat.errors import ChatError
from nodechat.tui.audio import VoiceAudio
from nodechat.tui.commands import CommandsMixin
from nodechat.tui.notify import describe, desktop_notify
from nodechat.tui.render import member_lines
from nodechat.tui.screens import HelpScreen, LoginScreen, MainScreen
from nodechat.tui.threads import ThreadScreen
from nodechat.tui.widgets import ComposeArea, MessageList, Sidebar

log = logging.getLogger(__name__)
STATUS_DOT = {
    "online": ("●", "green"),
    "connecting": ("◌", "yellow"),
    "reconnecting": ("◌", "yellow"),
    "offline": ("○", "red"),
    "logged out": ("○", "red"),
}


FRAME = 1 / 30  # session changes are drawn at most this often, merged into one
UNREAD_PAGES = 10  # at most this many history pages are fetched to reach the first unread


@dataclass
class SessionChanged(TextualMessage):
    """The session's state changed (posted by the session listener): draw the batch."""


@dataclass(frozen=True)
class AutoLogin:
    """Credentials given on the command line or in the environment."""

    username: str
    password: str
    email: str = ""
    register: bool = False


class ChatApp(CommandsMixin):
    """``nodechat chat``."""

    CSS_PATH = "chat.tcss"
    TITLE = "nodechat"
    BINDINGS = [
        Binding("f1", "help", "Help"),
        Binding("ctrl+n", "next_unread", "Next unread", priority=True),
        Binding("ctrl+b", "previous_unread", "Previous unread", priority=True),
        Binding("ctrl+t", "next_mention", "Next mention", priority=True),
        Binding("ctrl+f", "search", "Search", priority=True),
        Binding("ctrl+g", "external_editor", "Compose in $EDITOR", priority=True),
        Binding("f2", "toggle_members", "Members"),
        Binding("f3", "toggle_unread_first", "Unread first"),
        Binding("f6", "voice_mute", "Voice mute", priority=True),
        Binding("f7", "voice_deafen", "Voice deafen", priority=True),
    ]

    def __init__(
        self,
        server: str,
        profile: str = "default",
        store: ProfileStore | None = None,
        *,
        auto: AutoLogin | None = None,
        editor: str = "vi",
        notifier: Callable[[str, str], None] = desktop_notify,
        backoff: tuple[float, float] = (0.5, 15.0),
        api_url: str | None = None,
        audio: bool = True,
        audio_device: Callable[[], AudioDevice] = SoundDevice,
    ) -> None:
        super().__init__()
        self.session = ChatSession(
            server,
            profile=profile,
            store=store,
            listener=self._listen,
            backoff=backoff,
            api_url=api_url,
        )
        self.audio = VoiceAudio(
            self.session, self._audio_notice, enabled=audio, device=audio_device
        )
        self.auto = auto
        self.editor = editor
        self.notifier = notifier
        self.active: str | None = None
        self.new_after: int | None = None  # the open conversation's read marker when opened
        self._at_new = False  # start the view at the first new message once it is loaded
        self.unread_first = False
        self.reply_to: str | None = None
        self.editing: str | None = None
        self.notices: list[Notice] = []
        self.notified: list[str] = []  # every notification shown (for tests and debugging)
        self._batch: Change | None = None  # session changes not drawn yet
        self._next_draw = 0.0  # monotonic time before which the next batch waits
        self.draws = 0  # batches drawn (for tests and the client benchmark)
        self.main = MainScreen()

    # -- plumbing --------------------------------------------------------------------------

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Show a toast; plain text by default (user text may contain [brackets])."""
        self.notified.append(message)
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def _listen(self, change: Change) -> None:
        """Collect changes; draw them once per frame however many events arrive.

        A flood into a conversation nobody looks at then costs one sidebar patch per
        frame, not one redraw per event.
        """
        if self._batch is not None:
            self._batch.merge(change)
            return
        self._batch = change
        wait = self._next_draw - time.monotonic()
        if wait > 0:
            self.set_timer(wait, self._draw_batch)
        else:
            self._draw_batch()

    def _draw_batch(self) -> None:
        self.post_message(SessionChanged())

    def spawn(self, work: Awaitable[Any], group: str = "default") -> None:
        """Run session I/O in a worker; errors become notifications, never tracebacks."""

        async def guarded() -> None:
            try:
                await work
            except ChatError as exc:
                self.notify(describe(exc), severity="warning")
            except OSError as exc:
                self.notify(describe(exc), severity="error")
            except Exception:  # a bug or a reply we cannot read: say so, keep running
                log.exception("chat worker failed")
                self.notify("something went wrong; see the log", severity="error")

        self.run_worker(guarded(), group=group, exit_on_error=False)

    async def on_mount(self) -> None:
        await self.push_screen(self.main)
        self.set_interval(1.0, self._show_typing)
        if self.size.width < 100:
            self.main.query_one("#members-panel").display = False
        self._show_status()
        if self.auto is not None:
            self.spawn(
                self._login(
                    self.auto.register,
                    self.session.server,
                    self.auto.username,
                    self.auto.password,
                    self.auto.email,
                )
            )
        else:
            self.spawn(self._resume())

    async def on_unmount(self) -> None:
        await self.audio.stop()
        await self.session.close()

    def _audio_notice(self, text: str) -> None:
        self.notify(text, severity="warning")

    async def _resume(self) -> None:
        try:  # a saved session waits for a server that is down; it does not ask to log in
            resumed = await self.session.resume_saved(retry=True)
        except (ChatError, OSError) as exc:
            self.show_login(describe(exc))
            return
        if resumed:
            self._after_login()
        else:
            self.show_login()

    def show_login(self, error: str = "") -> None:
        """Put the login screen up (once)."""
        if not isinstance(self.screen, LoginScreen):
            saved = self.session.saved_profile()
            self.push_screen(LoginScreen(self.session.server, saved.username if saved else ""))
        if error and isinstance(self.screen, LoginScreen):
            self.screen.show_error(error)

    def on_login_screen_submitted(self, message: LoginScreen.Submitted) -> None:
        self.spawn(
            self._login(
                message.register, message.server, message.username, message.password, message.email
            )
        )

    async def _login(
        self, register: bool, server: str, username: str, password: str, email: str
    ) -> None:
        if server:
            self.session.server = normalize_url(server)
        try:
            if register:
                await self.session.register(username, email, password)
            else:
                await self.session.login(username, password)
        except (ChatError, OSError, TimeoutError) as exc:
            self.show_login(describe(exc))
            return
        if isinstance(self.screen, LoginScreen):
            self.pop_screen()
        self._after_login()

    def _after_login(self) -> None:
        state = self.session.state
        order = state.ordered()
        saved = self.session.saved_profile()
        last = saved.last_conversation if saved else None
        first = (
            last
            if last in state.conversations
            else next(
                (c for c in order if state.conversations[c].kind == "channel"),
                order[0] if order else None,
            )
        )
        self._refresh_all()
        if first is not None:
            self.open_conversation(first)

    # -- drawing ---------------------------------------------------------------------------

    def _refresh_all(self) -> None:
        self._show_sidebar()
        self._show_messages()
        self._show_members()
        self._show_status()

    def _show_sidebar(self) -> None:
        self.main.query_one(Sidebar).show(self.session.state, self.active, self.unread_first)

    def _show_messages(self, follow: bool = False) -> None:
        state = self.session.state
        pending = self.session.pending_in(self.active)
        found = self.main.query_one(MessageList).show(
            state,
            self.active,
            follow=follow,
            pending=pending,
            new_after=self.new_after,
            at_new=self._at_new,
        )
        if found:
            self._at_new = False
        self._show_header()

    def _show_header(self) -> None:
        state = self.session.state
        header = Text(state.title(self.active) if self.active else "nodechat", style="bold")
        conv = state.conversations.get(self.active or "")
        if conv is not None and conv.id in state.muted:
            header.append("  (muted)", style="dim")
        if conv is not None and conv.channel_kind == "voice":
            voice = state.voice.get(conv.id) or []
            header.append(
                "  in voice: " + (", ".join(state.username(u) for u in voice) or "nobody"),
                style="dim",
            )
        self.main.query_one("#conversation-header", Static).update(header)

    def _show_members(self) -> None:
        self.main.query_one("#members", Static).update(
            member_lines(self.session.state, self.active)
        )
        self.main.query_one(ComposeArea).names = self.session.state.member_names(self.active)

    def _show_typing(self) -> None:
        names = self.session.state.typing_in(self.active, time.monotonic())
        text = f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} typing…" if names else ""
        with contextlib.suppress(NoMatches):  # widgets already gone at exit
            self.main.query_one("#typing", Static).update(text)

    def _show_status(self) -> None:
        session = self.session
        dot, color = STATUS_DOT.get(session.status, ("○", "red"))
        status = Text()
        status.append(dot + " ", style=color)
        status.append(session.status)
        if session.status_detail and session.status != "online":
            status.append(f" ({session.status_detail})", style="dim")
        if session.state.my_username:
            host = session.server.split("://", 1)[-1].rstrip("/")
            status.append(f"  {session.state.my_username}@{host}")
        if session.pending:
            status.append(f"  {session.pending} unsent", style="bold yellow")
        if session.state.dnd:
            status.append("  DND", style="bold red")
        hints = (
            "  F1 help · Ctrl+P commands · Ctrl+N next unread"
            if self.size.width >= 100
            else "  F1 help · Ctrl+P"
        )
        if status.cell_len + len(hints) <= self.size.width - 2:
            status.append(hints, style="dim")
        self.main.query_one("#status", Static).update(status)

    def on_session_changed(self, message: SessionChanged) -> None:
        change, self._batch = self._batch, None
        if change is None:
            return
        self._next_draw = time.monotonic() + FRAME
        self.draws += 1
        if self.main.is_attached:  # not while the app shuts down
            with contextlib.suppress(NoMatches):  # widgets already gone at exit
                self._apply(change)

    def _apply(self, change: Change) -> None:
        state = self.session.state
        if self.active is not None and self.active not in state.conversations:
            self.active = None
            change.sidebar = True
            change.conversations.add("")
        if change.status:
            self._show_status()
            if self.session.status == "logged out":
                self.show_login(self.session.status_detail or "logged out")
        if change.sidebar or change.conversations:
            self._show_sidebar()
        if self.active in change.conversations or "" in change.conversations:
            self._show_messages()  # read is marked when the newest message is in view
        if isinstance(self.screen, ThreadScreen) and (
            self.screen.conversation in change.conversations or change.status
        ):
            self.screen.redraw()
        if change.members:
            self._show_members()
            self._show_header()  # a voice channel's header lists who is in it
        if change.typing:
            self._show_typing()
        for notice in change.notices:
            self._announce(notice)
        for unsent in change.unsent:
            self.notify(unsent, severity="error", timeout=30)
        reload = change.reload & {self.active}
        if change.snapshot and self.active and self.session.reconnects:
            reload.add(self.active)  # edits and deletions made while away are not replayed
        for cid in reload:
            self.spawn(self.session.load_latest(cid))

    def _viewing(self) -> bool:
        try:
            return self.screen is self.main and self.session.status == "online"
        except ScreenStackError:  # a message handled as the app shuts down
            return False

    def _announce(self, notice: Notice) -> None:
        self.notices.append(notice)
        if self.session.state.dnd or (notice.conversation == self.active and self._viewing()):
            return
        self.bell()
        self.notify(
            f"{notice.title}: {notice.body[:80]}",
            title="mention" if notice.mention else "direct message",
        )
        self.notifier(notice.title, notice.body)

    # -- conversations ---------------------------------------------------------------------

    def open_conversation(self, conversation: str) -> None:
        """Show a conversation at its first unread message, loading what it needs; it is
        marked read once its newest message has been in view."""
        state = self.session.state
        conv = state.conversations.get(conversation)
        if conv is None:
            return
        self.active = state.active = conversation
        self.new_after = conv.last_read_seq if conv.unread else None
        self._at_new = self.new_after is not None
        self.session.credentials.save_last_conversation(conversation)
        self.reply_to = self.editing = None
        # wherever it was opened from (sidebar, palette, Ctrl+N, a command), typing writes
        # a message: letter keys act on messages only after Tab to the list, on purpose
        compose = self.main.query_one(ComposeArea)
        compose.placeholder = (
            "voice channel: /voice join to talk, /voice leave (no text here)"
            if conv.channel_kind == "voice"
            else ""
        )
        self.main.set_focus(compose)
        self._show_mode()
        self._refresh_all()
        self._show_typing()

        async def load() -> None:
            if not conv.loaded:
                await self.session.load_latest(conversation)
            if not conv.pins_loaded:  # the pin marks; events keep them current after
                await self.session.load_pins(conversation)
            marker = self.new_after
            for _ in range(UNREAD_PAGES):  # page back to the first unread message
                first = conv.oldest_seq
                if marker is None or first is None or first <= marker + 1 or not conv.has_more:
                    break
                if self.active != conversation or not await self.session.load_older(conversation):
                    break
            if self.active == conversation and self._at_new:
                self._show_messages()  # what was paged in, now: the selection goes to it
                if self._at_new:  # too far back: stay at the newest
                    self._at_new = False
                    view = self.main.query_one(MessageList)
                    if view.at_bottom():
                        self.on_message_list_seen_bottom(MessageList.SeenBottom(conversation))
            if conv.group_id and conv.group_id not in state.members:
                await self.session.fetch_members(conv.group_id)

        self.spawn(load())

    def on_sidebar_opened(self, message: Sidebar.Opened) -> None:
        self.open_conversation(message.conversation)
        self.main.query_one(ComposeArea).focus()

    def on_message_list_need_older(self, message: MessageList.NeedOlder) -> None:
        self.spawn(self.session.load_older(message.conversation), group="older")

    def on_message_list_seen_bottom(self, message: MessageList.SeenBottom) -> None:
        conv = self.session.state.conversations.get(message.conversation)
        if message.conversation != self.active or conv is None or not self._viewing():
            return
        if self._at_new:
            return  # still paging back to the first unread: what shows is not what was read
        if conv.unread or conv.last_read_seq < conv.last_seq:
            self.spawn(self.session.mark_read(message.conversation), group="read")

    def _jump(self, target: str | None, none: str) -> None:
        if target is None:
            self.notify(none)
            return
        self.open_conversation(target)

    def action_next_unread(self) -> None:
        """Jump to the next conversation with unread messages."""
        self._jump(self.session.state.next_unread(self.active), "no unread conversations")

    def action_previous_unread(self) -> None:
        """Jump to the previous conversation with unread messages."""
        self._jump(
            self.session.state.next_unread(self.active, reverse=True), "no unread conversations"
        )

    def action_next_mention(self) -> None:
        """Jump to the next conversation where you are mentioned and have not read it."""
        self._jump(self.session.state.next_unread(self.active, mentions=True), "no unread mentions")

    def action_toggle_members(self) -> None:
        """Show or hide the member list."""
        panel = self.main.query_one("#members-panel")
        panel.display = not panel.display

    def action_toggle_unread_first(self) -> None:
        """List conversations with unread messages first."""
        self.unread_first = not self.unread_first
        self._show_sidebar()
        self.notify("unread first" if self.unread_first else "normal order")

    def action_help(self) -> None:
        """Keys and commands."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_search(self) -> None:
        """Search the server: every conversation you can read (Enter runs it)."""
        search = self.main.query_one("#search", Input)
        search.display = True
        search.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "search":
            return
        event.stop()
        query = event.value.strip()
        if not query:
            return
        here = query.lower().startswith("here:")  # "here: words" looks in this conversation
        # the results come as a list over the screen; closing it comes back to compose
        event.input.display = False
        self.main.query_one(ComposeArea).focus()
        self.start_search(query[5:] if here else query, here=here)

    def on_key(self, event: Any) -> None:
        search = self.main.query_one("#search", Input)
        if event.key == "escape" and search.has_focus:
            search.display = False  # the found message stays highlighted; Tab reaches it
            self.main.query_one(ComposeArea).focus()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help", "Keys and slash commands", self.action_help)
        yield SystemCommand(
            "Next unread", "Jump to the next unread conversation", self.action_next_unread
        )
        yield SystemCommand(
            "Previous unread",
            "Jump to the previous unread conversation",
            self.action_previous_unread,
        )
        yield SystemCommand(
            "Next mention", "Jump to the next unread mention of you", self.action_next_mention
        )
        yield SystemCommand(
            "Member list", "Show or hide the member list", self.action_toggle_members
        )
        yield SystemCommand(
            "Unread first", "Toggle unread-first ordering", self.action_toggle_unread_first
        )
        yield SystemCommand(
            "Search", "Search all your conversations on the server", self.action_search
        )
        yield SystemCommand("Pins", "The pinned messages of this conversation", self.action_pins)
        yield SystemCommand("Mute", "Mute or unmute this conversation", self.action_mute)
        for level, says in (
            ("all", "every message"),
            ("mentions", "mentions of you only"),
            ("none", "nothing"),
        ):
            yield SystemCommand(
                f"Notify: {level}",
                f"This conversation notifies for {says}",
                partial(self.set_level, level),
            )
        yield SystemCommand(
            "Do not disturb", "Counters only: no bell, toast or desktop notice", self.action_dnd
        )
        yield SystemCommand("Log out", "End the session and forget it", self.action_logout)
        state = self.session.state
        for cid in state.ordered():
            yield SystemCommand(
                f"Open {state.title(cid)}",
                "Switch conversation",
                partial(self.open_conversation, cid),
            )
