"""Bad input never crashes anything: error frames with stable codes, documented closes."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import orjson
import pytest

from nodechat.client import ChatClient, RequestFailed
from nodechat.server.node import ChatNode
from tests.integration.conftest import Signup, make_settings


async def next_error(client: ChatClient) -> dict:
    for _ in range(100):
        if client.errors:
            return client.errors.pop(0)
        await asyncio.sleep(0.01)
    raise AssertionError("no error frame arrived")


async def raw_reply(client: ChatClient, frame: str) -> dict:
    """Send a raw frame whose id is 'r' and return the reply."""
    future: asyncio.Future = asyncio.get_running_loop().create_future()
    client._pending["r"] = future
    await client.send_raw(frame)
    return await asyncio.wait_for(future, 5)


async def test_each_class_of_bad_frame_gets_a_coded_error(
    node: ChatNode, signup: Signup, caplog: pytest.LogCaptureFixture
) -> None:
    ann = await signup("ann")
    c = ann.client
    caplog.set_level(logging.INFO)
    await c.send_raw("{not json")
    assert (await next_error(c))["code"] == "bad_frame"
    await c.send_raw('"just a string"')
    assert (await next_error(c))["code"] == "bad_frame"
    await c.send_raw(b"\x00\x01binary")  # not a voice frame (docs/voice.md)
    assert (await next_error(c))["code"] == "voice_frame_truncated"

    cases = [
        ('{"id": "r", "op": "no.such.op"}', "unknown_op"),
        (
            '{"id": "r", "op": "message.send", "data": {"conversation": 5, "body": "x", '
            '"nonce": "n"}}',
            "invalid_request",
        ),
        (
            '{"id": "r", "op": "message.send", "data": {"body": "x", "nonce": "n"}}',
            "invalid_request",
        ),
        ('{"id": "r", "op": "ping", "data": {}, "extra": true}', "invalid_request"),
        (
            '{"id": "r", "op": "group.get", "data": {"group_id": "g", "admin": true}}',
            "invalid_request",
        ),
    ]
    for frame, code in cases:
        reply = await raw_reply(c, frame)
        assert reply["ok"] is False and reply["error"]["code"] == code, frame
    # still perfectly usable after all that
    ack = await c.request("message.send", conversation=ann.notes, body="still here", nonce="n")
    assert ack["seq"] == 1
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_rejected_send_writes_nothing(signup: Signup) -> None:
    ann = await signup("ann")
    c = ann.client
    for data in [
        {"body": "", "nonce": "a"},
        {"body": "x" * 4001, "nonce": "b"},
        {"body": "   \n ", "nonce": "c"},
        {"body": "ok", "nonce": "d", "reply_to": "m_does_not_exist"},
        {"body": "ok", "nonce": "n" * 65},
    ]:
        with pytest.raises(RequestFailed):
            await c.request("message.send", conversation=ann.notes, **data)
    ack = await c.request("message.send", conversation=ann.notes, body="x" * 4000, nonce="e")
    assert ack["seq"] == 1  # no seq was consumed by the refused sends
    history = await c.request("message.history", conversation=ann.notes)
    assert len(history["messages"]) == 1


async def test_oversize_frame_closes_with_1009(signup: Signup) -> None:
    ann = await signup("ann")
    big = orjson.dumps(
        {
            "id": 1,
            "op": "message.send",
            "data": {"conversation": ann.notes, "body": "x" * 70_000, "nonce": "big"},
        }
    ).decode()
    await ann.client.send_raw(big)
    await asyncio.wait_for(ann.client.ws.wait_closed(), 5)
    assert ann.client.ws.close_code == 1009


async def test_request_flood_is_limited_then_closed(tmp_path: Path) -> None:
    server = ChatNode(make_settings(tmp_path / "d", requests_per_second=5.0, request_burst=5))
    await server.start()
    try:
        c = await ChatClient.connect(server.url)
        replies = await asyncio.gather(
            *(c.request_frame("ping", timeout=10) for _ in range(400)), return_exceptions=True
        )
        await asyncio.wait_for(c.ws.wait_closed(), 5)
        assert c.ws.close_code == 4008
        limited = [r["error"] for r in replies if isinstance(r, dict) and not r["ok"]]
        assert len(limited) >= 150  # refusals are replies to their request ids
        assert all(e["code"] == "rate_limited" and e["retry_after"] > 0 for e in limited)
        # the server itself is fine
        other = await ChatClient.connect(server.url)
        assert await other.request("ping") == {"pong": True}
        await other.close()
    finally:
        await server.stop()


async def test_authentication_deadline(tmp_path: Path) -> None:
    server = ChatNode(make_settings(tmp_path / "d", auth_deadline=0.3))
    await server.start()
    try:
        c = await ChatClient.connect(server.url)
        assert c.hello["protocol"] == 1
        await asyncio.wait_for(c.ws.wait_closed(), 5)
        assert c.ws.close_code == 4002
    finally:
        await server.stop()


async def test_origin_allowlist_and_http_paths(tmp_path: Path) -> None:
    server = ChatNode(make_settings(tmp_path / "d", allowed_origins=("https://chat.example",)))
    await server.start()
    try:
        ok = await ChatClient.connect(server.url, origin="https://chat.example")
        await ok.close()
        with pytest.raises(Exception, match="403"):
            await ChatClient.connect(server.url, origin="https://evil.example")
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        writer.close()
    finally:
        await server.stop()


async def test_two_origin_headers_are_refused_with_400_not_a_crash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = ChatNode(make_settings(tmp_path / "d", allowed_origins=("https://chat.example",)))
    await server.start()
    try:
        for origins in (
            ("https://chat.example", "https://chat.example"),
            ("https://chat.example", "https://evil.example"),
        ):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(
                b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                + b"".join(b"Origin: " + o.encode() + b"\r\n" for o in origins)
                + b"\r\n"
            )
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 400"), head
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            body = orjson.loads(await reader.readexactly(length))
            assert body["error"]["code"] == "bad_origin"
            writer.close()
        ok = await ChatClient.connect(server.url, origin="https://chat.example")
        await ok.close()
    finally:
        await server.stop()
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


async def test_per_account_limit_spans_connections(tmp_path: Path) -> None:
    server = ChatNode(
        make_settings(tmp_path / "d", account_requests_per_second=1.0, account_request_burst=6)
    )
    await server.start()
    try:
        first = await ChatClient.connect(server.url)
        tokens = await first.request(
            "auth.register", username="ann", email="a@example.test", password="long enough pw"
        )
        await first.authenticate(tokens["access_token"])
        second = await ChatClient.connect(server.url)
        await second.authenticate(tokens["access_token"])
        codes = []
        for client in [first, second] * 5:
            frame = await client.request_frame("ping")  # refusals carry the request id
            codes.append("ok" if frame["ok"] else frame["error"]["code"])
        assert codes.count("rate_limited") >= 3 and codes[:6] == ["ok"] * 6
        await first.close()
        await second.close()
    finally:
        await server.stop()
