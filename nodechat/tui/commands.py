"""What the user asks for from the compose box and the message list: send, reply, edit,
delete, copy, open links, $EDITOR, and the slash commands."""

from __future__ import annotations

import contextlib
import shlex
import subprocess
import tempfile
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import App, SuspendNotSupported
from textual.widgets import Static

from nodechat.chatclient.commands import SlashCommand, parse_command
from nodechat.chatclient.records import Message
from nodechat.chatclient.session import ChatSession
from nodechat.errors import ChatError
from nodechat.tui.audio import VoiceAudio
from nodechat.tui.clipboard import copy_local
from nodechat.tui.files import attach_and_send, save_files
from nodechat.tui.notify import describe
from nodechat.tui.pins import PinsScreen
from nodechat.tui.render import links, snippet
from nodechat.tui.screens import (
    ConfirmScreen,
    HelpScreen,
    LinkScreen,
    MainScreen,
    ReactionScreen,
)
from nodechat.tui.search import SearchScreen
from nodechat.tui.threads import ThreadScreen
from nodechat.tui.widgets import ComposeArea, MessageList

GO_TO_PAGES = 20  # history pages fetched at most to reach a reply's original


class CommandsMixin(App[None]):
    """The user's requests, turned into session calls (in workers)."""

    session: ChatSession
    active: str | None
    reply_to: str | None
    editing: str | None
    editor: str
    main: MainScreen
    audio: VoiceAudio

    if TYPE_CHECKING:  # provided by ChatApp, the class this mixin is for

        def spawn(self, work: Awaitable[Any], group: str = "default") -> None: ...

        def open_conversation(self, conversation: str) -> None: ...

        def show_login(self, error: str = "") -> None: ...

        def action_toggle_members(self) -> None: ...

        def _show_messages(self, follow: bool = False) -> None: ...

    # -- compose ---------------------------------------------------------------------------

    def _show_mode(self) -> None:
        """The line above the compose box: replying to / editing."""
        state = self.session.state
        conv = state.conversations.get(self.active or "")
        text = ""
        if conv is not None and self.reply_to and (target := conv.find(self.reply_to)):
            text = (
                f"↪ replying to {state.username(target.author_id)}: "
                f"{snippet(target.body, 50)}  (Esc cancels)"
            )
        elif self.editing:
            text = "✎ editing your message (Enter saves, Esc cancels)"
        elif self.main.query_one(MessageList).has_focus:
            text = (
                "▶ on a message: r reply · e edit · d delete · c copy · o open link · p pin"
                " · + react · t thread · s save file"
                " · i/Esc or just type to write"
            )
        mode = self.main.query_one("#compose-mode", Static)
        mode.update(Text(text))
        mode.display = bool(text)

    def on_compose_area_cancel(self, message: ComposeArea.Cancel) -> None:
        compose = self.main.query_one(ComposeArea)
        if self.editing:
            compose.load_text("")
        if self.reply_to or self.editing:
            self.reply_to = self.editing = None
            self._show_mode()
        # nothing to cancel: stay here; the message list is entered only on purpose (Tab)

    def on_message_list_selecting(self, message: MessageList.Selecting) -> None:
        self._show_mode()

    def on_message_list_type_through(self, message: MessageList.TypeThrough) -> None:
        compose = self.main.query_one(ComposeArea)
        compose.focus()
        compose.insert(message.text)

    def on_compose_area_typing(self, message: ComposeArea.Typing) -> None:
        if self.active and not self.editing and not message_is_command(self):
            self.spawn(self.session.typing(self.active), group="typing")

    def on_compose_area_submitted(self, message: ComposeArea.Submitted) -> None:
        text = message.text
        if not text.strip():
            return
        compose = self.main.query_one(ComposeArea)
        try:
            command = parse_command(text)
        except ChatError as exc:
            self.notify(exc.message, severity="warning")
            return
        if command is not None:
            compose.remember(text)
            self.spawn(self.run_command(command))
            return
        if text.startswith("//"):
            text = text[1:]
        if self.active is None:
            self.notify("pick a conversation first (Tab to the sidebar)", severity="warning")
            return
        conv = self.session.state.conversations.get(self.active)
        if conv is not None and conv.channel_kind == "voice":
            self.notify(
                "a voice channel carries no text: /voice join to talk, /voice leave",
                severity="warning",
            )
            return
        if self.editing:
            self.spawn(self.session.edit_message(self.editing, text))
        else:
            self.spawn(self._send(self.active, text, self.reply_to))
        compose.remember(text)
        self.reply_to = self.editing = None
        self._show_mode()

    async def _send(self, conversation: str, text: str, reply_to: str | None) -> None:
        ack = await self.session.send_message(conversation, text, reply_to)
        if ack is None:
            self.notify(
                "not connected: the message will be sent when the connection is back",
                severity="warning",
            )
        self.main.query_one(MessageList).show(
            self.session.state,
            self.active,
            follow=True,
            pending=self.session.pending_in(self.active),
        )

    def action_external_editor(self) -> None:
        """Write the message in $EDITOR."""
        compose = self.main.query_one(ComposeArea)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "message.md"
            path.write_text(compose.text, encoding="utf-8")
            try:
                with self.suspend():
                    subprocess.run([*shlex.split(self.editor), str(path)], check=False)
            except SuspendNotSupported:
                self.notify("cannot run an editor in this terminal", severity="warning")
                return
            except OSError as exc:
                self.notify(f"cannot run {self.editor!r}: {exc.strerror}", severity="error")
                return
            compose.load_text(path.read_text(encoding="utf-8").rstrip("\n"))
        compose.focus()

    # -- message actions -------------------------------------------------------------------

    def on_message_list_act(self, message: MessageList.Act) -> None:
        compose = self.main.query_one(ComposeArea)
        if message.action == "compose" or message.message_id is None:
            compose.focus()
            return
        state = self.session.state
        conv = state.conversations.get(self.active or "")
        target = conv.find(message.message_id) if conv else None
        if target is None:
            return
        if message.action == "reply":
            self.reply_to, self.editing = target.id, None
            self._show_mode()
            compose.focus()
        elif message.action == "edit":
            if target.author_id != state.my_id or target.deleted:
                self.notify("you can only edit your own messages", severity="warning")
                return
            self.editing, self.reply_to = target.id, None
            compose.load_text(target.body)
            self._show_mode()
            compose.focus()
        elif message.action == "delete":
            if target.deleted:
                return  # the server says who else may delete (owners, admins)

            def confirmed(yes: bool | None) -> None:
                if yes:
                    self.spawn(self.session.delete_message(target.id))

            self.push_screen(
                ConfirmScreen(f"Delete this message?\n\n{snippet(target.body, 120)}"), confirmed
            )
        elif message.action == "copy":
            self.copy_text(target.body, "message")
        elif message.action in ("open", "links"):
            found = links(target.body)
            if not found:
                self.notify("no link in this message", severity="warning")
            elif len(found) == 1 and message.action == "open":
                self.open_link(found[0])
            else:
                self.push_screen(LinkScreen(found))
        elif message.action == "react":
            if target.deleted:
                self.notify("a deleted message takes no reactions", severity="warning")
                return
            mine = frozenset(e for e, (_, me) in target.reactions.items() if me)
            self.push_screen(ReactionScreen(target.id, mine))
        elif message.action == "original":
            if not target.reply_to:
                self.notify("this message is not a reply", severity="warning")
                return
            self.spawn(self._go_to(target.reply_to))
        elif message.action == "pin":
            if target.deleted:
                return
            self.spawn(self._toggle_pin(target.id))
        elif message.action == "thread":
            self.open_thread(target)
        elif message.action == "save":
            self.spawn(self._save_file(target.id, ""))

    # -- threads ---------------------------------------------------------------------------

    def open_thread(self, target: Message) -> None:
        """Open the thread under a message in its screen (loading its newest replies)."""
        if target.conversation.startswith("thread:"):
            self.notify("this is a reply in a thread: threads do not nest", severity="warning")
            return

        async def show() -> None:
            tid = await self.session.open_thread(target.conversation, target.id)
            self.push_screen(ThreadScreen(self.session, tid, self.spawn))

        self.spawn(show())

    # -- files -----------------------------------------------------------------------------

    async def _attach_file(self, path: str) -> None:
        if self.active is None:
            self.notify("pick a conversation first (Tab to the sidebar)", severity="warning")
            return
        said = await attach_and_send(self.session, self.active, path, self.reply_to, self.notify)
        self.reply_to = None
        self._show_mode()
        self.notify(said)

    async def _save_file(self, message_id: str | None, dest: str) -> None:
        conv = self.session.state.conversations.get(self.active or "")
        if conv is None:
            self.notify("pick a conversation first (Tab to the sidebar)", severity="warning")
            return
        if message_id is None:  # /save: the newest message with a file
            chosen = next((m for m in reversed(conv.messages) if m.attachments), None)
        else:
            chosen = conv.find(message_id)
        if chosen is None or not chosen.attachments or chosen.deleted:
            self.notify("no file to save here", severity="warning")
            return
        self.notify(await save_files(self.session, chosen.attachments, dest, self.notify))

    # -- pins ------------------------------------------------------------------------------

    async def _toggle_pin(self, message_id: str) -> None:
        pinned = await self.session.toggle_pin(message_id)
        self.notify("message pinned" if pinned else "message unpinned")

    def action_pins(self) -> None:
        """Show the pins of the open conversation (loading them first if need be)."""
        conv = self.session.state.conversations.get(self.active or "")
        if conv is None:
            self.notify("open a conversation first", severity="warning")
            return

        async def show() -> None:
            if not conv.pins_loaded:
                await self.session.load_pins(conv.id)
            self.push_screen(PinsScreen(self.session.state, conv))

        self.spawn(show())

    def on_pins_screen_chosen(self, message: PinsScreen.Chosen) -> None:
        self.spawn(self._go_to(message.message_id, "the pinned message is not in the history"))

    # -- server search -----------------------------------------------------------------------

    def start_search(self, query: str, *, here: bool = False) -> None:
        """Search the server (everything readable, or the open conversation) and list it."""
        conversation = self.active if here else None

        async def run() -> None:
            results = await self.session.search(query, conversation)
            self.push_screen(SearchScreen(self.session.state, results))

        self.spawn(run())

    def on_search_screen_more(self, message: SearchScreen.More) -> None:
        async def more() -> None:
            await self.session.search_more(message.results)
            if isinstance(self.screen, SearchScreen):
                self.screen.refresh_results()

        self.spawn(more())

    def on_search_screen_chosen(self, message: SearchScreen.Chosen) -> None:
        self.spawn(self._jump_to(message.conversation, message.message_id))

    async def _jump_to(self, conversation: str, message_id: str) -> None:
        """Open ``conversation`` and select ``message_id`` in it (as ``g`` does in one)."""
        conv = self.session.state.conversations.get(conversation)
        if conv is None:
            self.notify("that conversation is not in your list", severity="warning")
            return
        if self.active != conversation:
            self.open_conversation(conversation)
        if not conv.loaded:
            await self.session.load_latest(conversation)
        await self._go_to(message_id, "the message is no longer in the history")

    def on_reaction_screen_chosen(self, message: ReactionScreen.Chosen) -> None:
        """Toggle: an emoji I already reacted with is taken back, any other is added."""
        if self.session.state.reacted(self.active or "", message.message_id, message.emoji):
            self.spawn(self.session.unreact(message.message_id, message.emoji))
        else:
            self.spawn(self.session.react(message.message_id, message.emoji))

    def on_link_screen_chosen(self, message: LinkScreen.Chosen) -> None:
        if message.action == "copy":
            self.copy_text(message.url, "link")
        else:
            self.open_link(message.url)

    def open_link(self, url: str) -> None:
        """Open one link in the browser."""
        with contextlib.suppress(Exception):  # no browser is not an error worth a crash
            self.open_url(url)
        self.notify("opening " + url)

    def copy_text(self, text: str, what: str) -> None:
        """Copy to the clipboard, and say honestly whether it is known to have worked."""
        self.copy_to_clipboard(text)  # OSC 52: reaches the user's clipboard over SSH too
        if copy_local(text):
            self.notify(f"{what} copied to the clipboard")
        else:
            self.notify(
                f"{what} sent to the terminal's clipboard (OSC 52); if it is not there, "
                "this terminal does not allow it"
            )

    async def _go_to(
        self, message_id: str, missing: str = "the original message is not in the loaded history"
    ) -> None:
        """Select the message ``message_id`` of the open conversation, paging back to it."""
        conversation = self.active
        conv = self.session.state.conversations.get(conversation or "")
        if conv is None or conversation is None:
            return
        for _ in range(GO_TO_PAGES):
            if conv.find(message_id) is not None or not conv.has_more:
                break
            if not await self.session.load_older(conversation) or self.active != conversation:
                break
        if conv.find(message_id) is None or self.active != conversation:
            self.notify(missing, severity="warning")
            return
        self._show_messages()  # the pages just loaded, drawn now rather than next frame
        view = self.main.query_one(MessageList)
        view.highlighted = view.get_option_index(message_id)
        view.scroll_to_highlight()
        view.focus()

    # -- slash commands --------------------------------------------------------------------

    def _group(self) -> str:
        conv = self.session.state.conversations.get(self.active or "")
        if conv is None or not conv.group_id:
            raise ChatError("open a channel of the group first", code="no_group")
        return conv.group_id

    async def run_command(self, command: SlashCommand) -> None:
        """Carry out one slash command."""
        session, args = self.session, command.args
        if command.name == "help":
            self.push_screen(HelpScreen())
        elif command.name == "members":
            self.action_toggle_members()
        elif command.name == "pins":
            self.action_pins()
        elif command.name == "search":
            here = len(args) > 1 and args[0].lower() == "here"
            self.start_search(" ".join(args[1:] if here else args), here=here)
        elif command.name == "attach":
            await self._attach_file(command.rest)
        elif command.name == "save":
            await self._save_file(None, command.rest)
        elif command.name == "mute":
            self.action_mute()
        elif command.name == "notify":
            self.set_level(args[0].lower())
        elif command.name == "dnd":
            self.action_dnd(None if not args else args[0].lower() == "on")
        elif command.name == "logout":
            await self.action_logout()
        elif command.name == "join":
            group = await session.join_group(args[0])
            self.notify(f"joined {group.get('name', 'the group')}")
            self._open_first_channel(group)
        elif command.name == "invite":
            invite = await session.call("invite.create", group_id=self._group())
            self.copy_to_clipboard(invite["code"])
            self.notify(
                f"invite code {invite['code']} (copied; /join {invite['code']})", timeout=30
            )
        elif command.name == "group":
            group = await session.create_group(" ".join(args[1:]))
            self._open_first_channel(group)
        elif command.name == "channel":
            kind = "voice" if args[-1].lower() == "voice" and len(args) > 2 else "text"
            name = " ".join(args[1:-1] if kind == "voice" else args[1:])
            self.open_conversation(await session.create_channel(self._group(), name, kind))
        elif command.name == "dm":
            self.open_conversation(await session.open_dm(args[0]))
        elif command.name == "leave":
            await session.call("group.leave", group_id=self._group())
            self.notify("you left the group")
        elif command.name == "voice":
            await self._voice(args[0].lower() if args else "join")

    def _open_first_channel(self, group: dict[str, Any]) -> None:
        channels = group.get("channels") or []
        if channels and str(channels[0]["id"]) in self.session.state.conversations:
            self.open_conversation(str(channels[0]["id"]))

    async def _voice(self, what: str) -> None:
        conv = self.session.state.conversations.get(self.active or "")
        try:
            if what == "leave":
                await self.audio.stop()
                await self.session.voice_leave()
                self.notify("left the voice channel")
            elif what in ("mute", "deafen"):
                await self.voice_toggle("muted" if what == "mute" else "deafened")
            elif conv is None or conv.channel_kind != "voice":
                self.notify("open a voice channel first", severity="warning")
            else:
                people = await self.session.voice_join(conv.id)
                self.notify(f"in voice with {len(people)} participant(s)")
                await self.audio.start(conv.id)
        except ChatError as exc:
            if exc.code in ("unknown_op", "invalid_request"):
                self.notify("this server has no voice channels yet", severity="warning")
            else:
                self.notify(describe(exc), severity="warning")

    async def voice_toggle(self, flag: str) -> None:
        """Flip your muted or deafened flag in the voice channel you joined (F6 / F7)."""
        channel = next(
            (
                c
                for c, users in self.session.state.voice.items()
                if self.session.state.my_id in users
            ),
            None,
        )
        if channel is None:
            self.notify("join a voice channel first (/voice join)", severity="warning")
            return
        on = not self.session.state.my_voice_state(channel).get(flag)
        try:
            await self.session.voice_state(**{flag: on})
        except ChatError as exc:
            self.notify(describe(exc), severity="warning")
            return
        self.notify(f"{'' if on else 'un'}{'muted' if flag == 'muted' else 'deafened'}")

    async def action_voice_mute(self) -> None:
        """Mute or unmute your voice."""
        await self.voice_toggle("muted")

    async def action_voice_deafen(self) -> None:
        """Deafen or undeafen yourself."""
        await self.voice_toggle("deafened")

    def action_mute(self) -> None:
        """Mute or unmute notifications of the open conversation."""
        if self.active is None:
            return
        muted = self.session.toggle_mute(self.active)
        self.notify(f"{self.session.state.title(self.active)} {'muted' if muted else 'unmuted'}")

    def set_level(self, level: str) -> None:
        """Set what notifies in the open conversation."""
        if self.active is None:
            self.notify("open a conversation first", severity="warning")
            return
        self.session.set_notify_level(self.active, level)
        said = {"all": "every message", "mentions": "mentions of you", "none": "nothing"}
        self.notify(f"{self.session.state.title(self.active)}: {said[level]} notifies")

    def action_dnd(self, on: bool | None = None) -> None:
        """Do not disturb on or off (None: toggle)."""
        on = not self.session.state.dnd if on is None else on
        self.session.set_dnd(on)
        self.notify(
            "do not disturb: counters only until /dnd off" if on else "do not disturb is off"
        )

    async def action_logout(self) -> None:
        """End the session on the server and forget it here."""
        await self.session.logout()
        self.active = None
        self.show_login("logged out")


def message_is_command(app: CommandsMixin) -> bool:
    """Whether the compose box holds a slash command (no typing event for those)."""
    return app.main.query_one(ComposeArea).text.startswith("/")
