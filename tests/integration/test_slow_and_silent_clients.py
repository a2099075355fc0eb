"""Clients that stop reading or stop answering are released promptly: their
connection, their buffered bytes and their presence do not outlive them."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nodechat.client import ChatClient
from nodechat.server.node import ChatNode
from nodechat.server.socket_server import CLOSE_TIMEOUT
from tests.integration.conftest import make_settings

PASSWORD = "a long passphrase"


async def _until(condition: Callable[[], bool], what: str, within: float = 30.0) -> None:
    """Poll ``condition``; ``within`` bounds a hang on a busy machine, it times nothing."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"still waiting for: {what}")
        await asyncio.sleep(0.05)


async def _account(node: ChatNode, name: str, **connect: Any) -> tuple[ChatClient, str]:
    client = await ChatClient.connect(node.url, **connect)
    tokens = await client.request(
        "auth.register", username=name, email=f"{name}@example.test", password=PASSWORD
    )
    ready = await client.authenticate(tokens["access_token"])
    return client, str(ready["user"]["id"])


class Statuses:
    """The presence statuses one client has seen of one user."""

    def __init__(self, client: ChatClient, user_id: str) -> None:
        self.client, self.user_id, self.seen = client, user_id, []

    def __call__(self, status: str) -> bool:
        for e in self.client.drain_events():
            if e.get("event") == "presence" and e["data"]["user_id"] == self.user_id:
                self.seen.append(e["data"]["status"])
        return status in self.seen


async def _group_of_two(
    node: ChatNode, **ann_connect: Any
) -> tuple[ChatClient, ChatClient, str, str]:
    bob, _ = await _account(node, "bob")
    group = await bob.request("group.create", name="Pair")
    invite = await bob.request("invite.create", group_id=group["id"], max_uses=1)
    ann, ann_id = await _account(node, "ann", **ann_connect)
    await ann.request("group.join", code=invite["code"])
    watched = await bob.request("presence.subscribe", user_ids=[ann_id])
    assert watched == {"presence": {ann_id: "online"}}
    return bob, ann, ann_id, group["channels"][0]["id"]


async def test_a_client_that_stops_reading_is_dropped_released_and_offline(
    tmp_path: Path,
) -> None:
    node = ChatNode(
        make_settings(
            tmp_path / "d",
            send_buffer=64 * 1024,
            ping_interval=600.0,  # the keepalive must not be what ends it
            ping_timeout=600.0,
            requests_per_second=5000.0,
            request_burst=5000,
            account_requests_per_second=5000.0,
            account_request_burst=5000,
        )
    )
    await node.start()
    try:
        sock = socket.socket()  # ann's socket takes almost nothing in
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", node.port))
        bob, ann, ann_id, channel = await _group_of_two(node, sock=sock)
        statuses = Statuses(bob, ann_id)  # bob follows ann's presence
        ann.ws.transport.pause_reading()  # and now she stops reading altogether
        assert len(node.endpoint.connections) == 2
        body = "x" * 4000
        for batch in range(4):  # ~8 MB fanned out to ann: past the kernel's buffers too
            await asyncio.gather(
                *(
                    bob.request(
                        "message.send", conversation=channel, body=body, nonce=f"{batch}.{i}"
                    )
                    for i in range(500)
                )
            )
        await _until(lambda: len(node.endpoint.connections) == 1, "ann's connection released")
        assert node.endpoint.hub.connections == 1
        assert [c.state.identity.user_id for c in node.endpoint.connections if c.state.identity]
        await _until(lambda: statuses("offline"), "ann offline for bob")
        await bob.close()
        ann.ws.transport.abort()
    finally:
        await node.stop()


async def test_an_unresponsive_client_is_closed_at_the_ping_timeout_and_goes_offline(
    tmp_path: Path,
) -> None:
    node = ChatNode(make_settings(tmp_path / "d", ping_interval=0.5, ping_timeout=0.5))
    await node.start()
    try:
        bob, ann, ann_id, _ = await _group_of_two(node)
        statuses = Statuses(bob, ann_id)  # bob follows ann's presence
        # once the ping times out, the server waits CLOSE_TIMEOUT for the peer's close
        # frame (websockets' default is 10 s): offline follows the ping timeout
        assert {c.ws.close_timeout for c in node.endpoint.connections} == {CLOSE_TIMEOUT}
        ann.ws.transport.pause_reading()  # ann's machine vanishes: nothing is answered
        await _until(lambda: len(node.endpoint.connections) == 1, "ann's connection released")
        await _until(lambda: statuses("offline"), "ann offline for bob")
        await bob.close()
        ann.ws.transport.abort()
    finally:
        await node.stop()
