"""How fast ``nodechat chat`` takes in a flood into a conversation that is not open.

Starts ``nodechat serve``, logs a headless ``nodechat chat`` (Textual's test driver)
into it, opens one channel, then feeds N ``message.created`` events for another
channel through ``ChatSession.apply_frame`` -- the path the socket reader uses --
in bursts of ``--burst`` per event-loop turn, as frames read from a busy socket
arrive. It reports events applied per second (state, batching and drawing
included) and how many draws they took, then sends one message into the open
channel and reports how many draws until it is on screen.

``--mode per-event`` draws every change as it comes (what the client did before
batching: the sidebar rebuilt on every event) for comparison in the same run.

    python benchmarks/client_events.py                 # both modes, 20,000 events
    python benchmarks/client_events.py --events 50000 --json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soak import start_serve
from textual.pilot import Pilot

from nodechat.chatclient.profiles import ProfileStore
from nodechat.client import ChatClient
from nodechat.tui.app import AutoLogin, ChatApp
from nodechat.tui.widgets import MessageList, Sidebar

PASSWORD = "correct horse 1"


def wire(conversation: str, seq: int, author: str, body: str) -> dict[str, Any]:
    return {
        "event": "message.created",
        "data": {
            "id": f"m_{conversation[-6:]}_{seq}",
            "conversation": conversation,
            "seq": seq,
            "author_id": author,
            "body": body,
            "created_at": 1_800_000_000_000 + seq,
            "mentions": [],
        },
    }


async def register(url: str, name: str) -> tuple[ChatClient, dict[str, Any]]:
    client = await ChatClient.connect(url)
    tokens = await client.request(
        "auth.register", username=name, email=f"{name}@example.test", password=PASSWORD
    )
    await client.authenticate(tokens["access_token"])
    return client, tokens["user"]


@dataclass
class Scene:
    """Bob's group with a quiet channel and a busy one; ann is a member."""

    bob_client: ChatClient
    bob: dict[str, Any]
    ann: dict[str, Any]
    invite: str
    quiet: str
    busy: str


async def scene(url: str, tag: str) -> Scene:
    bob_client, bob = await register(url, f"bob{tag}")
    ann_client, ann = await register(url, f"ann{tag}")
    group = await bob_client.request("group.create", name="Flood")
    invite = await bob_client.request("invite.create", group_id=group["id"])
    await ann_client.request("group.join", code=invite["code"])
    await ann_client.close()
    busy = (await bob_client.request("channel.create", group_id=group["id"], name="busy"))["id"]
    return Scene(bob_client, bob, ann, invite["code"], group["channels"][0]["id"], busy)


@contextlib.asynccontextmanager
async def headless_chat(url: str, at: Scene) -> AsyncIterator[tuple[ChatApp, Pilot[Any]]]:
    """Ann's ``nodechat chat``, headless, logged in, with the quiet channel open."""
    with tempfile.TemporaryDirectory() as tmp:
        app = ChatApp(
            url,
            "p",
            ProfileStore(Path(tmp)),
            auto=AutoLogin(at.ann["username"], PASSWORD),
            notifier=lambda title, body: None,
        )
        async with app.run_test(size=(120, 36)) as pilot:
            while at.busy not in app.session.state.conversations:
                await pilot.pause(0.05)
            app.open_conversation(at.quiet)
            while not app.session.state.conversations[at.quiet].loaded:
                await pilot.pause(0.05)
            await pilot.pause(0.2)
            yield app, pilot
        await app.session.close()


async def one_mode(url: str, mode: str, events: int, burst: int, tag: str) -> dict[str, Any]:
    at = await scene(url, tag)
    bob, quiet, busy = at.bob, at.quiet, at.busy
    async with headless_chat(url, at) as (app, pilot):
        if mode == "per-event":  # the old way: every change drawn at once
            app.session.listener = app._apply
        sidebar, view = app.main.query_one(Sidebar), app.main.query_one(MessageList)
        draws0, rebuilds0 = app.draws, sidebar.rebuilds + view.rebuilds
        cpu0, t0 = time.process_time(), time.perf_counter()
        for start in range(1, events + 1, burst):
            for seq in range(start, min(start + burst, events + 1)):
                app.session.apply_frame(wire(busy, seq, bob["id"], "x" * 100))
            await asyncio.sleep(0)  # the socket reader yields between reads
        conv = app.session.state.conversations[busy]
        while app._batch is not None:  # what is collected is drawn
            await pilot.pause(0.005)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        draws = app.draws - draws0
        rebuilds = sidebar.rebuilds + view.rebuilds - rebuilds0
        marker = app.draws
        app.session.apply_frame(wire(quiet, 1, bob["id"], "the one that matters"))
        t1 = time.perf_counter()
        texts = lambda: [  # noqa: E731
            str(view.get_option_at_index(i).prompt) for i in range(view.option_count)
        ]
        while not any("the one that matters" in t for t in texts()):
            await pilot.pause(0.001)
        shown_ms = (time.perf_counter() - t1) * 1000
        result = {
            "mode": mode,
            "events": events,
            "burst": burst,
            "seconds": round(elapsed, 3),
            "events_per_s": round(events / elapsed),
            "cpu_s": round(cpu, 3),
            "draws": draws if mode == "batched" else events + 1,
            "full_redraws": rebuilds,
            "unread_shown": conv.unread,
            "kept_messages": len(conv.messages),
            "open_channel_message_after_draws": app.draws - marker if mode == "batched" else 1,
            "open_channel_message_ms": round(shown_ms, 1),
        }
    await at.bob_client.close()
    return result


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as data:
        proc, url = start_serve(Path(data) / "data")
        print(f"serve pid {proc.pid} at {url}", file=sys.stderr)
        try:
            results = []
            for n, mode in enumerate(args.modes):
                results.append(
                    await one_mode(url, mode, args.events, args.burst, f"{n}{int(time.time())}")
                )
                print(results[-1], file=sys.stderr)
            return results
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--burst", type=int, default=100, help="events per event-loop turn")
    parser.add_argument(
        "--modes", nargs="+", default=["batched", "per-event"], choices=["batched", "per-event"]
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            print(
                f"{r['mode']:>9}: {r['events']:,} events in {r['seconds']} s = "
                f"{r['events_per_s']:,}/s, CPU {r['cpu_s']} s, {r['draws']:,} draws, "
                f"{r['full_redraws']} full redraws; open channel's message drawn "
                f"{r['open_channel_message_ms']} ms after it arrived"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
