"""Voice relay benchmark: relay latency and frames/s on one socket node, and what voice
does to text latency.

Starts ``nodechat serve`` as a subprocess (temporary data dir, memory bus), registers
``channels x speakers`` participants (each a speaker and a listener) plus two text
clients, then:

1. text only (a separate process): one client sends ``--text-rate`` messages/s to a text channel, the other
   receives them; p50/p99 send -> delivery latency;
2. voice + text: every speaker sends a frame every 20 ms (``--payload`` bytes, 160 by
   default: a 64 kbit/s Opus packet), on the frame clock; each frame carries its send
   time (CLOCK_MONOTONIC is shared by the processes of one host), so every listener
   measures relay latency; text is measured as in phase 1 at the same time.

Prints frames sent, relayed (received by listeners) and dropped as the server counts
them (/metrics), relay p50/p99, and text p50/p99 in both phases.

    python benchmarks/voice_relay.py                       # 10 channels x 5 speakers, 10 s
    python benchmarks/voice_relay.py --channels 2 --speakers 3 --duration 5 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from nodechat.client import ChatClient
from nodechat.protocol.voice import KIND_PCM, MediaFrame, decode_media, encode_media

PASSWORD = "bench password"


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) in milliseconds of values in seconds."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    """``nodechat serve`` on free ports; (process, ws url, api url)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NODECHAT_")}
    log = data_dir / "server.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nodechat", "serve", "--port", "0", "--api-port", "0",
         "--data-dir", str(data_dir / "data"), "--log-level", "warning"],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    end = time.monotonic() + 60
    while time.monotonic() < end:
        text = log.read_text(errors="replace")
        ws = re.search(r"serving on (ws://\S+)", text)
        api = re.search(r"(http://127\.0\.0\.1:\d+)", text)
        if ws and api:
            return proc, ws.group(1), api.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start:\n" + log.read_text(errors="replace"))


def scrape(api: str) -> dict[str, float]:
    """The voice counters of /metrics."""
    with urllib.request.urlopen(f"{api}/metrics", timeout=5) as response:  # noqa: S310
        text = response.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("nodechat_voice_frames") and "_created" not in line:
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


async def account(url: str, name: str) -> tuple[ChatClient, str]:
    """A registered, authenticated client and its user id."""
    client = await ChatClient.connect(url)
    tokens = await client.request(
        "auth.register", username=name, email=f"{name}@bench.test", password=PASSWORD
    )
    await client.authenticate(tokens["access_token"])
    return client, str(tokens["user"]["id"])


async def text_load(
    sender: ChatClient, receiver: ChatClient, channel: str, rate: float, seconds: float
) -> list[float]:
    """Send ``rate`` messages/s for ``seconds``; send -> delivery latencies."""
    latencies: list[float] = []
    sent_at: dict[str, float] = {}
    done = asyncio.Event()
    total = int(rate * seconds)

    async def receive() -> None:
        while len(latencies) < total:
            try:
                event = await receiver.next_event("message.created", timeout=10)
            except TimeoutError:
                break
            body = event["data"]["body"]
            if body in sent_at:
                latencies.append(time.monotonic() - sent_at.pop(body))
        done.set()

    task = asyncio.create_task(receive())
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in range(total):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        body = f"t{i}-{secrets.token_hex(3)}"
        sent_at[body] = time.monotonic()
        await sender.request("message.send", conversation=channel, body=body, nonce=body)
    await asyncio.wait_for(done.wait(), 15)
    await task
    return latencies


async def text_client(url: str, code: str, channel: str, rate: float, seconds: float) -> None:
    """``--text-client``: the text pair in a process of its own (so the voice generator's
    loop does not delay it); prints "ready", waits for a line on stdin, then the latencies."""
    tag = secrets.token_hex(3)
    sender, _ = await account(url, f"tx{tag}")
    receiver, _ = await account(url, f"rx{tag}")
    for client in (sender, receiver):
        await client.request("group.join", code=code)
        client.drain_events()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    latencies = await text_load(sender, receiver, channel, rate, seconds)
    print(json.dumps(latencies), flush=True)
    await sender.close()
    await receiver.close()


async def text_phase(url: str, code: str, channel: str, args: argparse.Namespace) -> Any:
    """Start a text client process; a coroutine that runs its load and returns latencies."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--text-client", url, code, channel,
        "--text-rate", str(args.text_rate), "--duration", str(args.duration),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdin is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    assert line.strip() == b"ready", line

    async def go() -> list[float]:
        assert proc.stdout is not None and proc.stdin is not None
        proc.stdin.write(b"go\n")
        await proc.stdin.drain()
        out = await proc.stdout.readline()
        await proc.wait()
        latencies: list[float] = json.loads(out)
        return latencies

    return go


async def speak(client: ChatClient, handle: int, payload: int, seconds: float) -> int:
    """Send a frame every 20 ms on the frame clock; each carries its send time."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    frames = int(seconds * 50)
    filler = b"\x00" * max(0, payload - 8)
    for seq in range(frames):
        delay = start + seq * 0.02 - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        stamp = struct.pack("!d", time.monotonic())
        frame = MediaFrame(KIND_PCM, handle, 0, seq, seq * 960, stamp + filler)
        await client.send_raw(encode_media(frame))
    return frames


async def listen(client: ChatClient, latencies: list[float], stop: asyncio.Event) -> None:
    """Collect relay latencies until ``stop`` and the queue is empty."""
    while not (stop.is_set() and client.media.empty()):
        try:
            arrival_loop, data = await asyncio.wait_for(client.media.get(), 0.5)
        except TimeoutError:
            continue
        # the client stamps each frame as it comes off the socket, on the loop clock
        # (time.monotonic, like the sender's stamp): the listener's own delay is not counted
        (sent,) = struct.unpack_from("!d", decode_media(data).payload)
        latencies.append(arrival_loop - sent)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nodechat-voice-bench-") as tmp:
        proc, url, api = start_server(Path(tmp))
        try:
            return await measure(args, url, api, proc.pid)
        finally:
            proc.terminate()
            proc.wait(30)


async def measure(args: argparse.Namespace, url: str, api: str, pid: int) -> dict[str, Any]:
    owner, _ = await account(url, "owner")
    group = await owner.request("group.create", name="Bench")
    text_channel = group["channels"][0]["id"]
    code = (await owner.request("invite.create", group_id=group["id"]))["code"]
    rooms = [
        (await owner.request("channel.create", group_id=group["id"], name=f"v{i}", kind="voice"))[
            "id"
        ]
        for i in range(args.channels)
    ]
    speakers: list[tuple[ChatClient, int]] = []
    for c, room in enumerate(rooms):
        for s in range(args.speakers):
            client, _ = await account(url, f"s{c}x{s}")
            await client.request("group.join", code=code)
            joined = await client.request("voice.join", channel=room)
            speakers.append((client, joined["channel_handle"]))
    for client, _ in [*speakers, (owner, 0)]:
        client.drain_events()

    quiet = await (await text_phase(url, code, text_channel, args))()
    loud_phase = await text_phase(url, code, text_channel, args)
    before = scrape(api)
    relay: list[float] = []
    stop = asyncio.Event()
    listeners = [asyncio.create_task(listen(c, relay, stop)) for c, _ in speakers]
    started = time.monotonic()
    server_cpu, own_cpu = cpu_seconds(pid), time.process_time()
    voice = asyncio.gather(*(speak(c, h, args.payload, args.duration) for c, h in speakers))
    loud = await loud_phase()
    sent = sum(await voice)
    elapsed = time.monotonic() - started
    server_cpu = cpu_seconds(pid) - server_cpu
    own_cpu = time.process_time() - own_cpu
    stop.set()
    await asyncio.gather(*listeners)
    after = scrape(api)
    for client, _ in [*speakers, (owner, 0)]:
        await client.close()
    counters = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    dropped = sum(v for k, v in counters.items() if "dropped" in k)
    return {
        "config": vars(args),
        "frames_sent": sent,
        "frames_relayed": len(relay),
        "frames_relayed_per_s": round(len(relay) / elapsed, 1),
        "frames_expected": sent * (args.speakers - 1),
        "frames_dropped": dropped,
        # one core = 100; the generator (this process) receives every relayed frame too
        "server_cpu_percent": round(100 * server_cpu / elapsed, 1),
        "generator_cpu_percent": round(100 * own_cpu / elapsed, 1),
        "server_counters": counters,
        "relay_ms": {
            "p50": round(percentile(relay, 50), 2),
            "p99": round(percentile(relay, 99), 2),
        },
        "text_ms_without_voice": {
            "p50": round(percentile(quiet, 50), 2),
            "p99": round(percentile(quiet, 99), 2),
        },
        "text_ms_with_voice": {
            "p50": round(percentile(loud, 50), 2),
            "p99": round(percentile(loud, 99), 2),
        },
    }


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--speakers", type=int, default=5, help="per channel (all also listen)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--payload", type=int, default=160, help="bytes of audio per frame")
    parser.add_argument("--text-rate", type=float, default=20.0, help="text messages/s")
    parser.add_argument("--json", action="store_true", help="JSON on stdout")
    parser.add_argument("--text-client", nargs=3, help=argparse.SUPPRESS)  # url code channel
    args = parser.parse_args()
    if args.text_client:
        url, code, channel = args.text_client
        asyncio.run(text_client(url, code, channel, args.text_rate, args.duration))
        return
    report = asyncio.run(run(args))
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"voice relay: {args.channels} channels x {args.speakers} speakers, "
        f"{args.duration:g} s, {args.payload}-byte frames\n"
        f"  frames sent {report['frames_sent']}, relayed {report['frames_relayed']} "
        f"of {report['frames_expected']} ({report['frames_relayed_per_s']}/s), "
        f"dropped by the server {report['frames_dropped']:g}\n"
        f"  CPU (one core = 100 %): server {report['server_cpu_percent']} %, "
        f"generator {report['generator_cpu_percent']} %\n"
        f"  relay latency p50 {report['relay_ms']['p50']} ms, p99 {report['relay_ms']['p99']} ms\n"
        f"  text p50/p99 without voice {report['text_ms_without_voice']['p50']}/"
        f"{report['text_ms_without_voice']['p99']} ms, with voice "
        f"{report['text_ms_with_voice']['p50']}/{report['text_ms_with_voice']['p99']} ms"
    )


if __name__ == "__main__":
    main()
