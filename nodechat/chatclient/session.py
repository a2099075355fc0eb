"""A logged-in chat session: owns the connection, feeds :class:`ChatState`, reconnects.

    session = ChatSession("ws://127.0.0.1:7801/", listener=print)
    await session.login("ann", "a long passphrase")   # or: await session.resume_saved()
    await session.send_message(conversation_id, "hello")
    ...
    await session.close()

The session keeps the newest refresh token in the profile store, refreshes the
access token before it expires, authenticates with ``resume`` (protocol §6.4)
and, when the connection drops, reconnects with exponential backoff and resends
unacknowledged messages with their original nonces. Every change is reported
to ``listener`` as a :class:`Change`; the listener must not block.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from websockets.exceptions import WebSocketException

from nodechat.chatclient import threads
from nodechat.chatclient.credentials import Credentials
from nodechat.chatclient.files import FileRef, Progress, api_base, download_file, upload_file
from nodechat.chatclient.profiles import Profile, ProfileStore
from nodechat.chatclient.records import SearchResults
from nodechat.chatclient.state import Change, ChatState
from nodechat.client import ChatClient
from nodechat.errors import ChatError, InvalidRequest, Unauthenticated, Unavailable

log = logging.getLogger(__name__)

Listener = Callable[[Change], None]
SESSION_REVOKED = 4001
MENTION_SCAN = 50  # conversations whose unread messages are scanned for mentions at login
MEMBERS_SHOWN = 1000  # members listed (and presence followed) for the open group
DIRECT_SCAN = 30  # direct conversations whose last message time is read at login
USERS_PER_LOOKUP = 1000  # profiles asked for in one user.list
SEARCH_PAGE = 20  # search results asked for at a time


_SESSION_GONE = {
    "invalid_refresh_token",
    "refresh_token_reused",
    "session_revoked",
    "account_disabled",
    "unauthenticated",
}
_RETRYABLE = {
    "shutting_down",
    "unavailable",
    "unreachable",
    "disconnected",
    "timeout",
    "internal",
    "rate_limited",
    # docs/protocol.md §7.4b: the server could not do it now; a send retried with its nonce
    "service_unavailable",
    "store_unavailable",
    "bus_unavailable",
}


def session_gone(exc: BaseException) -> bool:
    """Whether an error means the saved login is no longer usable."""
    return isinstance(exc, ChatError) and (
        exc.code in _SESSION_GONE or isinstance(exc, Unauthenticated)
    )


def normalize_url(server: str) -> str:
    """Accept ``host:port`` as well as ``ws://host:port/``."""
    server = server.strip()
    if "://" not in server:
        server = "ws://" + server
    return server if server.count("/") > 2 else server + "/"


class ChatSession:
    """One account's live session against one server."""

    def __init__(
        self,
        server: str,
        *,
        profile: str = "default",
        store: ProfileStore | None = None,
        listener: Listener | None = None,
        backoff: tuple[float, float] = (0.5, 15.0),
        api_url: str | None = None,
    ) -> None:
        self.server = normalize_url(server)
        self.api_url = (api_url or api_base(self.server)).rstrip("/")  # files (chatclient/files.py)
        self.profile = profile
        self.credentials = Credentials(store, profile)
        self.listener: Listener = listener or (lambda change: None)
        self.state = ChatState()
        self.status = "offline"  # offline | connecting | online | reconnecting | logged out
        self.status_detail = ""
        self.client: ChatClient | None = None
        self.voice_handle = 0  # the channel handle of the voice.join reply (0: not joined)
        self.last_resume: dict[str, int] | None = None
        self.reconnects = 0
        self._backoff = backoff
        self._outbox: dict[str, dict[str, Any]] = {}  # nonce -> message.send fields
        self._nonces = itertools.count(1)
        self._device = secrets.token_hex(4)
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._typing_sent: dict[str, float] = {}
        self._watching: str | None = None  # the group whose members' presence is followed
        self._resolving: asyncio.Task[None] | None = None  # a user.list lookup running
        self._retrying: asyncio.Task[None] | None = None  # resending the outbox, connected
        saved = self.credentials.saved()
        self._load_notifications(saved)

    # -- status ----------------------------------------------------------------------------

    def _set_status(self, status: str, detail: str = "") -> None:
        self.status, self.status_detail = status, detail
        self.listener(Change(status=True))

    def _emit(self, change: Change) -> None:
        try:
            self.listener(change)
        except Exception:  # a listener bug must not stop the event pump
            log.exception("chat listener failed")
        if self.state.unresolved and self._resolving is None and self.client is not None:
            self._resolving = asyncio.get_running_loop().create_task(self._resolve_users())

    # -- logging in ------------------------------------------------------------------------

    def saved_profile(self) -> Profile | None:
        """The stored profile for this session's name, if any."""
        return self.credentials.saved()

    async def login(self, username: str, password: str) -> None:
        """Log in with a password, remember the session, and go online."""
        await self._start_with("auth.login", login=username, password=password)

    async def register(self, username: str, email: str, password: str) -> None:
        """Create an account, remember the session, and go online."""
        await self._start_with("auth.register", username=username, email=email, password=password)

    async def resume_saved(self, *, retry: bool = False) -> bool:
        """Go online with the saved refresh token; False if there is none or it is refused.

        With ``retry``, a server that cannot be reached (down, restarting, overloaded) is
        tried again with backoff until it answers; the status says so meanwhile.
        """
        saved = self.saved_profile()
        if saved is None or not saved.refresh_token or normalize_url(saved.server) != self.server:
            return False  # a token is only good for the server that issued it
        self.credentials.use_refresh_token(saved.refresh_token)
        delay = self._backoff[0]
        while True:
            try:
                await self._start_with(None)
            except ChatError as exc:
                if session_gone(exc):
                    self.credentials.forget()
                    return False
                if not retry or exc.code not in _RETRYABLE:
                    raise
                reason = exc.message
            except (TimeoutError, OSError) as exc:
                if not retry:
                    raise
                reason = str(exc) or "no answer"
            else:
                return True
            self._set_status("reconnecting", f"{reason}; retrying in {delay:.0f}s")
            await asyncio.sleep(delay)
            if self._closing:
                return False
            delay = min(delay * 2, self._backoff[1])

    async def _connect(self) -> ChatClient:
        """A new connection; transport failures become ``Unavailable("unreachable")``."""
        try:
            return await ChatClient.connect(self.server, timeout=10.0)
        except ChatError:
            raise
        except (OSError, WebSocketException, ValueError) as exc:
            raise Unavailable(f"cannot reach {self.server}: {exc}", code="unreachable") from exc

    async def _start_with(self, op: str | None, **data: Any) -> None:
        self._closing = False
        self._set_status("connecting", self.server)
        try:
            client = await self._connect()
        except ChatError:
            self._set_status("offline")
            raise
        try:
            if op is not None:
                self.credentials.adopt(
                    await client.request(op, **data), self.server, self.state.muted
                )
            await self._authenticate(client)
        except BaseException:
            await client.close()
            self._set_status("offline")
            raise
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _refresh(self, client: ChatClient) -> None:
        await self.credentials.refresh(client, self.server, self.state.muted)

    async def _authenticate(self, client: ChatClient) -> None:
        if not self.credentials.fresh():
            await self._refresh(client)
        resume = self.state.resume_points() if self.state.conversations else None
        self.last_resume = resume
        try:
            ready = await client.authenticate(self.credentials.access_token, resume)
        except ChatError as exc:
            if exc.code not in ("token_expired", "invalid_token"):
                raise
            await self._refresh(client)
            ready = await client.authenticate(self.credentials.access_token, resume)
        try:
            change = self.state.apply_snapshot(ready)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise Unavailable(
                "the server sent a snapshot this client cannot read", code="bad_server"
            ) from exc
        self.client = client
        self._emit(change)
        self._set_status("online", str(ready.get("user", {}).get("username", "")))
        watched, self._watching = self._watching, None  # a new session follows nobody yet
        if watched is not None and watched in self.state.groups:
            with contextlib.suppress(ChatError, TimeoutError):
                await self.fetch_members(watched)
        await self._count_mentions(client)
        await self._flush_outbox(client)
        await self._learn_direct_activity(client)

    async def _learn_direct_activity(self, client: ChatClient) -> None:
        """When the newest message of each direct conversation was sent (the snapshot has
        no times), so the sidebar can list the most recently active first."""
        unknown = [
            c
            for c in self.state.conversations.values()
            if c.kind == "direct" and not c.last_at and c.last_seq
        ][:DIRECT_SCAN]
        for conv in unknown:
            with contextlib.suppress(ChatError, TimeoutError):
                page = await client.request("message.history", conversation=conv.id, limit=1)
                times = [int(m.get("created_at") or 0) for m in page.get("messages") or ()]
                conv.last_at = max([conv.last_at, *times])
        if unknown:
            self._emit(Change(sidebar=True))

    async def _flush_outbox(self, client: ChatClient) -> None:
        """Resend the unacknowledged sends, in order, each with its own nonce (stored once).

        A send the server refuses for good (a reply to a message deleted meanwhile, a
        conversation left) leaves the queue with the reason; one that fails for a passing
        reason stays queued for the next try.
        """
        for nonce, fields in list(self._outbox.items()):
            if client.closed:
                return
            conversation = str(fields["conversation"])
            try:
                await client.request("message.send", nonce=nonce, **fields)
            except (TimeoutError, OSError):
                continue
            except ChatError as exc:
                if exc.code in _RETRYABLE:
                    continue
                self._outbox.pop(nonce, None)
                title = self.state.title(conversation)
                body = str(fields["body"])
                shown = body if len(body) <= 40 else body[:39] + "…"
                self._emit(
                    Change(
                        conversations={conversation},
                        status=True,
                        unsent=[f"not sent to {title}: {shown!r}: {exc.message}"],
                    )
                )
                continue
            self._outbox.pop(nonce, None)
            self._emit(Change(conversations={conversation}, status=True))

    def _retry_outbox_later(self) -> None:
        """A send failed for a passing reason on a live connection: try again soon."""
        if self._retrying is not None and not self._retrying.done():
            return

        async def retry() -> None:
            delay = self._backoff[0]
            while self._outbox and not self._closing:
                await asyncio.sleep(delay)
                client = self.client
                if client is None or client.closed:
                    return  # the reconnect resends them
                await self._flush_outbox(client)
                delay = min(delay * 2, self._backoff[1])

        self._retrying = asyncio.get_running_loop().create_task(retry())

    async def _count_mentions(self, client: ChatClient) -> None:
        """Mention counters for what arrived while away (the snapshot only counts unread)."""
        unread = [c for c in self.state.conversations.values() if c.unread][:MENTION_SCAN]
        for conv in unread:
            with contextlib.suppress(ChatError, TimeoutError):
                page = await client.request(
                    "message.history",
                    conversation=conv.id,
                    after=max(conv.last_read_seq, conv.last_seq - 100),
                    limit=100,
                )
                self._emit(self.state.count_mentions(conv.id, page.get("messages") or ()))

    # -- the event pump and reconnecting ---------------------------------------------------

    async def _run(self) -> None:
        delay = self._backoff[0]
        while not self._closing:
            client = self.client
            if client is not None:
                await self._pump(client)
                if self._closing:
                    return
                with contextlib.suppress(Exception):  # a reader that died on a bad frame
                    await client.close()
                if client.close_code == SESSION_REVOKED:
                    self.credentials.forget()
                    self._set_status("logged out", "the session was ended; log in again")
                    return
                delay = self._backoff[0]
            self.client = None
            self._set_status("reconnecting", f"retrying in {delay:.0f}s")
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff[1])
            try:
                client = await self._connect()
            except ChatError as exc:
                log.debug("reconnect failed: %s", exc)
                continue
            self.reconnects += 1
            try:
                await self._authenticate(client)
            except ChatError as exc:
                await client.close()
                if not session_gone(exc):
                    log.debug("re-authentication failed: %s", exc)
                    continue
                self.credentials.forget()
                self._set_status("logged out", "the saved session is no longer valid")
                return
            except (TimeoutError, OSError) as exc:
                log.debug("re-authentication failed: %s", exc)
                await client.close()

    async def _pump(self, client: ChatClient) -> None:
        closed = asyncio.ensure_future(client.wait_closed())
        try:
            while True:
                getter = asyncio.ensure_future(client.events.get())
                done, _ = await asyncio.wait(
                    {getter, closed},
                    timeout=self.credentials.refresh_in(),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if getter in done:
                    self.apply_frame(getter.result())
                    continue
                getter.cancel()
                if closed in done:
                    for frame in client.drain_events():  # what arrived before the close
                        self.apply_frame(frame)
                    return
                with contextlib.suppress(ChatError, asyncio.TimeoutError):
                    await self._refresh(client)  # access token about to expire
        finally:
            closed.cancel()

    def apply_frame(self, frame: dict[str, Any]) -> None:
        """Apply one ``event`` frame from the server to the state and tell the listener."""
        self._emit(
            self.state.apply_event(
                str(frame.get("event")), frame.get("data") or {}, time.monotonic()
            )
        )

    async def close(self) -> None:
        """Stop reconnecting and close the connection."""
        self._closing = True
        if self._retrying is not None:
            self._retrying.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.client is not None:
            await self.client.close()
            self.client = None

    async def logout(self) -> None:
        """End the session on the server and forget the saved refresh token."""
        client = self.client
        self._closing = True
        if client is not None:
            with contextlib.suppress(ChatError, asyncio.TimeoutError):
                await client.request("auth.logout")
        self.credentials.forget()
        await self.close()
        old, self.state = self.state, ChatState()
        self.state.muted, self.state.levels, self.state.dnd = old.muted, old.levels, old.dnd
        self._set_status("logged out")

    # -- requests --------------------------------------------------------------------------

    async def call(self, op: str, /, **data: Any) -> Any:
        """One request on the live connection; ChatError (with a code) on failure."""
        client = self.client
        if client is None or client.closed:
            raise Unavailable("not connected to the server", code="disconnected")
        try:
            return await client.request(op, **data)
        except TimeoutError as exc:
            raise Unavailable("the server did not answer in time", code="timeout") from exc

    async def send_message(
        self,
        conversation: str,
        body: str,
        reply_to: str | None = None,
        attachments: Sequence[str] = (),
    ) -> dict[str, Any] | None:
        """Send; None if queued while offline (it is resent with its nonce on reconnect)."""
        nonce = f"{self._device}-{next(self._nonces)}"
        fields: dict[str, Any] = {"conversation": conversation, "body": body, "reply_to": reply_to}
        if attachments:
            fields["attachments"] = list(attachments)
        self._outbox[nonce] = fields
        try:
            ack: dict[str, Any] = await self.call("message.send", nonce=nonce, **fields)
        except ChatError as exc:
            if exc.code not in _RETRYABLE:
                self._outbox.pop(nonce, None)
                raise
            self._emit(Change(conversations={conversation}, status=True))  # shown as pending
            if self.client is not None and not self.client.closed:
                self._retry_outbox_later()  # a timeout on a live connection: not "offline"
            return None
        self._outbox.pop(nonce, None)
        return ack

    @property
    def pending(self) -> int:
        """Messages waiting to be sent."""
        return len(self._outbox)

    def pending_in(self, conversation: str | None) -> list[str]:
        """The bodies queued for ``conversation``, oldest first (the timeline shows them)."""
        return [str(f["body"]) for f in self._outbox.values() if f["conversation"] == conversation]

    async def upload(self, path: Path, progress: Progress | None = None) -> dict[str, Any]:
        """Upload a file over the HTTP API; its record (attach its id to a send)."""
        return await upload_file(self.api_url, self.credentials.access_token, path, progress)

    async def save_file(self, file: FileRef, dest: Path, progress: Progress | None = None) -> Path:
        """Download an attachment to ``dest`` (a directory or a path), never overwriting."""
        token = self.credentials.access_token
        return await download_file(self.api_url, token, file, dest, progress)

    async def edit_message(self, message_id: str, body: str) -> None:
        """Edit one of your messages."""
        await self.call("message.edit", message_id=message_id, body=body)

    async def delete_message(self, message_id: str) -> None:
        """Delete a message."""
        await self.call("message.delete", message_id=message_id)

    async def load_pins(self, conversation: str) -> None:
        """Fetch a conversation's pins (``pin.list``); events keep them current after."""
        reply = await self.call("pin.list", conversation=conversation)
        self._emit(self.state.set_pins(conversation, reply["pins"]))

    async def search(self, query: str, conversation: str | None = None) -> SearchResults:
        """Start a server search (``message.search``): its first page, best match first."""
        results = SearchResults(query, conversation)
        await self._search_page(results)
        return results

    async def search_more(self, results: SearchResults) -> bool:
        """Load the next page of ``results``; False if there was none."""
        if results.next_cursor is None:
            return False
        await self._search_page(results)
        return True

    async def _search_page(self, results: SearchResults) -> None:
        data: dict[str, Any] = {"query": results.query, "limit": SEARCH_PAGE}
        if results.conversation is not None:
            data["conversation"] = results.conversation
        if results.next_cursor is not None:
            data["cursor"] = results.next_cursor
        reply = await self.call("message.search", **data)
        self._emit(self.state.add_search_page(results, reply))

    async def toggle_pin(self, message_id: str) -> bool:
        """Pin the message, or unpin it if it is pinned; True if it is pinned now."""
        message = next(
            (
                m
                for c in self.state.conversations.values()
                for m in c.messages
                if m.id == message_id
            ),
            None,
        )
        conv = self.state.conversations.get(message.conversation) if message else None
        if conv is not None and conv.pinned(message_id):
            await self.call("message.unpin", message_id=message_id)
            return False
        await self.call("message.pin", message_id=message_id)
        return True

    async def open_thread(self, conversation: str, message_id: str) -> str:
        """Follow the thread under a message of ``conversation`` and load its newest
        replies; the thread's conversation id (send, page and mark read with it)."""
        tid, change = threads.open_thread(self.state, conversation, message_id)
        self._emit(change)
        await self.load_latest(tid)
        return tid

    async def react(self, message_id: str, emoji: str) -> None:
        """Add your reaction to a message (the ``message.reaction`` event updates the state)."""
        await self.call("message.react", message_id=message_id, emoji=emoji)

    async def unreact(self, message_id: str, emoji: str) -> None:
        """Take your reaction back."""
        await self.call("message.unreact", message_id=message_id, emoji=emoji)

    async def load_latest(self, conversation: str) -> None:
        """Fetch the newest page of a conversation."""
        conv = self.state.conversations.get(conversation)
        if conv is None:
            return
        page = await self.call("message.history", conversation=conversation, limit=50)
        self._emit(
            self.state.add_history(conversation, page["messages"], page["has_more"], older=False)
        )

    async def load_older(self, conversation: str, limit: int = 50) -> bool:
        """Fetch the page before the oldest loaded message; False if nothing to do."""
        conv = self.state.conversations.get(conversation)
        if conv is None or conv.loading or not conv.has_more or not conv.messages:
            return False
        conv.loading = True
        self._emit(Change(conversations={conversation}))
        try:
            page = await self.call(
                "message.history", conversation=conversation, before=conv.oldest_seq, limit=limit
            )
        except ChatError:
            conv.loading = False
            self._emit(Change(conversations={conversation}))
            raise
        self._emit(
            self.state.add_history(conversation, page["messages"], page["has_more"], older=True)
        )
        return True

    async def mark_read(self, conversation: str) -> None:
        """Mark everything in a conversation read (clears its badges here and elsewhere)."""
        conv = self.state.conversations.get(conversation)
        if conv is None or (conv.last_read_seq >= conv.last_seq and not conv.unread):
            return
        self._emit(self.state.set_read(conversation, conv.last_seq))
        with contextlib.suppress(ChatError):
            await self.call("read.mark", conversation=conversation, seq=conv.last_seq)

    async def typing(self, conversation: str) -> None:
        """Tell others you are typing (at most every 2 s)."""
        now = time.monotonic()
        if now - self._typing_sent.get(conversation, 0.0) < 2.0:
            return
        self._typing_sent[conversation] = now
        with contextlib.suppress(ChatError):
            await self.call("typing", conversation=conversation)

    async def fetch_members(self, group_id: str) -> None:
        """Load a group's member list (its first MEMBERS_SHOWN members) and follow their
        presence instead of the previous group's (protocol §4.6, §4.13)."""
        members: list[dict[str, Any]] = []
        after = None
        while len(members) < MEMBERS_SHOWN:
            cursor: dict[str, Any] = {"after": after} if after else {}
            page = await self.call(
                "member.list", group_id=group_id, limit=MEMBERS_SHOWN - len(members), **cursor
            )
            members += page.get("members") or ()
            self.state.add_users(page.get("users") or ())
            after = page.get("next")
            if not after:
                break
        self._emit(self.state.set_members(group_id, members))
        wanted = [str(m["user_id"]) for m in members if m["user_id"] != self.state.my_id]
        with contextlib.suppress(ChatError):
            if self._watching and self._watching != group_id:
                await self.call("presence.unsubscribe")
            self._watching = group_id
            if wanted:
                reply = await self.call("presence.subscribe", user_ids=wanted)
                self._emit(self.state.set_presence(reply.get("presence") or {}))

    async def _resolve_users(self) -> None:
        """Look up the profiles of users seen but not known (authors, typers)."""
        try:
            while self.state.unresolved and self.client is not None:
                ids = sorted(self.state.unresolved)[:USERS_PER_LOOKUP]
                self.state.unresolved.difference_update(ids)  # once each, found or not
                with contextlib.suppress(ChatError, TimeoutError):
                    reply = await self.call("user.list", user_ids=ids)
                    self._emit(self.state.add_users(reply.get("users") or ()))
        finally:
            self._resolving = None

    async def create_group(self, name: str) -> dict[str, Any]:
        """Create a group (you own it); return its view."""
        group: dict[str, Any] = await self.call("group.create", name=name)
        self._emit(self.state.add_group(group))
        return group

    async def join_group(self, code: str) -> dict[str, Any]:
        """Join a group with an invite code; return its view."""
        group: dict[str, Any] = await self.call("group.join", code=code)
        self._emit(self.state.add_group(group))
        return group

    async def create_channel(self, group_id: str, name: str, kind: str = "text") -> str:
        """Create a channel; return its id (also its conversation id)."""
        channel = await self.call("channel.create", group_id=group_id, name=name, kind=kind)
        self._emit(self.state.add_channel(channel))
        return str(channel["id"])

    async def open_dm(self, username: str) -> str:
        """Open (or create) the direct conversation with a user; return its id."""
        user = await self.call("user.find", username=username.lstrip("@"))
        self.state.users.setdefault(str(user["id"]), dict(user))
        if str(user["id"]) == self.state.my_id:
            return f"self:{self.state.my_id}"
        conv = await self.call("dm.open", user_id=user["id"])
        self._emit(self.state.add_conversation(conv))
        return str(conv["id"])

    async def voice_join(self, channel: str) -> list[str]:
        """Join a voice channel; the participants (empty if the server has no voice)."""
        reply = await self.call("voice.join", channel=channel)
        participants = [str(u) for u in (reply or {}).get("participants") or ()]
        self.voice_handle = int((reply or {}).get("channel_handle") or 0)  # for media frames
        self.state.voice[channel] = participants
        self._emit(Change(sidebar=True, members=True))
        return participants

    async def voice_state(self, **flags: bool) -> dict[str, Any]:
        """Mute or deafen yourself in the voice channel you joined (voice.state)."""
        reply: dict[str, Any] = await self.call("voice.state", **flags)
        channel = str(reply.get("channel") or "")
        if channel:
            keys = ("handle", "muted", "deafened", "speaking")
            mine: dict[str, Any] = {k: reply[k] for k in keys if k in reply}
            self.state.voice_states.setdefault(channel, {})[self.state.my_id] = mine
        self._emit(Change(sidebar=True, members=True))
        return reply

    async def voice_leave(self) -> None:
        """Leave the voice channel you are in."""
        reply = await self.call("voice.leave")
        self.voice_handle = 0
        left = (reply or {}).get("left")
        if left and left in self.state.voice:
            self.state.voice[left] = [u for u in self.state.voice[left] if u != self.state.my_id]
        self._emit(Change(sidebar=True, members=True))

    def _load_notifications(self, saved: Profile | None) -> None:
        self.state.muted = set(saved.muted) if saved else set()
        self.state.levels = dict(saved.notify) if saved else {}
        self.state.dnd = saved.dnd if saved else False

    def _save_notifications(self) -> None:
        state = self.state
        self.credentials.save_notifications(state.muted, state.levels, state.dnd)
        self._emit(Change(sidebar=True, status=True))

    def toggle_mute(self, conversation: str) -> bool:
        """Mute or unmute notifications of a conversation; return the new muted state."""
        muted = conversation not in self.state.muted
        self.state.set_level(conversation, "none" if muted else "mentions")
        if not muted:
            self.state.levels.pop(conversation, None)  # back to the default
        self._save_notifications()
        return muted

    def set_notify_level(self, conversation: str, level: str) -> None:
        """Notify for ``all`` messages, ``mentions`` of you, or ``none`` in a conversation."""
        try:
            self.state.set_level(conversation, level)
        except ValueError as exc:
            raise InvalidRequest(str(exc), code="bad_level") from None
        self._save_notifications()

    def set_dnd(self, on: bool) -> None:
        """Do not disturb: counters go on, no bell, toast or desktop notification."""
        self.state.dnd = on
        self._save_notifications()
