"""The voice frame codec and the receiver's loss/jitter bookkeeping (no I/O)."""

from __future__ import annotations

import struct

import pytest

from nodechat.protocol.voice import (
    HEADER_SIZE,
    KIND_OPUS,
    KIND_PCM,
    MAX_PAYLOAD,
    MediaFrame,
    ReceiverStats,
    VoiceFrameError,
    decode_media,
    encode_media,
    next_handle,
    restamp,
    seq_delta,
)


def test_encode_decode_round_trip() -> None:
    frame = MediaFrame(KIND_PCM, 7, 3, 2**32 - 1, 123_456, b"\x01\x02" * 960)
    data = encode_media(frame)
    assert len(data) == HEADER_SIZE + 1920
    assert data[:2] == b"\x01\x02"  # version 1, kind 2
    assert decode_media(data) == frame
    opus = MediaFrame(KIND_OPUS, 1, 0, 0, 0, b"x")
    assert decode_media(encode_media(opus)) == opus


def test_restamp_replaces_only_the_handles() -> None:
    data = encode_media(MediaFrame(KIND_PCM, 7, 0, 9, 960, b"abc"))
    out = decode_media(restamp(data, 2, 5))
    assert (out.channel, out.sender, out.seq, out.timestamp, out.payload) == (2, 5, 9, 960, b"abc")


def _header(version: int = 1, kind: int = KIND_PCM, channel: int = 1) -> bytes:
    return struct.pack("!BBHHII", version, kind, channel, 0, 1, 2)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "voice_frame_truncated"),
        (b"\x01\x02\x00", "voice_frame_truncated"),
        (_header()[:-1], "voice_frame_truncated"),
        (_header(version=2) + b"x", "voice_frame_version"),
        (_header(version=0) + b"x", "voice_frame_version"),
        (_header(kind=0) + b"x", "voice_frame_kind"),
        (_header(kind=9) + b"x", "voice_frame_kind"),
        (_header(), "voice_frame_empty"),
        (_header() + b"x" * (MAX_PAYLOAD + 1), "voice_frame_too_large"),
        (_header(channel=0) + b"x", "voice_frame_channel"),
        (b'{"id": 1, "op": "ping"}', "voice_frame_version"),  # JSON sent as binary
    ],
)
def test_every_malformed_frame_has_a_code(data: bytes, code: str) -> None:
    with pytest.raises(VoiceFrameError) as info:
        decode_media(data)
    assert info.value.code == code
    assert info.value.to_dict()["message"]


def test_largest_payload_is_accepted() -> None:
    assert len(decode_media(_header() + b"x" * MAX_PAYLOAD).payload) == MAX_PAYLOAD


def test_handles_wrap_and_skip_zero() -> None:
    assert next_handle(0) == 1
    assert next_handle(1) == 2
    assert next_handle(0xFFFF) == 1


def test_seq_delta_wraps() -> None:
    assert seq_delta(5, 3) == 2
    assert seq_delta(3, 5) == -2
    assert seq_delta(1, 2**32 - 1) == 2


def test_stats_count_loss_lateness_and_jitter() -> None:
    stats = ReceiverStats()
    for seq in (0, 1, 2, 4, 5):  # 3 is missing
        assert stats.observe(seq, seq * 960, seq * 960 + 100)
    assert (stats.received, stats.lost, stats.late) == (5, 1, 0)
    assert stats.jitter == 0.0  # constant transit: no jitter
    assert not stats.observe(3, 3 * 960, 6 * 960)  # arrives after 5: late, no longer lost
    assert (stats.received, stats.lost, stats.late) == (6, 0, 1)
    assert stats.jitter > 0


def test_jitter_follows_rfc_3550() -> None:
    stats = ReceiverStats()
    stats.observe(0, 0, 0.0)
    stats.observe(1, 960, 960 + 160.0)  # |D| = 160 samples
    assert stats.jitter == pytest.approx(10.0)  # 160 / 16
    assert stats.jitter_ms == pytest.approx(10.0 / 48)
