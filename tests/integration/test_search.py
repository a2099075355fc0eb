"""message.search over real WebSockets against a real serve node."""

from __future__ import annotations

import pytest

from nodechat.client import ChatClient, RequestFailed
from tests.integration.conftest import Signup
from tests.integration.test_chat_flow import make_group


async def refused(client: ChatClient, op: str, **data: object) -> str:
    with pytest.raises(RequestFailed) as err:
        await client.request(op, **data)
    return err.value.code


async def test_search_pages_and_never_shows_what_one_cannot_read(signup: Signup) -> None:
    ann, bob, group, channel = await make_group(signup)
    cid = channel["id"]
    carol = await signup("carol")
    for i in range(3):
        await bob.client.request(
            "message.send", conversation=cid, body=f"trail report {i}: muddy", nonce=f"t{i}"
        )
    await carol.client.request(
        "message.send", conversation=f"self:{carol.id}", body="my own trail", nonce="c"
    )

    first = await ann.client.request("message.search", query="TRAIL muddy", limit=2)
    assert len(first["results"]) == 2 and first["next_cursor"]
    hit = first["results"][0]
    assert hit["message"]["conversation"] == cid and hit["message"]["author_id"] == bob.id
    assert [hit["snippet"][s:e] for s, e in hit["highlights"]] == ["trail", "muddy"]
    rest = await ann.client.request(
        "message.search", query="TRAIL muddy", limit=2, cursor=first["next_cursor"]
    )
    assert len(rest["results"]) == 1 and rest["next_cursor"] is None
    ids = {r["message"]["id"] for r in first["results"] + rest["results"]}
    assert len(ids) == 3

    assert (await carol.client.request("message.search", query="trail"))["results"][0]["message"][
        "body"
    ] == "my own trail"
    code = await refused(carol.client, "message.search", query="trail", conversation=cid)
    assert code == "conversation_not_found"

    await ann.client.request("member.kick", group_id=group["id"], user_id=bob.id)
    await bob.client.next_event("member.kicked")
    assert (await bob.client.request("message.search", query="trail"))["results"] == []
    code = await refused(bob.client, "message.search", query="trail", conversation=cid)
    assert code == "conversation_not_found"

    assert await refused(ann.client, "message.search", query='"*" -') == "invalid_query"
    assert await refused(ann.client, "message.search", query="a", cursor="x") == "invalid_cursor"
    assert await refused(ann.client, "message.search", query="a", limit=51) == "invalid_request"
