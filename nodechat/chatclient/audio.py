"""Client-side voice audio: WAV files to 20 ms PCM frames and back (standard library only).

The fallback codec of nodechat voice is PCM: signed 16-bit little-endian,
48 kHz, mono, 960 samples (1,920 bytes) a frame. :func:`read_wav` converts
any 16-bit WAV (any rate, any channel count) to that; :class:`Recording`
places received frames on each sender's timeline by their timestamps
(silence where frames were lost) and mixes the senders into one WAV.
"""

from __future__ import annotations

import math
import wave
from array import array
from pathlib import Path

from nodechat.errors import InvalidRequest
from nodechat.protocol.voice import FRAME_SAMPLES, SAMPLE_RATE, ReceiverStats, seq_delta


def read_wav(path: Path) -> array[int]:
    """The samples of a 16-bit WAV as 48 kHz mono."""
    try:
        with wave.open(str(path), "rb") as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        raise InvalidRequest(f"cannot read {path}: {exc}", code="bad_wav") from exc
    if width != 2:
        raise InvalidRequest(f"{path}: only 16-bit WAV files are supported", code="bad_wav")
    samples = array("h")
    samples.frombytes(raw)
    if channels > 1:  # mix down
        samples = array(
            "h",
            (
                sum(samples[i : i + channels]) // channels
                for i in range(0, len(samples) - channels + 1, channels)
            ),
        )
    return resample(samples, rate) if rate != SAMPLE_RATE else samples


def resample(samples: array[int], rate: int) -> array[int]:
    """Linear interpolation from ``rate`` to 48 kHz (good enough for a test tool)."""
    if not samples:
        return array("h")
    n = int(len(samples) * SAMPLE_RATE / rate)
    step = rate / SAMPLE_RATE
    out = array("h", bytes(2 * n))
    last = len(samples) - 1
    for i in range(n):
        pos = i * step
        j = int(pos)
        frac = pos - j
        a = samples[min(j, last)]
        b = samples[min(j + 1, last)]
        out[i] = int(a + (b - a) * frac)
    return out


def frames_of(samples: array[int]) -> list[bytes]:
    """20 ms PCM payloads (the last one padded with silence)."""
    out = []
    for start in range(0, len(samples), FRAME_SAMPLES):
        chunk = samples[start : start + FRAME_SAMPLES]
        if len(chunk) < FRAME_SAMPLES:
            chunk.extend([0] * (FRAME_SAMPLES - len(chunk)))
        out.append(chunk.tobytes())
    return out


def write_wav(path: Path, samples: array[int]) -> None:
    """Write 48 kHz mono 16-bit samples."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(samples.tobytes())


def tone_sweep(seconds: float, start_hz: float = 300.0, end_hz: float = 3000.0) -> array[int]:
    """A linear sine sweep at 48 kHz (test signal: every lag looks different)."""
    n = int(seconds * SAMPLE_RATE)
    k = (end_hz - start_hz) / seconds
    return array(
        "h",
        (
            int(12000 * math.sin(2 * math.pi * (start_hz * t + k * t * t / 2)))
            for t in (i / SAMPLE_RATE for i in range(n))
        ),
    )


def correlation(a: array[int], b: array[int], max_lag: int = 0, step: int = 1) -> float:
    """The best normalized cross-correlation of ``a`` and ``b`` over lags ±max_lag."""
    best = -1.0
    for lag in range(-max_lag, max_lag + 1, step):
        x = a[max(0, lag) :]
        y = b[max(0, -lag) :]
        n = min(len(x), len(y))
        if n == 0:
            continue
        dot = sum(x[i] * y[i] for i in range(n))
        nx = math.sqrt(sum(v * v for v in x[:n]))
        ny = math.sqrt(sum(v * v for v in y[:n]))
        if nx and ny:
            best = max(best, dot / (nx * ny))
    return best


def best_lag(a: array[int], b: array[int], max_lag: int, window: int = 4800) -> int:
    """The lag of ``b`` behind ``a`` (samples, ±max_lag) that matches a window of ``a``
    from its middle best (a codec's delay, e.g. Opus's 6.5 ms pre-skip)."""
    mid = max(max_lag, len(a) // 2 - window // 2)
    x = a[mid : mid + window]

    def score(lag: int) -> float:
        y = b[mid + lag : mid + lag + len(x)]
        return float(sum(x[i] * y[i] for i in range(min(len(x), len(y)))))

    coarse = max(range(-max_lag, max_lag + 1, 4), key=score)
    return max(range(coarse - 4, coarse + 5), key=score)


def shifted(samples: array[int], lag: int) -> array[int]:
    """``samples`` moved ``lag`` samples earlier (later if negative)."""
    return samples[lag:] if lag >= 0 else array("h", bytes(-2 * lag)) + samples


class Recording:
    """What one listener heard: frames per sender on their timeline, and their stats."""

    def __init__(self) -> None:
        self.tracks: dict[int, dict[int, bytes]] = {}  # sender -> timestamp offset -> pcm
        self.first: dict[int, int] = {}
        self.stats: dict[int, ReceiverStats] = {}
        self.undecodable = 0  # frames of a codec this recorder cannot play

    def add(self, sender: int, timestamp: int, seq: int, pcm: bytes, arrival: float) -> None:
        """One frame received at ``arrival`` seconds (loop clock)."""
        stats = self.stats.setdefault(sender, ReceiverStats())
        stats.observe(seq, timestamp, arrival * SAMPLE_RATE)
        first = self.first.setdefault(sender, timestamp)
        offset = seq_delta(timestamp, first)
        if offset >= 0:  # before the first frame heard: not on the timeline
            self.tracks.setdefault(sender, {})[offset] = pcm

    def mix(self) -> array[int]:
        """Every sender's track summed (clipped), silence where frames are missing."""
        length = 0
        for track in self.tracks.values():
            if track:
                end = max(track)
                length = max(length, end + len(track[end]) // 2)
        total = [0] * length
        for track in self.tracks.values():
            for offset, pcm in track.items():
                chunk = array("h")
                chunk.frombytes(pcm[: len(pcm) - len(pcm) % 2])
                for i, v in enumerate(chunk):
                    total[offset + i] += v
        return array("h", (max(-32768, min(32767, v)) for v in total))

    def summary(self) -> dict[str, float | int]:
        """Frames received, lost (by seq), late, and jitter in ms (worst sender)."""
        stats = list(self.stats.values())
        return {
            "senders": len(stats),
            "received": sum(s.received for s in stats),
            "lost": sum(s.lost for s in stats),
            "late": sum(s.late for s in stats),
            "jitter_ms": round(max((s.jitter_ms for s in stats), default=0.0), 3),
            "undecodable": self.undecodable,
        }
