"""``nodechat voice send|record``: stream a WAV into a voice channel, or record one.

Both log in like ``nodechat chat`` does: ``--username`` with the password in
``NODECHAT_PASSWORD``, else the refresh token saved in a ``nodechat chat``
profile (``--profile``). The codec is Opus when PyAV is installed (the
``voice`` extra), else PCM (16-bit, 48 kHz, mono, 20 ms frames; docs/voice.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from nodechat.chatclient import opus
from nodechat.chatclient.audio import Recording, frames_of, read_wav, write_wav
from nodechat.chatclient.credentials import Credentials
from nodechat.chatclient.profiles import ProfileStore
from nodechat.client import ChatClient
from nodechat.errors import ChatError, InvalidRequest, Unauthenticated
from nodechat.protocol.voice import (
    FRAME_MS,
    FRAME_SAMPLES,
    KIND_OPUS,
    KIND_PCM,
    MediaFrame,
    VoiceFrameError,
    decode_media,
    encode_media,
)
from nodechat.tui.cli import ProfileOption, ServerOption, UserOption

app = typer.Typer(help="Voice channels from the command line.", no_args_is_help=True)

CODECS = ("auto", "opus", "pcm")
CodecOption = Annotated[
    str,
    typer.Option("--codec", help="opus, pcm, or auto: opus when PyAV is installed."),
]
ChannelOption = Annotated[
    str,
    typer.Option("--channel", help="Voice channel id, or its name in one of your groups."),
]


async def login(server: str, username: str | None, profile: str) -> ChatClient:
    """A connection authenticated as ``username`` (password from the environment) or as
    the profile's saved login."""
    client = await ChatClient.connect(server)
    try:
        password = os.environ.get("NODECHAT_PASSWORD")
        if username and password:
            tokens = await client.request("auth.login", login=username, password=password)
        else:
            creds = Credentials(ProfileStore(), profile)
            saved = creds.saved()
            if saved is None or not saved.refresh_token:
                raise Unauthenticated(
                    "no login: pass --username with NODECHAT_PASSWORD, or log in once "
                    "with `nodechat chat`",
                    code="no_login",
                )
            creds.use_refresh_token(saved.refresh_token)
            tokens = await client.request("auth.refresh", refresh_token=saved.refresh_token)
            creds.adopt(tokens, server, set(saved.muted))
        ready = await client.authenticate(tokens["access_token"])
        client.hello["ready"] = ready
        return client
    except BaseException:
        await client.close()
        raise


def find_channel(ready: dict[str, Any], wanted: str) -> str:
    """The id of the voice channel ``wanted`` names (an id, or a name)."""
    found = [
        c["id"]
        for g in ready.get("groups", [])
        for c in g.get("channels", [])
        if c.get("kind") == "voice" and wanted in (c["id"], c["name"])
    ]
    if not found:
        raise InvalidRequest(f"no voice channel {wanted!r} in your groups", code="no_channel")
    if len(found) > 1:
        raise InvalidRequest(f"{wanted!r} names several channels: use its id", code="ambiguous")
    return str(found[0])


async def join(client: ChatClient, channel: str) -> dict[str, Any]:
    """Join the channel; the join reply."""
    channel_id = find_channel(client.hello["ready"], channel)
    joined: dict[str, Any] = await client.request("voice.join", channel=channel_id)
    return joined


def pick_codec(codec: str) -> int:
    """The frame kind for ``--codec``."""
    if codec not in CODECS:
        raise InvalidRequest(f"--codec must be one of {', '.join(CODECS)}", code="bad_codec")
    if codec == "pcm" or (codec == "auto" and not opus.available()):
        return KIND_PCM
    return KIND_OPUS


async def send_wav(client: ChatClient, channel_handle: int, path: Path, kind: int) -> int:
    """Stream the WAV at real-time pace; how many frames were sent."""
    payloads = frames_of(read_wav(path))
    if kind == KIND_OPUS:
        encoder = opus.OpusEncoder()
        payloads = [p for pcm in payloads for p in encoder.encode(pcm)]
    loop = asyncio.get_running_loop()
    start = loop.time()
    for seq, payload in enumerate(payloads):
        # pace against the frame clock, not sleep(0.02) per frame: no drift builds up
        delay = start + seq * FRAME_MS / 1000 - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = MediaFrame(kind, channel_handle, 0, seq, seq * FRAME_SAMPLES, payload)
        await client.send_raw(encode_media(frame))
    return len(payloads)


async def record(client: ChatClient, seconds: float, idle: float) -> Recording:
    """Collect frames until ``seconds`` pass, or ``idle`` seconds without one after the first."""
    rec = Recording()
    decoders: dict[int, opus.OpusDecoder] = {}
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    heard = False
    while (left := end - loop.time()) > 0:
        wait = min(left, idle) if heard else left
        try:
            arrival, data = await asyncio.wait_for(client.media.get(), wait)
        except TimeoutError:
            if heard:
                break
            continue
        try:
            frame = decode_media(data)
        except VoiceFrameError:
            continue
        heard = True
        pcm = frame.payload
        if frame.kind == KIND_OPUS:
            if not opus.available():
                rec.undecodable += 1
                continue
            decoder = decoders.get(frame.sender)
            if decoder is None:
                decoder = decoders[frame.sender] = opus.OpusDecoder()
            pcm = decoder.decode(frame.payload)
        rec.add(frame.sender, frame.timestamp, frame.seq, pcm, arrival)
    return rec


def _fail(exc: ChatError) -> typer.Exit:
    typer.echo(f"nodechat: {exc.message} ({exc.code})", err=True)
    return typer.Exit(1)


@app.command("send")
def send(
    wav: Annotated[Path, typer.Argument(help="16-bit WAV file (converted to 48 kHz mono).")],
    channel: ChannelOption,
    codec: CodecOption = "auto",
    server: ServerOption = None,
    username: UserOption = None,
    profile: ProfileOption = "default",
) -> None:
    """Join a voice channel and stream a WAV file into it at real-time pace."""

    async def run() -> int:
        kind = pick_codec(codec)
        client = await login(server or "ws://127.0.0.1:7801/", username, profile)
        try:
            joined = await join(client, channel)
            sent = await send_wav(client, joined["channel_handle"], wav, kind)
            # let the last frames leave before the leave (the relay drops nothing in flight)
            await client.request("voice.leave")
            return sent
        finally:
            await client.close()

    try:
        sent = asyncio.run(run())
    except ChatError as exc:
        raise _fail(exc) from None
    typer.echo(
        json.dumps({"sent": sent, "codec": "opus" if pick_codec(codec) == KIND_OPUS else "pcm"})
    )


@app.command("record")
def record_cmd(
    channel: ChannelOption,
    out: Annotated[Path, typer.Option("--out", help="WAV file to write (48 kHz mono).")],
    seconds: Annotated[float, typer.Option("--seconds", help="Record at most this long.")] = 60.0,
    idle: Annotated[
        float, typer.Option("--idle", help="Stop this many seconds after the last frame.")
    ] = 2.0,
    server: ServerOption = None,
    username: UserOption = None,
    profile: ProfileOption = "default",
) -> None:
    """Join a voice channel and record what it hears; print received, lost, late, jitter."""

    async def run() -> Recording:
        client = await login(server or "ws://127.0.0.1:7801/", username, profile)
        try:
            await join(client, channel)
            typer.echo("recording", err=True)  # scripts start the sender after this line
            rec = await record(client, seconds, idle)
            with contextlib.suppress(ChatError):
                await client.request("voice.leave")
            return rec
        finally:
            await client.close()

    try:
        rec = asyncio.run(run())
    except ChatError as exc:
        raise _fail(exc) from None
    write_wav(out, rec.mix())
    typer.echo(json.dumps(rec.summary()))
