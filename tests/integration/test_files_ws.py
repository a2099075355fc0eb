"""Files end to end against a real serve node: upload over its HTTP API, attach over the
WebSocket, the event and history carry the file, members download it, an outsider and
a kicked member get nothing, a deleted message's file is released."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from nodechat.chatclient.files import FileRef, download_file, upload_file
from nodechat.client import ChatClient, RequestFailed
from nodechat.errors import NotFound
from nodechat.server.node import ChatNode
from tests.integration.conftest import Account, Signup


async def _refused(client: ChatClient, code: str, op: str, **data: object) -> None:
    with pytest.raises(RequestFailed) as err:
        await client.request(op, **data)
    assert err.value.code == code, err.value


def _token(account: Account) -> str:
    return str(account.tokens["access_token"])


async def test_attach_over_the_socket_and_download_by_membership(
    node: ChatNode, signup: Signup, tmp_path: Path
) -> None:
    api = node.api_url
    assert api is not None
    ann, bob, outsider, kicked = [await signup(n) for n in ("ann", "bob", "out", "kick")]
    group = await ann.client.request("group.create", name="Files")
    channel = group["channels"][0]["id"]
    invite = await ann.client.request("invite.create", group_id=group["id"], max_uses=5)
    for member in (bob, kicked):
        await member.client.request("group.join", code=invite["code"])
    source = tmp_path / "notes.md"
    source.write_text("# notes\nsome text ✓\n", encoding="utf-8")
    record = await upload_file(api, _token(ann), source)
    assert (record["type"], record["name"]) == ("text/plain; charset=utf-8", "notes.md")
    await _refused(  # someone else's upload
        bob.client,
        "file_not_found",
        "message.send",
        conversation=channel,
        body="mine?",
        nonce="b-1",
        attachments=[record["id"]],
    )
    sent = await ann.client.request(
        "message.send",
        conversation=channel,
        body="notes",
        nonce="a-1",
        attachments=[record["id"]],
    )
    created = await bob.client.next_event("message.created")
    assert created["data"]["id"] == sent["id"]
    want = [
        {
            "id": record["id"],
            "name": "notes.md",
            "size": record["size"],
            "type": "text/plain; charset=utf-8",
        }
    ]
    assert created["data"]["attachments"] == want
    page = await bob.client.request("message.history", conversation=channel)
    assert page["messages"][0]["attachments"] == want

    await ann.client.request("member.kick", group_id=group["id"], user_id=kicked.id)
    ref = FileRef.from_wire(want[0])
    out = tmp_path / "bob"
    out.mkdir()
    saved = await download_file(api, _token(bob), ref, out)
    assert saved.read_bytes() == source.read_bytes()
    for other in (outsider, kicked):
        with pytest.raises(NotFound) as caught:
            await download_file(api, _token(other), ref, tmp_path)
        assert caught.value.code == "file_not_found"

    await ann.client.request("message.delete", message_id=sent["id"])
    with pytest.raises(NotFound):  # released: its uploader's alone until collected
        await download_file(api, _token(bob), ref, out)
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{api}/api/v1/files", headers={"Authorization": f"Bearer {_token(ann)}"}) as resp,
    ):
        listed = await resp.json()
    assert [f["id"] for f in listed["files"]] == [record["id"]]
    assert listed["files"][0]["message_id"] is None
