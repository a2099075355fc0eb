"""The client WebSocket endpoint (socket role): frames in, service calls, frames out.

Per connection, requests are handled one at a time in arrival order, except
that consecutive ``message.send`` requests are pipelined through a
:class:`~nodechat.server.pipeline.SendLane`, which still stores a client's
messages in the order it sent them. Errors become error frames with stable
codes; only protocol violations close the connection, with the close codes
listed in docs/protocol.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from nodechat.bus.media import MediaBus
from nodechat.cluster import LocalVoiceRoster, VoiceRoster
from nodechat.config import SocketSettings
from nodechat.errors import ChatError, InternalError, RateLimited, Unavailable, fold
from nodechat.models import Identity
from nodechat.protocol.frames import (
    MAX_ID_LENGTH,
    FrameError,
    Request,
    decode_request,
    encode_error,
    encode_hello,
    encode_reply,
)
from nodechat.protocol.framing import text_frame
from nodechat.protocol.session import CLOSE_AUTH_TIMEOUT, CLOSE_RATE_LIMIT, Phase
from nodechat.server.connection import ClientConnection, Flusher
from nodechat.server.dispatch import HANDLERS, Call, Services, send_ack
from nodechat.server.forwarded import client_address
from nodechat.server.hub import Hub
from nodechat.server.metrics import Metrics
from nodechat.server.pipeline import SendLane
from nodechat.server.voice_ops import VoiceOps
from nodechat.server.voice_relay import VoiceRelay
from nodechat.services.api import ReplayResult, SendItem
from nodechat.services.ratelimit import TokenBucket
from nodechat.services.sessions import SessionService
from nodechat.services.voice import VoiceService

log = logging.getLogger(__name__)

# A connection refused this many requests within REFUSAL_WINDOW seconds is closed.
MAX_REFUSED = 200
REFUSAL_WINDOW = 10.0
# Store reads at once for backfills (a bus reconnect has every session catch up).
CONCURRENT_REPLAYS = 32


class SocketEndpoint:
    """Serves protocol v1 on accepted WebSocket connections."""

    def __init__(
        self,
        services: Services,
        hub: Hub,
        settings: SocketSettings,
        metrics: Metrics | None = None,
        *,
        voice: VoiceRoster | None = None,
        media: MediaBus | None = None,
        node_id: str = "",
    ) -> None:
        self.services = services
        self.metrics = metrics or Metrics()
        self.voice = VoiceService(services.groups, voice or LocalVoiceRoster(), hub.bus)
        self.relay = VoiceRelay(self.voice, settings, self.metrics, media=media, node_id=node_id)
        self.voice_ops = VoiceOps(self.voice, self.relay)
        hub.on_voice = self.relay.on_updated
        self.sessions = SessionService(
            services.auth,
            services.groups,
            services.messages,
            online=hub.online,
            voice=self.voice.snapshot,
            voice_states=self.voice.snapshot_states,
            replay_limit=settings.replay_limit,
        )
        self._replays = asyncio.Semaphore(CONCURRENT_REPLAYS)
        self._flusher: Flusher | None = None  # made on the loop, at the first connection
        self._trusted = frozenset(settings.trusted_proxies)
        self.hub = hub
        self.settings = settings
        self.draining = False
        self.inflight = 0
        self.connections: set[ClientConnection] = set()
        self._accounts: dict[str, TokenBucket] = {}  # per-account limits, while connected
        self._idle = asyncio.Event()
        self._idle.set()

    async def handle(self, ws: ServerConnection) -> None:
        """Run one client connection until it closes."""
        s = self.settings
        if self._flusher is None:
            self._flusher = Flusher(asyncio.get_running_loop())
            self.relay.start()
        peer = ws.remote_address[0] if ws.remote_address else ""
        headers = ws.request.headers if ws.request is not None else None
        forwarded = headers.get_all(s.forwarded_header) if headers is not None else []
        address = client_address(peer, self._trusted, s.forwarded_header, forwarded)
        # Nothing reads the handshake again: free its parsed headers (2.5 KiB a
        # connection). websockets' handshake parser keeps the request object itself for
        # the connection's life, so it is emptied rather than dropped.
        if ws.request is not None:
            ws.request.headers.clear()
        ws.response = None
        conn = ClientConnection(
            ws,
            send_buffer=s.send_buffer,
            replay=self.replay,
            address=address,
            flusher=self._flusher,
        )
        self.connections.add(conn)
        self.metrics.connection_opened()
        loop = asyncio.get_running_loop()
        deadline = loop.call_later(s.auth_deadline, self._auth_timeout, conn)
        bucket = TokenBucket(s.requests_per_second, s.request_burst)
        refused, refused_since = 0, time.monotonic()
        lane = SendLane(lambda group: self._send_group(conn, group))
        conn.send_payload(
            encode_hello(
                auth_deadline=s.auth_deadline, heartbeat=s.ping_interval, max_frame=s.max_frame
            )
        )
        try:
            async for message in ws:
                if conn.state.phase is Phase.CLOSED:
                    continue  # closing: read (and drop) frames until the close frame arrives
                if isinstance(message, bytes):
                    # voice media: its own limits (voice_relay), never the request budget
                    self.relay.on_frame(conn, message)
                    continue
                if not bucket.take() or not self._account_allows(conn):
                    now = time.monotonic()
                    if now - refused_since > REFUSAL_WINDOW:
                        refused, refused_since = 0, now
                    refused += 1
                    if refused > MAX_REFUSED:
                        conn.close(CLOSE_RATE_LIMIT, "request rate limit exceeded")
                    else:
                        conn.send_payload(
                            encode_error(
                                peek_id(message),
                                RateLimited(
                                    "too many requests",
                                    retry_after=max(
                                        bucket.retry_after(), self._account_retry_after(conn)
                                    ),
                                ),
                            )
                        )
                    continue
                request = self._decode(conn, message)
                if request is None:
                    continue
                if (
                    request.op == "message.send"
                    and conn.state.phase is Phase.READY
                    and not self.draining
                ):
                    self._started(1)
                    await lane.submit(request)
                    del message, request  # an idle connection holds no last frame (1 KiB)
                    continue
                await lane.idle()  # later requests see the effect of earlier sends
                await self._request(conn, request)
                del message, request
                if conn.state.phase is Phase.READY and not deadline.cancelled():
                    deadline.cancel()
        except ConnectionClosed:
            pass
        finally:
            deadline.cancel()
            await lane.close()  # queued sends are stored even if their replies are lost
            await self.relay.left(conn)
            self.relay.closed(conn)
            if conn.state.identity is not None and conn.voice is not None:
                channel, conn.voice = conn.voice, None
                await self.voice.disconnected(conn.state.identity, channel)
            authenticated = conn.state.identity is not None
            conn.state.close()
            self.connections.discard(conn)
            self.metrics.connection_closed()
            if authenticated:
                self.metrics.session_ended()
            await self.hub.detach(conn)
            identity = conn.state.identity
            if identity is not None and not self.hub.user_connections(identity.user_id):
                self._accounts.pop(identity.user_id, None)

    def _account_bucket(self, conn: ClientConnection) -> TokenBucket | None:
        identity = conn.state.identity
        if identity is None:
            return None
        bucket = self._accounts.get(identity.user_id)
        if bucket is None:
            s = self.settings
            bucket = TokenBucket(s.account_requests_per_second, s.account_request_burst)
            self._accounts[identity.user_id] = bucket
        return bucket

    def _account_allows(self, conn: ClientConnection) -> bool:
        bucket = self._account_bucket(conn)
        return bucket is None or bucket.take()

    def _account_retry_after(self, conn: ClientConnection) -> float:
        bucket = self._account_bucket(conn)
        return 0.0 if bucket is None else bucket.retry_after()

    def _auth_timeout(self, conn: ClientConnection) -> None:
        if conn.state.phase is Phase.UNAUTHENTICATED:
            conn.close(CLOSE_AUTH_TIMEOUT, "authentication deadline passed")

    def _decode(self, conn: ClientConnection, text: str) -> Request | None:
        try:
            return decode_request(text)
        except FrameError as exc:
            log.info("bad frame from %s: %s", conn.address, exc.code)
            conn.send_payload(encode_error(exc.request_id, exc))
            return None

    def _started(self, n: int) -> None:
        self.inflight += n
        self._idle.clear()

    def _finished(self, conn: ClientConnection, n: int) -> None:
        conn.request_done()
        self.inflight -= n
        if self.inflight == 0:
            self._idle.set()

    async def _request(self, conn: ClientConnection, request: Request) -> None:
        self._started(1)
        conn.busy = True
        try:
            if self.draining:
                raise Unavailable(
                    "the server is shutting down; reconnect shortly", code="shutting_down"
                )
            conn.state.check_op(request.op)
            reply = await self._call(conn, request)
            if reply is not None:
                conn.send_payload(encode_reply(request.id, reply))
        except ChatError as exc:
            self.metrics.error(exc.code)
            conn.send_payload(encode_error(request.id, exc))
        except Exception:
            log.exception("op %s failed", request.op)
            conn.send_payload(encode_error(request.id, InternalError("internal server error")))
        finally:
            self._finished(conn, 1)

    async def _send_group(self, conn: ClientConnection, requests: list[Request]) -> None:
        """Store a group of one connection's pipelined sends in order; answer each."""
        conn.busy = True
        try:
            identity = conn.state.identity
            if identity is None or conn.state.phase is Phase.CLOSED:
                return  # the session ended (revoked, logged out): drop what it queued
            items = []
            for r in requests:
                self.metrics.message_received()
                d = r.data
                items.append(
                    SendItem(
                        identity,
                        d["conversation"],
                        d["body"],
                        d["nonce"],
                        d.get("reply_to"),
                        tuple(d.get("attachments") or ()),
                    )
                )
            outcomes = await fold(self.services.messages.send_many(items), len(items))
            for r, outcome in zip(requests, outcomes, strict=True):
                if isinstance(outcome, ChatError):
                    self.metrics.error(outcome.code)
                    conn.send_payload(encode_error(r.id, outcome))
                else:
                    conn.send_payload(encode_reply(r.id, send_ack(outcome)))
        finally:
            self._finished(conn, len(requests))

    async def _call(self, conn: ClientConnection, request: Request) -> Any:
        if request.op == "auth.authenticate":
            await self._authenticate(conn, request)
            return None
        if request.op == "message.send":
            self.metrics.message_received()
        if request.op == "typing":
            return await self._typing(conn, request.data["conversation"])
        if request.op.startswith("voice."):
            return await self.voice_ops.call(conn, request)
        if request.op == "presence.subscribe":
            return {"presence": await self.hub.watch(conn, request.data["user_ids"])}
        if request.op == "presence.unsubscribe":
            return {"subscribed": await self.hub.unwatch(conn, request.data.get("user_ids"))}
        call = Call(self.services, conn.state.identity, request.data, conn.address)
        result = await HANDLERS[request.op](call)
        if request.op == "dm.open" and result.get("peer_id"):
            await self.hub.show_peers(conn, [result["peer_id"]])
        return result

    async def _typing(self, conn: ClientConnection, conversation: str) -> dict[str, bool]:
        identity = conn.state.identity
        assert identity is not None
        now = time.monotonic()
        if now - conn.typing_at.get(conversation, -1e9) < self.settings.typing_interval:
            return {"sent": False}
        conn.typing_at[conversation] = now
        await self.services.messages.typing(identity, conversation)
        return {"sent": True}

    # -- authentication, snapshot and resume ----------------------------------

    async def _authenticate(self, conn: ClientConnection, request: Request) -> None:
        async def subscribe(identity: Identity, group_ids: list[str]) -> None:
            conn.state.begin(identity)  # live events are held until the snapshot is out
            await self.hub.attach(conn, group_ids)

        async def show(peers: list[str]) -> None:
            await self.hub.show_peers(conn, peers)

        data = request.data
        try:
            started = await self.sessions.start(
                data["token"], data.get("resume") or {}, subscribe, show
            )
        except BaseException:
            # not half-ready: back to unauthenticated, so the client can simply retry
            await self.hub.detach(conn)
            conn.state.abort()
            conn.pump()
            raise
        self.metrics.session_started()
        reply = text_frame(encode_reply(request.id, started.snapshot))
        conn.state.start(reply, started.positions, started.replay, started.presence)
        conn.pump()

    async def replay(self, identity: Identity, conversation: str, after: int) -> ReplayResult:
        """A conversation's messages after ``after`` from the store (a session's backfill)."""
        async with self._replays:
            return await self.services.messages.replay(
                identity, conversation, after, self.settings.replay_limit
            )

    async def drain(self, timeout: float) -> None:
        """Refuse new requests and wait for the ones being handled."""
        self.draining = True
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            log.warning("%d requests still running at shutdown", self.inflight)


def peek_id(message: str | bytes) -> str | int | None:
    """The request id of a frame that will not be handled, so the client can match the error."""
    try:
        frame = orjson.loads(message)
    except orjson.JSONDecodeError:
        return None
    rid = frame.get("id") if isinstance(frame, dict) else None
    if isinstance(rid, str) and 0 < len(rid) <= MAX_ID_LENGTH:
        return rid
    if isinstance(rid, int) and not isinstance(rid, bool) and 0 <= rid < 2**53:
        return rid
    return None
