"""Microphone and speakers in a voice channel (the ``audio`` extra: sounddevice).

The core is sans-device: an :class:`AudioDevice` opens an input stream that
calls back with 960-sample int16 blocks (20 ms at 48 kHz, mono) on its own
thread, and an output stream that pulls such blocks. :class:`SoundDevice` is
the real one (PortAudio through ``sounddevice``, imported lazily); tests use a
fake. :class:`LiveAudio` runs while you are in a voice channel: microphone
blocks go to the loop (``call_soon_threadsafe``, a bounded queue that drops the
oldest), are encoded (Opus with PyAV, else PCM) and sent with the join's
channel handle unless you are muted; received frames are decoded into a small
:class:`JitterBuffer` per sender and :func:`mix`-ed for the speaker (silence
when nothing is buffered or you are deafened). Without a device it only drains
:attr:`ChatClient.media` so the roster-only client holds no stale frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from websockets.exceptions import ConnectionClosed

from nodechat.chatclient import opus
from nodechat.chatclient.jitter import SILENCE, JitterBuffer, mix
from nodechat.chatclient.session import ChatSession
from nodechat.client import ChatClient
from nodechat.errors import ChatError, Unavailable
from nodechat.protocol.voice import (
    FRAME_SAMPLES,
    KIND_OPUS,
    KIND_PCM,
    PCM_FRAME_BYTES,
    SAMPLE_RATE,
    MediaFrame,
    VoiceFrameError,
    decode_media,
    encode_media,
)

log = logging.getLogger(__name__)

MIC_QUEUE = 10  # 200 ms of microphone blocks waiting for the loop; older ones are dropped
UNAVAILABLE = "install nodechat[audio] and PortAudio for microphone and speakers"


class AudioUnavailable(Unavailable):
    """No sound device: sounddevice or PortAudio is missing, or a stream would not open."""


class Stream(Protocol):
    def close(self) -> None: ...


class AudioDevice(Protocol):
    """Opens the microphone and the speakers (20 ms int16 mono blocks at 48 kHz)."""

    def open_input(self, on_block: Callable[[bytes], None]) -> Stream:
        """Start calling ``on_block`` (from any thread) with each 1,920-byte block."""
        ...

    def open_output(self, pull: Callable[[], bytes]) -> Stream:
        """Start playing what ``pull`` (called from any thread) returns, block by block."""
        ...


class SoundDevice:
    """The default microphone and speakers through ``sounddevice`` (PortAudio)."""

    def __init__(self) -> None:
        try:
            import sounddevice
        except (ImportError, OSError) as exc:  # OSError: PortAudio library not found
            raise AudioUnavailable(UNAVAILABLE, code="audio_unavailable") from exc
        self._sd: Any = sounddevice

    def _open(self, cls: Any, callback: Any) -> Stream:
        try:
            stream = cls(
                samplerate=SAMPLE_RATE,
                channels=1,
                dtype="int16",
                blocksize=FRAME_SAMPLES,
                callback=callback,
            )
            stream.start()
        except Exception as exc:  # PortAudioError, no default device, ...
            raise AudioUnavailable(f"{UNAVAILABLE} ({exc})", code="audio_unavailable") from exc
        return stream  # type: ignore[no-any-return]

    def open_input(self, on_block: Callable[[bytes], None]) -> Stream:
        def callback(indata: Any, frames: int, time: Any, status: Any) -> None:
            on_block(bytes(indata))

        return self._open(self._sd.RawInputStream, callback)

    def open_output(self, pull: Callable[[], bytes]) -> Stream:
        def callback(outdata: Any, frames: int, time: Any, status: Any) -> None:
            data = pull()
            size = len(outdata)
            outdata[:] = data[:size].ljust(size, b"\0")

        return self._open(self._sd.RawOutputStream, callback)


class LiveAudio:
    """Microphone to the channel and the channel to the speakers, for one voice join.

    ``client`` gives the session's current connection, ``flags`` says (muted,
    deafened); ``device`` None means roster-only (frames are drained, nothing
    plays). ``start`` and ``stop`` run on the event loop.
    """

    def __init__(
        self,
        client: Callable[[], ChatClient | None],
        flags: Callable[[], tuple[bool, bool]],
        device: AudioDevice | None,
        *,
        kind: int | None = None,
    ) -> None:
        self._client = client
        self._flags = flags
        self.device = device
        self.kind = kind if kind is not None else (KIND_OPUS if opus.available() else KIND_PCM)
        self.handle = 0
        self.sent = 0  # frames sent
        self.mic_blocks = 0  # microphone blocks taken from the queue
        self.mic_dropped = 0
        self.received = 0  # frames decoded into a jitter buffer
        self.played = 0  # output blocks pulled with sound in them
        self.pulled = 0
        self._lock = threading.Lock()
        self._buffers: dict[int, JitterBuffer] = {}
        self._decoders: dict[int, opus.OpusDecoder] = {}
        self._mic: asyncio.Queue[bytes] = asyncio.Queue(MIC_QUEUE)
        self._streams: list[Stream] = []
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def running(self) -> bool:
        return any(not t.done() for t in self._tasks)

    def start(self, handle: int) -> None:
        """Begin with the join reply's channel handle; AudioUnavailable if a stream fails
        (then nothing is left open and the caller may retry without a device)."""
        self.handle = handle
        client = self._client()
        if client is not None:  # frames from before this join are stale
            while not client.media.empty():
                client.media.get_nowait()
        loop = asyncio.get_running_loop()
        if self.device is not None:

            def on_block(block: bytes) -> None:  # on the audio thread
                loop.call_soon_threadsafe(self._put, block)

            try:
                self._streams.append(self.device.open_input(on_block))
                self._streams.append(self.device.open_output(self.pull))
            except AudioUnavailable:
                self._close_streams()
                raise
            self._tasks.append(loop.create_task(self._send()))
        self._tasks.append(loop.create_task(self._receive()))

    def _close_streams(self) -> None:
        for stream in self._streams:
            with contextlib.suppress(Exception):
                stream.close()
        self._streams.clear()

    async def stop(self) -> None:
        """Close the streams and end the tasks (idempotent)."""
        self._close_streams()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with self._lock:
            self._buffers.clear()

    def _put(self, block: bytes) -> None:  # on the loop, from the audio thread
        if self._mic.full():
            self._mic.get_nowait()
            self.mic_dropped += 1
        self._mic.put_nowait(block)

    async def _send(self) -> None:
        encoder = opus.OpusEncoder() if self.kind == KIND_OPUS else None
        seq, clock = 0, -FRAME_SAMPLES  # the sample clock of the block in hand
        while True:
            block = await self._mic.get()
            self.mic_blocks += 1
            clock = (clock + FRAME_SAMPLES) & 0xFFFFFFFF  # muted blocks advance it too
            client = self._client()
            if client is None or client.closed:
                break
            if self._flags()[0]:  # muted: nothing leaves
                continue
            payloads = encoder.encode(block) if encoder is not None else [block]
            for payload in payloads:
                frame = MediaFrame(self.kind, self.handle, 0, seq, clock, payload)
                try:
                    await client.send_raw(encode_media(frame))
                except (ConnectionClosed, ChatError):  # disconnected: stop the device
                    self._close_streams()
                    return
                seq = (seq + 1) & 0xFFFFFFFF
                self.sent += 1
        self._close_streams()

    async def _receive(self) -> None:
        while True:
            client = self._client()
            if client is None or client.closed:
                break
            try:
                _, data = await asyncio.wait_for(client.media.get(), 0.5)
            except TimeoutError:
                continue
            if self.device is None:
                continue  # roster-only: drop
            try:
                frame = decode_media(data)
            except VoiceFrameError:
                continue
            pcm = self._decode(frame)
            if len(pcm) != PCM_FRAME_BYTES:
                continue
            with self._lock:
                buffer = self._buffers.setdefault(frame.sender, JitterBuffer())
                buffer.push(frame.seq, pcm)
            self.received += 1
        self._close_streams()

    def _decode(self, frame: MediaFrame) -> bytes:
        if frame.kind == KIND_PCM:
            return frame.payload
        if not opus.available():
            return b""
        decoder = self._decoders.get(frame.sender)
        if decoder is None:
            decoder = self._decoders[frame.sender] = opus.OpusDecoder()
        return decoder.decode(frame.payload)

    def pull(self) -> bytes:
        """The next 20 ms for the speaker (called on the audio thread)."""
        with self._lock:
            blocks = [b for buf in self._buffers.values() if (b := buf.pop()) is not None]
        self.pulled += 1
        if not blocks or self._flags()[1]:  # deafened: the buffers drain, nothing plays
            return SILENCE
        self.played += 1
        return mix(blocks)


def for_session(
    session: ChatSession, channel: str, device: AudioDevice | None, *, kind: int | None = None
) -> LiveAudio:
    """A LiveAudio on the session's connection, muted/deafened by its voice state."""

    def flags() -> tuple[bool, bool]:
        mine = session.state.my_voice_state(channel)
        return bool(mine.get("muted")), bool(mine.get("deafened"))

    return LiveAudio(lambda: session.client, flags, device, kind=kind)
