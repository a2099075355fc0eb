"""The sans-device core of microphone and speakers: jitter buffer, mixer, LiveAudio.

There is no sound card or PortAudio on CI, so nothing here opens a real device:
:class:`FakeDevice` stands in for it (the microphone is driven by the test, the
speaker is pulled by the test).
"""

from __future__ import annotations

import asyncio
from array import array
from collections.abc import Callable

import pytest

from nodechat.chatclient import live_audio
from nodechat.chatclient.jitter import SILENCE, JitterBuffer, mix
from nodechat.chatclient.live_audio import AudioUnavailable, LiveAudio, SoundDevice
from nodechat.protocol.voice import FRAME_SAMPLES, KIND_PCM, MediaFrame, decode_media, encode_media


def block(value: int) -> bytes:
    return array("h", [value] * FRAME_SAMPLES).tobytes()


def samples(pcm: bytes) -> array[int]:
    out = array("h")
    out.frombytes(pcm)
    return out


class FakeStream:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


class FakeDevice:
    """Records the callbacks LiveAudio gives it; the test plays the audio thread."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.on_block: Callable[[bytes], None] | None = None
        self.pull: Callable[[], bytes] | None = None
        self.streams: list[FakeStream] = []

    def open_input(self, on_block: Callable[[bytes], None]) -> FakeStream:
        self.on_block = on_block
        self.streams.append(FakeStream())
        return self.streams[-1]

    def open_output(self, pull: Callable[[], bytes]) -> FakeStream:
        if self.fail:
            raise AudioUnavailable("no speakers", code="audio_unavailable")
        self.pull = pull
        self.streams.append(FakeStream())
        return self.streams[-1]


def test_jitter_buffer_plays_in_order_after_its_depth() -> None:
    buf = JitterBuffer(depth=3)
    for seq in (11, 10):  # reordered on the way
        assert buf.push(seq, block(seq))
    assert buf.pop() is None  # still buffering
    assert buf.push(12, block(12))
    assert [samples(buf.pop() or b"")[0] for _ in range(3)] == [10, 11, 12]
    assert buf.pop() is None and not buf.primed  # ran dry: buffers again


def test_jitter_buffer_loss_is_silence_and_late_or_duplicate_frames_are_dropped() -> None:
    buf = JitterBuffer(depth=2)
    for seq in (1, 3, 4):  # 2 is lost
        buf.push(seq, block(seq))
    assert buf.pop() == block(1)
    assert buf.pop() is None  # the gap plays as silence
    assert not buf.push(2, block(2))  # too late now
    assert not buf.push(3, block(3))  # duplicate
    assert buf.dropped == 2
    assert buf.pop() == block(3) and buf.pop() == block(4)


def test_jitter_buffer_bounds_a_sender_far_ahead() -> None:
    buf = JitterBuffer(depth=1, limit=4)
    for seq in range(10):
        buf.push(seq, block(seq))
    assert len(buf.frames) == 4 and buf.dropped == 6
    assert buf.pop() == block(6)


def test_jitter_buffer_wraps_the_seq_circle() -> None:
    buf = JitterBuffer(depth=2)
    buf.push(0xFFFFFFFF, block(1))
    buf.push(0, block(2))
    assert buf.pop() == block(1) and buf.pop() == block(2)


def test_mix_sums_and_clips() -> None:
    assert mix([]) == SILENCE
    assert samples(mix([block(100), block(-30)]))[0] == 70
    assert samples(mix([block(30000), block(30000)]))[0] == 32767
    assert samples(mix([block(-30000), block(-30000)]))[0] == -32768


def test_sound_device_without_sounddevice_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(__import__("sys").modules, "sounddevice", None)  # import fails
    with pytest.raises(AudioUnavailable) as exc:
        SoundDevice()
    assert "nodechat[audio]" in exc.value.message and "PortAudio" in exc.value.message


class FakeClient:
    def __init__(self) -> None:
        self.media: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(500)
        self.sent: list[bytes] = []
        self.closed = False

    async def send_raw(self, data: bytes) -> None:
        self.sent.append(data)


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


async def test_live_audio_sends_unless_muted_and_plays_unless_deafened() -> None:
    client = FakeClient()
    flags = [False, False]
    device = FakeDevice()
    audio = LiveAudio(lambda: client, lambda: (flags[0], flags[1]), device, kind=KIND_PCM)  # type: ignore[arg-type, return-value]
    audio.start(7)
    assert device.on_block is not None and device.pull is not None
    device.on_block(block(5))
    await until(lambda: len(client.sent) == 1)
    sent = decode_media(client.sent[0])
    assert (sent.channel, sent.seq, sent.timestamp, sent.payload) == (7, 0, 0, block(5))
    flags[0] = True  # muted
    device.on_block(block(6))
    await until(lambda: audio.mic_blocks == 2)
    assert len(client.sent) == 1
    for seq in range(3):
        frame = MediaFrame(KIND_PCM, 7, 2, seq, seq * FRAME_SAMPLES, block(seq + 1))
        client.media.put_nowait((0.0, encode_media(frame)))
    await until(lambda: client.media.empty())
    await asyncio.sleep(0)  # the last frame reaches its buffer
    assert device.pull() == block(1)
    flags[1] = True  # deafened: the buffer drains, nothing plays
    assert device.pull() == SILENCE
    flags[1] = False
    assert device.pull() == block(3)
    assert device.pull() == SILENCE  # nothing buffered
    await audio.stop()
    assert all(s.closed for s in device.streams) and not audio.running


async def test_a_failing_stream_leaves_nothing_open() -> None:
    client = FakeClient()
    device = FakeDevice(fail=True)
    audio = LiveAudio(lambda: client, lambda: (False, False), device, kind=KIND_PCM)  # type: ignore[arg-type, return-value]
    with pytest.raises(AudioUnavailable):
        audio.start(1)
    assert device.streams[0].closed and not audio.running


async def test_roster_only_drains_the_media_queue() -> None:
    client = FakeClient()
    audio = LiveAudio(lambda: client, lambda: (False, False), None)  # type: ignore[arg-type, return-value]
    audio.start(1)
    for seq in range(5):
        client.media.put_nowait((0.0, encode_media(MediaFrame(KIND_PCM, 1, 2, seq, 0, block(1)))))
    await until(lambda: client.media.empty())
    client.closed = True  # a disconnect ends it
    await until(lambda: not audio.running)
    await audio.stop()
    assert live_audio.UNAVAILABLE.startswith("install nodechat[audio]")
