"""Microphone and speakers for ``nodechat chat``: one :class:`LiveAudio` per voice join.

``/voice join`` starts it, ``/voice leave`` and quitting stop it, a disconnect
ends it on its own. Without the ``audio`` extra (or PortAudio, or a device),
or with ``--no-audio``, voice is roster-only: a notice says so once and the
received frames are drained.
"""

from __future__ import annotations

from collections.abc import Callable

from nodechat.chatclient.live_audio import (
    AudioDevice,
    AudioUnavailable,
    LiveAudio,
    SoundDevice,
    for_session,
)
from nodechat.chatclient.session import ChatSession


class VoiceAudio:
    """The chat app's audio: ``start`` after a join, ``stop`` on leave or quit."""

    def __init__(
        self,
        session: ChatSession,
        notice: Callable[[str], None],
        *,
        enabled: bool = True,
        device: Callable[[], AudioDevice] = SoundDevice,
    ) -> None:
        self.session = session
        self.notice = notice
        self.enabled = enabled
        self.device = device
        self.live: LiveAudio | None = None
        self.unavailable = "" if enabled else "audio off (--no-audio): voice is roster-only"
        self._told = False

    def _tell(self) -> None:
        if self.unavailable and not self._told:
            self._told = True
            self.notice(self.unavailable)

    def _open(self) -> AudioDevice | None:
        if self.unavailable:
            return None
        try:
            return self.device()
        except AudioUnavailable as exc:
            self.unavailable = exc.message
            return None

    async def start(self, channel: str) -> None:
        """Begin microphone and speakers in ``channel`` (just joined)."""
        await self.stop()
        device = self._open()
        live = for_session(self.session, channel, device)
        try:
            live.start(self.session.voice_handle)
        except AudioUnavailable as exc:
            self.unavailable = exc.message
            live = for_session(self.session, channel, None)
            live.start(self.session.voice_handle)
        self.live = live
        self._tell()

    async def stop(self) -> None:
        """Close the streams (nothing happens when not started)."""
        live, self.live = self.live, None
        if live is not None:
            await live.stop()
