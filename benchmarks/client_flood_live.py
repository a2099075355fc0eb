"""The issue's measurement, live: a busy channel that is not open, and the open one.

Starts ``nodechat serve`` and a headless ``nodechat chat`` (Textual's test driver)
for ann, who has a quiet channel open. A separate process floods another channel
of the group at ``--rate`` messages/s for ``--seconds`` (from ``--senders``
accounts, each under the server's per-account limit). Meanwhile,
every half second, a message is posted to the open channel; the script reports
how long each took from its ack to being on ann's screen, and how long after the
flood the busy channel's unread count on screen was right.

    python benchmarks/client_flood_live.py               # 500 msgs/s for 10 s
    python benchmarks/client_flood_live.py --rate 1000 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from client_events import headless_chat, register, scene
from soak import start_serve

from nodechat.client import ChatClient
from nodechat.tui.widgets import MessageList, Sidebar


async def _flood(
    url: str, code: str, channel: str, rate: float, seconds: float, senders: int
) -> None:
    clients = []  # one account each: the server limits an account to 400 requests/s
    for n in range(senders):
        client, _ = await register(url, f"flood{int(time.time())}x{n}")
        await client.request("group.join", code=code)
        clients.append(client)
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # "go"
    per = rate / senders
    start = time.perf_counter()

    async def one(n: int, client: ChatClient) -> None:
        k = 0
        while (due := start + k / per) < start + seconds:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            await client.request(
                "message.send", conversation=channel, body="x" * 100, nonce=f"f{n}-{k}"
            )
            k += 1

    await asyncio.gather(*(one(n, c) for n, c in enumerate(clients)))
    for client in clients:
        await client.close()


def flood_main(argv: list[str]) -> None:
    url, code, channel, rate, seconds, senders = argv
    asyncio.run(_flood(url, code, channel, float(rate), float(seconds), int(senders)))


async def measure(args: argparse.Namespace, url: str) -> dict[str, Any]:
    at = await scene(url, str(int(time.time())))
    bob_client, quiet, busy = at.bob_client, at.quiet, at.busy
    total = int(args.rate * args.seconds)
    # the flooding process starts here, before the app owns the terminal's descriptors
    proc = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--flood",
            url,
            at.invite,
            busy,
            str(args.rate),
            str(args.seconds),
            str(args.senders),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    async with headless_chat(url, at) as (app, pilot):
        view, sidebar = app.main.query_one(MessageList), app.main.query_one(Sidebar)

        def on_screen(needle: str) -> bool:
            return any(
                needle in str(view.get_option_at_index(i).prompt) for i in range(view.option_count)
            )

        def busy_line() -> str:
            return str(sidebar.get_option(busy).prompt)

        cpu0 = time.process_time()
        proc.stdin.write("go\n")
        proc.stdin.flush()
        latencies: list[float] = []
        n = 0
        t_end = time.perf_counter() + args.seconds + 2
        while time.perf_counter() < t_end:
            body = f"probe {n}"
            await bob_client.request("message.send", conversation=quiet, body=body, nonce=body)
            acked = time.perf_counter()
            while not on_screen(body):
                await pilot.pause(0.002)
            latencies.append((time.perf_counter() - acked) * 1000)
            n += 1
            await pilot.pause(0.5)
        await asyncio.to_thread(proc.wait)
        flood_done = time.perf_counter()
        while f" {total}" not in busy_line():
            await pilot.pause(0.01)
        count_lag = time.perf_counter() - flood_done
        result = {
            "rate": args.rate,
            "seconds": args.seconds,
            "messages": total,
            "probes": len(latencies),
            "probe_on_screen_ms_p50": round(statistics.median(latencies), 1),
            "probe_on_screen_ms_max": round(max(latencies), 1),
            "busy_count_right_after_flood_s": round(count_lag, 3),
            "client_cpu_s": round(time.process_time() - cpu0, 2),
            "draws": getattr(app, "draws", None),
        }
    await bob_client.close()
    return result


def main() -> int:
    if sys.argv[1:2] == ["--flood"]:
        flood_main(sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--rate", type=float, default=500.0, help="messages/s into the busy channel"
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--senders", type=int, default=5, help="accounts sharing the rate")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        proc, url = start_serve(Path(data) / "data")
        print(f"serve pid {proc.pid} at {url}", file=sys.stderr)
        try:
            result = asyncio.run(measure(args, url))
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{result['messages']:,} messages at {args.rate:g}/s into a background channel: "
            f"open-channel messages on screen {result['probe_on_screen_ms_p50']} ms after the ack "
            f"(p50 of {result['probes']}), {result['probe_on_screen_ms_max']} ms at worst; the "
            f"busy channel's count right {result['busy_count_right_after_flood_s']} s after the "
            f"flood; client CPU {result['client_cpu_s']} s in {result['draws']} draws"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
