"""The ``voice.*`` ops of the WebSocket endpoint: roster changes plus the node's relay.

``voice.join`` / ``voice.leave`` / ``voice.state`` go to the
:class:`~nodechat.services.voice.VoiceService` (roster and events) and tell
the node's :class:`~nodechat.server.voice_relay.VoiceRelay` which local
connection carries whose voice; ``voice.signal`` passes a peer-to-peer
offer, answer or ICE candidate to another participant of the caller's channel.
"""

from __future__ import annotations

from typing import Any

from nodechat.bus import Event, user_topic
from nodechat.errors import Conflict, InvalidRequest, NotFound
from nodechat.protocol.frames import Request
from nodechat.server.connection import ClientConnection
from nodechat.server.voice_relay import VoiceRelay
from nodechat.services.voice import VoiceService

SIGNAL_KINDS = frozenset({"offer", "answer", "ice"})


class VoiceOps:
    """Handles one connection's ``voice.*`` requests."""

    def __init__(self, voice: VoiceService, relay: VoiceRelay) -> None:
        self.voice = voice
        self.relay = relay

    async def call(self, conn: ClientConnection, request: Request) -> dict[str, Any]:
        """Carry out one voice op for an authenticated connection; its reply."""
        identity = conn.state.identity
        assert identity is not None
        op, data = request.op, request.data
        if op == "voice.join":
            joined = await self.voice.join(identity, data["channel"])
            conn.voice = joined["channel"]
            mine = joined["states"].get(identity.user_id, {})
            handle = await self.relay.joined(conn, conn.voice, mine)
            return {**joined, "channel_handle": handle}
        if op == "voice.leave":
            conn.voice = None
            await self.relay.left(conn)
            return await self.voice.leave(identity)
        if op == "voice.state":
            state = await self.voice.set_state(identity, conn.voice, data)
            self.relay.apply(conn, state)
            return state
        if op == "voice.signal":
            return await self._signal(conn, data)
        raise NotFound(f"unknown op {op}", code="unknown_op")

    async def _signal(self, conn: ClientConnection, data: dict[str, Any]) -> dict[str, Any]:
        identity = conn.state.identity
        assert identity is not None
        if data["kind"] not in SIGNAL_KINDS:
            raise InvalidRequest(
                "kind must be offer, answer or ice", code="invalid_signal_kind", field="kind"
            )
        channel = conn.voice
        if channel is None:
            raise Conflict("join a voice channel first", code="not_in_voice")
        states = await self.voice.states(channel)
        if identity.user_id not in states:
            raise Conflict("not in that voice channel any more", code="not_in_voice")
        to = data["to"]
        if to == identity.user_id or to not in states:
            raise NotFound(
                "that user is not another participant of your voice channel",
                code="not_a_participant",
            )
        event = Event(
            "voice.signal",
            {
                "channel": channel,
                "from": identity.user_id,
                "kind": data["kind"],
                "payload": data["payload"],
            },
        )
        await self.relay.voice.publish(user_topic(to), event)
        return {"sent": True}
