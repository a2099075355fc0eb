"""Files over the HTTP API: upload (raw body, sniffed, limited), download by membership,
the caller's list, attachments on messages; real HTTP on port 0, local services."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from nodechat.blobs.fs import FsBlobStore
from nodechat.config import FileSettings
from nodechat.server.metrics import Metrics
from nodechat.services.files import LocalFileService
from tests.integration.test_http_api import (
    Gateway,
    Reply,
    User,
    _start,
    build_services,
    check_schema,
    register,
)

MAX_SIZE = 1000
QUOTA = 1500
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    services, store, bus = build_services(tmp_path)
    files = LocalFileService(
        store.files,
        FsBlobStore(tmp_path / "blobs"),
        services.messages,
        FileSettings(max_size=MAX_SIZE, quota=QUOTA),
    )
    services = dataclasses.replace(services, files=files)
    try:
        async for gw in _start(services, Metrics(), max_file_size=MAX_SIZE):
            yield gw
    finally:
        await bus.close()
        await store.close()


def _schema(gw: Gateway, path: str, method: str, status: str) -> dict[str, Any]:
    response = gw.openapi["paths"][path][method]["responses"][status]
    schema: dict[str, Any] = response["content"]["application/json"]["schema"]
    return schema


async def upload(gw: Gateway, user: User, name: str, data: bytes, **headers: str) -> Reply:
    reply = await gw.call(
        "POST", f"/api/v1/files?name={name}", user.token, data=data, headers=headers
    )
    if reply.status == 201:
        check_schema(gw.openapi, _schema(gw, "/api/v1/files", "post", "201"), reply.body)
    return reply


async def download(gw: Gateway, user: User, file_id: str) -> tuple[int, bytes, Any]:
    async with gw.session.get(
        f"{gw.base}/api/v1/files/{file_id}", headers={"Authorization": f"Bearer {user.token}"}
    ) as resp:
        return resp.status, await resp.read(), resp.headers


def _blobs(tmp_path: Path) -> list[Path]:
    return [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]


async def test_upload_sniffs_and_download_streams(gateway: Gateway) -> None:
    gw = gateway
    ann = await register(gw)
    up = await upload(gw, ann, "photo.txt", PNG, **{"Content-Type": "text/html"})
    assert up.status == 201
    assert (up.body["type"], up.body["size"], up.body["name"]) == (
        "image/png",
        len(PNG),
        "photo.txt",
    )
    status, body, headers = await download(gw, ann, up.body["id"])
    assert (status, body) == (200, PNG)
    assert headers["Content-Type"] == "image/png"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Disposition"].startswith('attachment; filename="photo.txt"')
    html = await upload(gw, ann, "page.html", b"<html><script>alert(1)</script></html>")
    assert html.body["type"] == "text/plain; charset=utf-8"  # never text/html from a client
    weird = await upload(gw, ann, "%E2%80%AEtxt.exe%22%0D%0A", b"\xff\xfe")
    assert weird.body["type"] == "application/octet-stream"
    _, _, headers = await download(gw, ann, weird.body["id"])
    assert "\r" not in headers["Content-Disposition"] and "\n" not in headers["Content-Disposition"]
    listed = await gw.call("GET", "/api/v1/files", ann.token)
    assert listed.status == 200
    check_schema(gw.openapi, _schema(gw, "/api/v1/files", "get", "200"), listed.body)
    assert listed.body["usage"] == {"bytes": len(PNG) + 38 + 2, "files": 3}
    assert (listed.body["quota"], listed.body["max_size"]) == (QUOTA, MAX_SIZE)


async def test_size_limit_and_quota(gateway: Gateway, tmp_path: Path) -> None:
    gw = gateway
    ann = await register(gw)
    big = await upload(gw, ann, "big.bin", b"x" * (MAX_SIZE + 1))
    assert big.status == 413 and big.body["error"]["code"] == "file_too_large"

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: caught while reading
        for _ in range(MAX_SIZE // 100 + 1):
            yield b"y" * 100

    async with gw.session.post(
        f"{gw.base}/api/v1/files?name=stream.bin",
        data=chunked(),
        headers={"Authorization": f"Bearer {ann.token}"},
    ) as resp:
        assert resp.status == 413
        assert (await resp.json())["error"]["code"] == "file_too_large"
    assert _blobs(tmp_path) == []
    assert (await upload(gw, ann, "a", b"a" * MAX_SIZE)).status == 201
    over = await upload(gw, ann, "b", b"b" * (QUOTA - MAX_SIZE + 1))
    assert over.status == 413 and over.body["error"]["code"] == "quota_exceeded"
    assert len(_blobs(tmp_path)) == 1
    assert (await upload(gw, ann, "c", b"c" * (QUOTA - MAX_SIZE))).status == 201  # exactly
    nameless = await gw.call("POST", "/api/v1/files", ann.token, data=b"x")
    assert nameless.status == 400
    anonymous = await gw.call("POST", "/api/v1/files?name=x", None, data=b"x")
    assert anonymous.status == 401


async def test_attach_and_membership(gateway: Gateway) -> None:
    gw = gateway
    ann, bob, outsider, kicked = [await register(gw) for _ in range(4)]
    group = await gw.op("group_create", ann.token, body={"name": "Sharers"})
    gid, welcome = group["id"], group["channels"][0]["id"]
    invite = await gw.op("invite_create", ann.token, group_id=gid)
    for member in (bob, kicked):
        await gw.op("group_join", member.token, body={"code": invite["code"]})
    up = (await upload(gw, ann, "report.pdf", b"%PDF-1.7 ...")).body
    status, _, _ = await download(gw, bob, up["id"])
    assert status == 404  # unattached: the uploader's alone
    sent = await gw.op(
        "message_send",
        ann.token,
        conversation=welcome,
        body={"body": "the report", "nonce": "n-1", "attachments": [up["id"]]},
    )
    history = await gw.op("message_history", bob.token, conversation=welcome)
    assert history["messages"][0]["id"] == sent["id"]
    assert history["messages"][0]["attachments"] == [
        {"id": up["id"], "name": "report.pdf", "size": up["size"], "type": "application/pdf"}
    ]
    await gw.op("member_kick", ann.token, group_id=gid, user_id=kicked.id)
    assert (await download(gw, bob, up["id"]))[:2] == (200, b"%PDF-1.7 ...")
    answers = []
    for other in (outsider, kicked):
        async with gw.session.get(
            f"{gw.base}/api/v1/files/{up['id']}",
            headers={"Authorization": f"Bearer {other.token}"},
        ) as resp:
            answers.append((resp.status, (await resp.json())["error"]["code"]))
    assert answers == [(404, "file_not_found")] * 2
    again = await gw.call(
        "POST",
        f"/api/v1/conversations/{welcome}/messages",
        bob.token,
        json={"body": "mine now", "nonce": "n-2", "attachments": [up["id"]]},
    )
    assert again.status == 404 and again.body["error"]["code"] == "file_not_found"
    bad = await gw.call(
        "POST",
        f"/api/v1/conversations/{welcome}/messages",
        ann.token,
        json={"body": "x", "nonce": "n-3", "attachments": ["../etc"]},
    )
    assert bad.status == 400
