"""Joining a busy channel on a split deployment: the joiner's node subscribes it to the group
when its member.joined event arrives, a moment after the join. Every message after the join
(after the channel's ``last_seqs`` in that event) must still reach the joiner live, once and
in order, with no later message needed to reveal a gap."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.e2e.cluster import register, start_split

JOINERS = 6


async def test_a_joiner_gets_every_message_after_its_join(tmp_path: Path, redis_url: str) -> None:
    cluster = start_split(tmp_path / "data", redis=redis_url)
    try:
        ann, _ = await register(cluster.socket("socket2"), "ann")
        group = await ann.request("group.create", name="busy")
        channel = group["channels"][0]["id"]
        invite = await ann.request("invite.create", group_id=group["id"])
        joiners = [
            (await register(cluster.socket("socket1"), f"joiner{i}"))[0] for i in range(JOINERS)
        ]
        sending = True
        last = 0

        async def chatter() -> None:
            nonlocal last
            n = 0
            while sending:
                n += 1
                ack = await ann.request(
                    "message.send", conversation=channel, body=f"m{n}", nonce=str(n)
                )
                last = ack["seq"]
                await asyncio.sleep(0.002)

        sender = asyncio.create_task(chatter())
        for joiner in joiners:  # each joins while messages keep coming
            await asyncio.sleep(0.05)
            await joiner.request("group.join", code=invite["code"])
        await asyncio.sleep(0.3)
        sending = False
        await sender
        last = (await ann.request("message.send", conversation=channel, body="end", nonce="e"))[
            "seq"
        ]

        for index, joiner in enumerate(joiners):
            joined = await joiner.next_event("member.joined", timeout=15)
            head = joined["data"]["last_seqs"][channel]
            got: list[int] = []
            while not got or got[-1] < last:
                event = await joiner.next_event("message.created", timeout=15)
                got.append(event["data"]["seq"])
            assert got == list(range(head + 1, last + 1)), f"joiner{index}"
        await ann.close()
        for joiner in joiners:
            await joiner.close()
    finally:
        cluster.stop()
