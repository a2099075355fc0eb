"""Members of one channel sending at a steady clip through a fault, retrying what fails.

Each :class:`Sender` starts a send every ``pause`` seconds without waiting for
the earlier ones (so many are in flight), and retries each send with its own
nonce until it is acked, as docs/protocol.md §7.4b allows for the retryable
codes. Anything else a send gets (another code, no answer within the client's
30 s) is recorded, not retried: the tests assert there is none.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from nodechat.client import ChatClient, RequestFailed
from nodechat.errors import Unavailable

PASSWORD = "long password"
RETRYABLE = ("service_unavailable", "store_unavailable")


async def connect(url: str, name: str) -> tuple[ChatClient, str]:
    """A new account's authenticated connection, and its user id."""
    client = await ChatClient.connect(url)
    tokens = await client.request(
        "auth.register", username=name, email=f"{name}@example.test", password=PASSWORD
    )
    await client.authenticate(tokens["access_token"])
    return client, tokens["user"]["id"]


@dataclass
class Send:
    """One message: its nonce, how often it was sent, and the ack that ended it."""

    nonce: str
    body: str
    attempts: int = 0
    ack: dict[str, Any] | None = None


@dataclass
class Sender:
    """One member sending to ``channel`` on its own connection."""

    name: str
    client: ChatClient
    user_id: str
    channel: str
    sends: dict[str, Send] = field(default_factory=dict)
    refused: Counter[str] = field(default_factory=Counter)  # retryable codes, by code
    unexpected: list[str] = field(default_factory=list)  # what a client must never get
    started: int = 0

    def in_flight(self) -> int:
        """Sends started and not acked yet."""
        return sum(1 for send in self.sends.values() if send.ack is None)

    async def run(self, pause: float, until: asyncio.Event, then: int) -> None:
        """Start a send every ``pause`` s until ``until`` is set, ``then`` more after it;
        return when every one of them has ended."""
        deliveries: list[asyncio.Task[None]] = []
        extra = 0
        while extra < then:
            if until.is_set():
                extra += 1
            deliveries.append(asyncio.create_task(self._deliver(self.started)))
            self.started += 1
            await asyncio.sleep(pause)
        await asyncio.gather(*deliveries)

    async def _deliver(self, k: int) -> None:
        send = self.sends[f"{self.name}-{k}"] = Send(f"{self.name}-{k}", f"{self.name} says {k}")
        while True:
            send.attempts += 1
            try:
                send.ack = await self.client.request(
                    "message.send", conversation=self.channel, body=send.body, nonce=send.nonce
                )
                return
            except RequestFailed as exc:
                if exc.code not in RETRYABLE:
                    self.unexpected.append(f"{send.nonce}: {exc.code}: {exc.message}")
                    return
                self.refused[exc.code] += 1
            except TimeoutError:
                self.unexpected.append(f"{send.nonce}: no answer within the client's 30 s")
                return
            except Unavailable as exc:  # the socket node closed the connection
                self.unexpected.append(f"{send.nonce}: {exc.code}")
                return
            await asyncio.sleep(random.uniform(0.05, 0.3))


async def setup_channel(urls: list[str], senders: int) -> tuple[str, list[Sender], ChatClient]:
    """An owner (who only watches) and ``senders`` members of one group, spread over
    ``urls``; the channel, the senders and the owner's connection."""
    owner, _ = await connect(urls[0], "owner")
    group = await owner.request("group.create", name="load")
    channel: str = group["channels"][0]["id"]
    invite = await owner.request("invite.create", group_id=group["id"])
    members = []
    for i in range(senders):
        client, user_id = await connect(urls[i % len(urls)], f"sender{i}")
        await client.request("group.join", code=invite["code"])
        members.append(Sender(f"sender{i}", client, user_id, channel))
    return channel, members, owner


async def wait_for(condition: Any, what: str, timeout: float = 60.0) -> None:
    """Poll ``condition()`` until it is true; fail after a generous ``timeout``."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not condition():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def history(client: ChatClient, channel: str) -> dict[int, dict[str, Any]]:
    """Every stored message of the channel, by seq (a seq listed twice fails)."""
    stored: dict[int, dict[str, Any]] = {}
    after = 0
    while True:
        page = await client.request("message.history", conversation=channel, after=after, limit=100)
        for message in page["messages"]:
            assert message["seq"] not in stored, f"seq {message['seq']} listed twice"
            stored[message["seq"]] = message
        if not page["has_more"]:
            return stored
        after = page["messages"][-1]["seq"]


async def live_seqs(client: ChatClient, channel: str, last: int) -> list[int]:
    """The seqs of the channel's ``message.created`` events the connection got, up to
    ``last`` (waiting up to 30 s for each)."""
    seen: list[int] = []
    while not seen or seen[-1] < last:
        try:
            event = await client.next_event("message.created", timeout=30)
        except TimeoutError:
            raise AssertionError(
                f"the live stream stopped at {seen[-5:]}, short of {last}"
            ) from None
        if event["data"]["conversation"] == channel:
            seen.append(event["data"]["seq"])
    return seen


async def check_channel(
    senders: list[Sender], watchers: list[ChatClient], reader: ChatClient
) -> dict[int, dict[str, Any]]:
    """The invariants: every send acked once and stored once under its nonce, as acked;
    seqs gap-free; every connected member's live stream has every seq once, in order."""
    problems = [problem for sender in senders for problem in sender.unexpected]
    assert not problems, f"sends that got no retryable answer: {problems[:10]}"
    channel = senders[0].channel
    stored = await history(reader, channel)
    assert sorted(stored) == list(range(1, len(stored) + 1)), "a seq gap"
    by_nonce: dict[tuple[str, str], dict[str, Any]] = {}
    for message in stored.values():
        key = (message["author_id"], message["nonce"])
        assert key not in by_nonce, f"nonce {key} stored twice"
        by_nonce[key] = message
    sends = [(sender.user_id, send) for sender in senders for send in sender.sends.values()]
    assert len(stored) == len(sends), "a message stored that nobody sent, or a send lost"
    for user_id, send in sends:
        assert send.ack is not None
        message = by_nonce[(user_id, send.nonce)]
        assert (message["id"], message["seq"], message["body"]) == (
            send.ack["id"],
            send.ack["seq"],
            send.body,
        ), f"{send.nonce} acked as {send.ack}, stored as {message}"
    last = len(stored)
    for watcher in [*watchers, *(sender.client for sender in senders)]:
        seen = await live_seqs(watcher, channel, last)
        assert seen == list(range(1, last + 1)), f"a live stream with a gap or a repeat: {seen}"
    return stored
