"""The receiving half of live voice, sans I/O: a jitter buffer per sender and the mixer.

Blocks are 20 ms of PCM (960 int16 samples, 48 kHz, mono). :class:`JitterBuffer`
holds one sender's frames by seq and hands them out in order once ``depth`` are
buffered; :func:`mix` sums the senders' blocks for the speaker, clipped to 16 bits.
"""

from __future__ import annotations

from array import array

from nodechat.protocol.voice import FRAME_SAMPLES, PCM_FRAME_BYTES, seq_delta

SILENCE = bytes(PCM_FRAME_BYTES)
JITTER_DEPTH = 3  # frames buffered per sender before playing (60 ms)
JITTER_MAX = 12  # a sender further ahead than this loses its oldest frames


def mix(blocks: list[bytes]) -> bytes:
    """The blocks summed sample by sample, clipped to int16 (silence for none)."""
    if not blocks:
        return SILENCE
    if len(blocks) == 1:
        return blocks[0]
    total = [0] * FRAME_SAMPLES
    for block in blocks:
        samples = array("h")
        samples.frombytes(block[: PCM_FRAME_BYTES - PCM_FRAME_BYTES % 2])
        for i, v in enumerate(samples[:FRAME_SAMPLES]):
            total[i] += v
    return array("h", (max(-32768, min(32767, v)) for v in total)).tobytes()


class JitterBuffer:
    """One sender's frames by seq: played in order after ``depth`` are buffered; a late
    or duplicate frame is dropped, a lost one plays as silence (``pop`` returns None)."""

    def __init__(self, depth: int = JITTER_DEPTH, limit: int = JITTER_MAX) -> None:
        self.depth = depth
        self.limit = limit
        self.frames: dict[int, bytes] = {}
        self.next: int | None = None  # the seq to play next
        self.primed = False
        self.dropped = 0  # late, duplicate, or pushed out by the limit

    def _earliest(self) -> int:
        ref = self.next if self.next is not None else next(iter(self.frames))
        return min(self.frames, key=lambda s: seq_delta(s, ref))

    def push(self, seq: int, pcm: bytes) -> bool:
        """Buffer one frame; False if it came too late or twice."""
        late = self.next is not None and self.primed and seq_delta(seq, self.next) < 0
        if late or seq in self.frames:
            self.dropped += 1
            return False
        self.frames[seq] = pcm
        while len(self.frames) > self.limit:
            del self.frames[self._earliest()]
            self.dropped += 1
            self.next = self._earliest()
        return True

    def pop(self) -> bytes | None:
        """The next frame to play, or None (still buffering, lost, or empty)."""
        if not self.primed:
            if len(self.frames) < self.depth:
                return None
            self.primed = True
            self.next = None
            self.next = self._earliest()
        if not self.frames or self.next is None:
            self.primed = False  # ran dry: buffer again before playing
            return None
        pcm = self.frames.pop(self.next, None)
        self.next = (self.next + 1) & 0xFFFFFFFF
        return pcm
