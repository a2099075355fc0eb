"""Files in a split deployment: the gateway takes the upload and serves the download, the
send that attaches it goes through a socket node to the message role over gRPC, and the
download's membership check asks the message role too."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from tests.e2e.cluster import register, start_split


async def test_upload_attach_and_download_across_roles(tmp_path: Path, redis_url: str) -> None:
    cluster = start_split(tmp_path / "data", redis=redis_url)
    clients = []
    try:
        ann, ann_tokens = await register(cluster.socket("socket1"), "ann")
        bob, bob_tokens = await register(cluster.socket("socket2"), "bob")
        eve, eve_tokens = await register(cluster.socket("socket2"), "eve")
        clients += [ann, bob, eve]
        group = await ann.request("group.create", name="split files")
        channel = group["channels"][0]["id"]
        invite = await ann.request("invite.create", group_id=group["id"])
        await bob.request("group.join", code=invite["code"])

        def auth(tokens: dict[str, str]) -> dict[str, str]:
            return {"Authorization": f"Bearer {tokens['access_token']}"}

        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{cluster.gateway}/api/v1/files?name=a.pdf",
                data=b"%PDF-1.4 split",
                headers=auth(ann_tokens),
            ) as reply:
                assert reply.status == 201, await reply.text()
                record = await reply.json()
            assert record["type"] == "application/pdf"
            sent = await ann.request(
                "message.send",
                conversation=channel,
                body="file",
                nonce="1",
                attachments=[record["id"]],
            )
            event = await bob.next_event("message.created", timeout=20)  # the other node
            assert event["data"]["id"] == sent["id"]
            assert [a["id"] for a in event["data"]["attachments"]] == [record["id"]]
            url = f"{cluster.gateway}/api/v1/files/{record['id']}"
            async with http.get(url, headers=auth(bob_tokens)) as reply:
                assert reply.status == 200 and await reply.read() == b"%PDF-1.4 split"
            async with http.get(url, headers=auth(eve_tokens)) as reply:
                assert reply.status == 404
                assert (await reply.json())["error"]["code"] == "file_not_found"
    finally:
        for client in clients:
            await client.close()
        cluster.stop()
