"""Opus for the voice tools, through PyAV (the ``voice`` extra; its wheels bundle libopus).

One :class:`OpusEncoder` per sender turns 20 ms PCM frames (s16, 48 kHz, mono)
into one Opus packet each; one :class:`OpusDecoder` per received sender turns
packets back into PCM. Without PyAV, :func:`available` is False and the tools
use PCM.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from nodechat.errors import InvalidRequest
from nodechat.protocol.voice import FRAME_SAMPLES, SAMPLE_RATE

BIT_RATE = 64_000


def available() -> bool:
    """Whether PyAV (and so libopus) can be imported."""
    return importlib.util.find_spec("av") is not None


def _av() -> Any:
    if not available():
        raise InvalidRequest(
            "Opus needs PyAV: pip install 'nodechat[voice]' (or use --codec pcm)",
            code="opus_unavailable",
        )
    import av

    return av


class OpusEncoder:
    """20 ms PCM frames in, one Opus packet each out."""

    def __init__(self, bit_rate: int = BIT_RATE) -> None:
        av = _av()
        self._av = av
        self._ctx = av.CodecContext.create("libopus", "w")
        self._ctx.sample_rate = SAMPLE_RATE
        self._ctx.layout = "mono"
        self._ctx.format = "s16"
        self._ctx.bit_rate = bit_rate
        self._ctx.open()
        self._pts = 0

    def encode(self, pcm: bytes) -> list[bytes]:
        """The packets for one 960-sample frame (one, once the encoder runs)."""
        frame = self._av.AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(pcm)
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        self._pts += FRAME_SAMPLES
        return [bytes(p) for p in self._ctx.encode(frame)]


class OpusDecoder:
    """Opus packets in, PCM (s16, 48 kHz, mono) out."""

    def __init__(self) -> None:
        av = _av()
        self._av = av
        self._ctx = av.CodecContext.create("libopus", "r")
        self._ctx.sample_rate = SAMPLE_RATE
        self._ctx.layout = "mono"
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)

    def decode(self, packet: bytes) -> bytes:
        """The PCM of one packet (b"" if the decoder rejects it)."""
        out = b""
        try:
            for frame in self._ctx.decode(self._av.Packet(packet)):
                for pcm in self._resampler.resample(frame):
                    out += bytes(pcm.planes[0])[: pcm.samples * 2]
        except self._av.error.FFmpegError:
            return b""
        return out
