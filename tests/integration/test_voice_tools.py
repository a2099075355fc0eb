"""``nodechat voice send`` into a channel, ``nodechat voice record`` out of it: the
recording matches the source (normalized cross-correlation at least
:data:`MIN_CORRELATION`, frame loss under 1 %), on one node and across two nodes
over Redis. The tools run as real processes; the nodes run in the test's loop."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from nodechat.chatclient import opus
from nodechat.chatclient.audio import (
    best_lag,
    correlation,
    read_wav,
    shifted,
    tone_sweep,
    write_wav,
)
from nodechat.client import ChatClient
from nodechat.config import load_settings
from nodechat.protocol.voice import FRAME_SAMPLES
from nodechat.server.node import ChatNode

pytestmark = pytest.mark.timeout(120)

MIN_CORRELATION = 0.9  # docs/voice.md: PCM over loopback is near 1.0, Opus 64 kbit/s ~0.99
MAX_LOSS = 0.01
SECONDS = 2.0
PASSWORD = "long password"


def _node(data_dir: Path, bus: str = "memory://", prefix: str = "nodechat:") -> ChatNode:
    return ChatNode(
        load_settings(
            env={},
            overrides={
                "serve": {
                    "host": "127.0.0.1",
                    "port": 0,
                    "api_port": 0,
                    "data_dir": data_dir,
                    "bus": bus,
                },
                "node": {"bus_prefix": prefix},
            },
        )
    )


async def _account(node: ChatNode, name: str) -> ChatClient:
    client = await ChatClient.connect(node.url)
    tokens = await client.request(
        "auth.register", username=name, email=f"{name}@example.test", password=PASSWORD
    )
    await client.authenticate(tokens["access_token"])
    return client


async def _tool(url: str, username: str, *args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "NODECHAT_PASSWORD": PASSWORD, "PYTHONUNBUFFERED": "1"}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "nodechat",
        "voice",
        *args,
        "--server",
        url,
        "--username",
        username,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _send_and_record(
    tmp_path: Path, send_url: str, record_url: str, codec: str = "pcm"
) -> dict[str, Any]:
    source = tmp_path / "sweep.wav"
    write_wav(source, tone_sweep(SECONDS))
    out = tmp_path / "heard.wav"
    recorder = await _tool(
        record_url, "rbob", "record", "--channel", "room", "--out", str(out), "--idle", "1.5"
    )
    assert recorder.stderr is not None
    line = await asyncio.wait_for(recorder.stderr.readline(), 60)
    assert b"recording" in line, line
    sender = await _tool(
        send_url, "rann", "send", "--channel", "room", "--codec", codec, str(source)
    )
    sent_out, sent_err = await asyncio.wait_for(sender.communicate(), 60)
    assert sender.returncode == 0, sent_err.decode()
    rec_out, rec_err = await asyncio.wait_for(recorder.communicate(), 60)
    assert recorder.returncode == 0, rec_err.decode()
    sent = json.loads(sent_out)["sent"]
    assert json.loads(sent_out)["codec"] == codec
    report: dict[str, Any] = json.loads(rec_out)
    expected = int(SECONDS * 48_000 / FRAME_SAMPLES)
    assert sent == expected
    assert report["senders"] == 1
    assert report["lost"] / sent < MAX_LOSS
    assert report["received"] >= sent * (1 - MAX_LOSS)
    original, heard = read_wav(source), read_wav(out)
    # align by the codec's delay and up to two frames lost at the start, then compare
    lag = best_lag(original, heard, max_lag=2 * FRAME_SAMPLES + 400)
    score = correlation(original, shifted(heard, lag))
    assert score >= MIN_CORRELATION, (score, lag)
    report["correlation"], report["lag"] = score, lag
    return report


async def _voice_room(ann: ChatClient, bob: ChatClient) -> None:
    group = await ann.request("group.create", name="Studio")
    await ann.request("channel.create", group_id=group["id"], name="room", kind="voice")
    invite = await ann.request("invite.create", group_id=group["id"])
    await bob.request("group.join", code=invite["code"])


async def test_send_and_record_on_one_node(tmp_path: Path) -> None:
    node = _node(tmp_path / "data")
    await node.start()
    try:
        ann, bob = await _account(node, "rann"), await _account(node, "rbob")
        await _voice_room(ann, bob)
        report = await _send_and_record(tmp_path, node.url, node.url)
        assert report["jitter_ms"] >= 0
        await ann.close()
        await bob.close()
    finally:
        await node.stop()


@pytest.mark.skipif(not opus.available(), reason="PyAV (the voice extra) is not installed")
async def test_send_and_record_opus_on_one_node(tmp_path: Path) -> None:
    node = _node(tmp_path / "data")
    await node.start()
    try:
        ann, bob = await _account(node, "rann"), await _account(node, "rbob")
        await _voice_room(ann, bob)
        report = await _send_and_record(tmp_path, node.url, node.url, codec="opus")
        assert report["undecodable"] == 0
        assert report["lag"] != 0  # Opus delays the signal (pre-skip): it really was Opus
        await ann.close()
        await bob.close()
    finally:
        await node.stop()


async def test_send_and_record_across_two_nodes(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    one = _node(tmp_path / "data", redis_url, redis_prefix)
    two = _node(tmp_path / "data", redis_url, redis_prefix)
    await one.start()
    await two.start()
    try:
        ann, bob = await _account(one, "rann"), await _account(two, "rbob")
        await _voice_room(ann, bob)
        report = await _send_and_record(tmp_path, one.url, two.url)
        # the frames went through the media bus: node two wrote them, node one did not
        written = f'voice_frames_total{{direction="out"}} {float(report["received"])}'
        assert written in two.metrics.render().decode()
        assert 'voice_frames_total{direction="out"}' not in one.metrics.render().decode()
        await ann.close()
        await bob.close()
    finally:
        await two.stop()
        await one.stop()
