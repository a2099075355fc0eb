"""Voice media frames: the binary WebSocket frames of a voice channel (sans I/O).

Every binary frame is a 14-byte header followed by an opaque payload::

    offset size field
    0      1    version       1
    1      1    kind          1 = Opus packet, 2 = PCM s16le 48 kHz mono
    2      2    channel       the channel handle of the receiving/sending session
    4      2    sender        participant handle (clients send 0; the server stamps it)
    6      4    seq           per sender, +1 per frame, wraps at 2**32
    10     4    timestamp     48 kHz sample clock of the frame's first sample, wraps
    14     n    payload       1..MAX_PAYLOAD bytes (20 ms of audio)

All integers are big-endian (network order). The channel handle is a small
per-session integer announced in the ``voice.join`` reply (``handle``): a
session is in one voice channel at a time, so two bytes name it instead of
the channel id; frames a session receives carry *its* handle, and a frame
sent with a stale handle (from before a move) is refused. The sender handle
names a participant within the channel (``states[user].handle`` in the join
reply and in ``voice.updated``).

:func:`decode_media` turns a frame into a :class:`MediaFrame` or raises
:class:`VoiceFrameError` with a stable code; nothing here touches a socket.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from nodechat.errors import InvalidRequest

VERSION = 1
KIND_OPUS = 1
KIND_PCM = 2
KINDS = frozenset({KIND_OPUS, KIND_PCM})
HEADER = struct.Struct("!BBHHII")
HEADER_SIZE = HEADER.size  # 14
MAX_PAYLOAD = 4000  # 20 ms of PCM is 1,920 bytes; an Opus packet is far smaller
MAX_HANDLE = 0xFFFF

SAMPLE_RATE = 48_000
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000  # 960 samples a frame
PCM_FRAME_BYTES = FRAME_SAMPLES * 2  # 16-bit mono


class VoiceFrameError(InvalidRequest):
    """A binary frame that is not a valid voice frame (codes below, docs/voice.md)."""


@dataclass(frozen=True, slots=True)
class MediaFrame:
    """One decoded voice frame."""

    kind: int
    channel: int
    sender: int
    seq: int
    timestamp: int
    payload: bytes


def encode_media(frame: MediaFrame) -> bytes:
    """The wire bytes of ``frame`` (header + payload)."""
    return (
        HEADER.pack(VERSION, frame.kind, frame.channel, frame.sender, frame.seq, frame.timestamp)
        + frame.payload
    )


def decode_media(data: bytes) -> MediaFrame:
    """Parse one binary frame; :class:`VoiceFrameError` says what is wrong with it."""
    if len(data) < HEADER_SIZE:
        raise VoiceFrameError(
            f"a voice frame has a {HEADER_SIZE}-byte header; got {len(data)} bytes",
            code="voice_frame_truncated",
        )
    version, kind, channel, sender, seq, timestamp = HEADER.unpack_from(data)
    if version != VERSION:
        raise VoiceFrameError(
            f"voice frame version {version} is not supported (expected {VERSION})",
            code="voice_frame_version",
        )
    if kind not in KINDS:
        raise VoiceFrameError(f"unknown voice frame kind {kind}", code="voice_frame_kind")
    size = len(data) - HEADER_SIZE
    if size == 0:
        raise VoiceFrameError("a voice frame needs a payload", code="voice_frame_empty")
    if size > MAX_PAYLOAD:
        raise VoiceFrameError(
            f"voice payload of {size} bytes exceeds {MAX_PAYLOAD}", code="voice_frame_too_large"
        )
    if channel == 0:
        raise VoiceFrameError("channel handle 0 is never assigned", code="voice_frame_channel")
    return MediaFrame(kind, channel, sender, seq, timestamp, bytes(data[HEADER_SIZE:]))


def restamp(data: bytes, channel: int, sender: int) -> bytes:
    """The same frame with the channel and sender handles replaced (relay side)."""
    return data[:2] + struct.pack("!HH", channel, sender) + data[6:]


def next_handle(handle: int) -> int:
    """The handle after ``handle`` (1..MAX_HANDLE, wrapping, never 0)."""
    return handle % MAX_HANDLE + 1


def seq_delta(newer: int, older: int) -> int:
    """Signed distance from ``older`` to ``newer`` on the 32-bit seq circle."""
    d = (newer - older) & 0xFFFFFFFF
    return d - 0x100000000 if d >= 0x80000000 else d


@dataclass(slots=True)
class ReceiverStats:
    """Loss, lateness and RFC 3550 interarrival jitter, as a receiver sees one sender."""

    received: int = 0
    lost: int = 0
    late: int = 0  # arrived after a later seq (reordered) or duplicated
    jitter: float = 0.0  # in timestamp units (samples)
    _highest: int | None = None
    _transit: float | None = None

    def observe(self, seq: int, timestamp: int, arrival_samples: float) -> bool:
        """Count one frame (arrival in sample units); whether it is in order (not late)."""
        self.received += 1
        transit = arrival_samples - timestamp
        if self._transit is not None:  # RFC 3550 §6.4.1: J += (|D| - J) / 16
            self.jitter += (abs(transit - self._transit) - self.jitter) / 16
        self._transit = transit
        if self._highest is None:
            self._highest = seq
            return True
        d = seq_delta(seq, self._highest)
        if d <= 0:
            self.late += 1
            self.lost = max(0, self.lost - 1)  # it was counted lost when the gap appeared
            return False
        self.lost += d - 1
        self._highest = seq
        return True

    @property
    def jitter_ms(self) -> float:
        """Jitter in milliseconds."""
        return self.jitter * 1000 / SAMPLE_RATE
