"""Microphone to speakers through a real node: two chat sessions in one voice channel.

A real sound device cannot exist on CI (no sound card, no PortAudio), so each
session's :class:`~nodechat.tui.audio.VoiceAudio` gets a fake device: its
microphone is a thread producing a 500 Hz tone at the 20 ms frame pace, its
speaker a thread pulling one block per 20 ms. Everything else is real: the
sessions, the WebSockets, the node's relay and the codec. Waits poll for a
condition; nothing asserts on time.
"""

from __future__ import annotations

import asyncio
import math
import sys
import threading
import time
from array import array
from collections.abc import Callable
from pathlib import Path

import pytest

from nodechat.chatclient import ChatSession, ProfileStore, opus
from nodechat.chatclient.audio import correlation
from nodechat.chatclient.jitter import SILENCE
from nodechat.chatclient.live_audio import LiveAudio
from nodechat.protocol.voice import FRAME_SAMPLES, SAMPLE_RATE
from nodechat.server.node import ChatNode
from nodechat.tui.audio import VoiceAudio
from tests.integration.conftest import Signup
from tests.integration.test_voice_media import voice_group

pytestmark = pytest.mark.timeout(120)

TONE_HZ = 500  # 96-sample period: every 960-sample block is the same
TONE = array(
    "h",
    (int(12000 * math.sin(2 * math.pi * TONE_HZ * i / SAMPLE_RATE)) for i in range(FRAME_SAMPLES)),
)
MIN_CORRELATION = 0.9  # as in test_voice_tools.py


class FakeStream:
    def __init__(self, tick: Callable[[], None]) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(tick,), daemon=True)
        self._thread.start()

    def _run(self, tick: Callable[[], None]) -> None:
        start = time.monotonic()
        n = 0
        while not self._stop.is_set():  # the device's clock: one block per 20 ms
            tick()
            n += 1
            self._stop.wait(max(0.0, start + n * 0.02 - time.monotonic()))

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


class FakeDevice:
    """A microphone that plays :data:`TONE`, a speaker that records what it pulls."""

    def __init__(self) -> None:
        self.heard: list[bytes] = []
        self.streams: list[FakeStream] = []

    def open_input(self, on_block: Callable[[bytes], None]) -> FakeStream:
        self.streams.append(FakeStream(lambda: on_block(TONE.tobytes())))
        return self.streams[-1]

    def open_output(self, pull: Callable[[], bytes]) -> FakeStream:
        self.streams.append(FakeStream(lambda: self.heard.append(pull())))
        return self.streams[-1]


async def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not condition():
        assert loop.time() < end, "condition never held"
        await asyncio.sleep(0.02)


def pcm(blocks: list[bytes]) -> array[int]:
    out = array("h")
    for block in blocks:
        out.frombytes(block)
    return out


@pytest.mark.parametrize("codec", ["pcm", "opus"])
async def test_the_tone_from_one_microphone_reaches_the_other_speaker(
    node: ChatNode,
    signup: Signup,
    tmp_path: Path,
    codec: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if codec == "opus" and not opus.available():
        pytest.skip("Opus needs PyAV (the voice extra)")
    if codec == "pcm":
        monkeypatch.setattr(opus, "available", lambda: False)
    (ann, bob), _, room = await voice_group(signup, "lann", "lbob")
    store = ProfileStore(tmp_path / "profiles")
    sessions, devices, audios = [], [], []
    for who in (ann, bob):
        session = ChatSession(node.url, profile=who.user["username"], store=store)
        await session.login(who.user["username"], who.password)
        device = FakeDevice()
        audio = VoiceAudio(session, print, device=lambda d=device: d)  # type: ignore[misc]
        sessions.append(session)
        devices.append(device)
        audios.append(audio)
    try:
        for session, audio in zip(sessions, audios, strict=True):
            await session.voice_join(room)
            await audio.start(room)
        sender, receiver = (a.live for a in audios)
        assert isinstance(sender, LiveAudio) and isinstance(receiver, LiveAudio)
        speaker = devices[1]

        await until(lambda: sum(b != SILENCE for b in speaker.heard) >= 30)
        sound = [b for b in speaker.heard if b != SILENCE][10:30]  # past the codec's ramp
        assert correlation(pcm(sound), pcm([TONE.tobytes()] * 20), max_lag=96) >= MIN_CORRELATION

        # muted: the microphone goes on, nothing is sent
        await sessions[0].voice_state(muted=True)
        first = sender.mic_blocks  # a block taken before the mute may still be on its way
        await until(lambda: sender.mic_blocks >= first + 2)
        sent, blocks = sender.sent, sender.mic_blocks
        await until(lambda: sender.mic_blocks >= blocks + 10)
        assert sender.sent == sent

        # deafened: the speaker plays silence while the other talks again
        await sessions[1].voice_state(deafened=True)
        await sessions[0].voice_state(muted=False)
        sent, first = sender.sent, len(speaker.heard)
        await until(lambda: len(speaker.heard) >= first + 2)  # past a pull begun before
        mark = len(speaker.heard)
        await until(lambda: sender.sent >= sent + 10 and len(speaker.heard) >= mark + 10)
        assert all(b == SILENCE for b in speaker.heard[mark:])

        # leaving stops the streams
        await audios[1].stop()
        await sessions[1].voice_leave()
        assert audios[1].live is None and not receiver.running
    finally:
        for audio in audios:
            await audio.stop()
        for session in sessions:
            await session.close()
    for device in devices:
        assert all(s._stop.is_set() for s in device.streams)


async def test_without_a_device_voice_is_roster_only_with_a_notice(
    node: ChatNode, signup: Signup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # as on CI: not installed
    (ann,), _, room = await voice_group(signup, "rann")
    session = ChatSession(node.url, profile="r", store=ProfileStore(tmp_path / "profiles"))
    await session.login("rann", ann.password)
    notices: list[str] = []
    audio = VoiceAudio(session, notices.append)  # the real SoundDevice
    try:
        await session.voice_join(room)
        await audio.start(room)
        assert audio.live is not None and audio.live.device is None
        assert len(notices) == 1 and "nodechat[audio]" in notices[0]
        await audio.start(room)  # told once
        assert len(notices) == 1
    finally:
        await audio.stop()
        await session.close()
