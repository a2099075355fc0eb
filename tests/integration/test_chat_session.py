"""ChatSession against a real node: saved login, refresh-token rotation, revocation."""

from __future__ import annotations

import asyncio
from pathlib import Path

from nodechat.chatclient import Change, ChatSession, ProfileStore
from nodechat.client import ChatClient, RequestFailed
from nodechat.server.node import ChatNode
from tests.integration.conftest import Signup


async def until(condition: object, timeout: float = 10.0) -> None:
    """Poll a condition (bounded)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not condition():  # type: ignore[operator]
        assert loop.time() < end, "condition never held"
        await asyncio.sleep(0.02)


async def test_saved_session_rotates_refresh_token_and_survives_revocation(
    node: ChatNode, signup: Signup, tmp_path: Path
) -> None:
    ann = await signup("ann")
    store = ProfileStore(tmp_path / "profiles")
    changes: list[Change] = []
    first = ChatSession(node.url, profile="p", store=store, listener=changes.append)
    await first.login("ann", ann.password)
    token1 = store.load("p").refresh_token  # type: ignore[union-attr]
    assert token1 and first.status == "online" and first.state.my_username == "ann"
    await first.close()

    second = ChatSession(node.url, profile="p", store=store, listener=changes.append)
    assert await second.resume_saved()  # no password: the saved refresh token
    token2 = store.load("p").refresh_token  # type: ignore[union-attr]
    assert token2 and token2 != token1  # rotated and persisted
    probe = await ChatClient.connect(node.url)
    try:
        await probe.request("auth.refresh", refresh_token=token1)
        raise AssertionError("a spent refresh token was accepted")
    except RequestFailed as exc:
        assert exc.code == "refresh_token_reused"
    finally:
        await probe.close()
    # reuse revoked the session: the live connection closes with 4001 and the
    # session gives up (logged out) instead of reconnecting forever
    await until(lambda: second.status == "logged out")
    assert store.load("p").refresh_token is None  # type: ignore[union-attr]
    await second.close()

    third = ChatSession(node.url, profile="p", store=store)
    assert not await third.resume_saved()  # nothing saved: the login screen is next
    await third.close()


async def test_mentions_while_away_are_counted_at_login(node: ChatNode, signup: Signup) -> None:
    ann, bob = await signup("ann2"), await signup("bob2")
    group = await bob.client.request("group.create", name="G")
    invite = await bob.client.request("invite.create", group_id=group["id"])
    await ann.client.request("group.join", code=invite["code"])
    channel = group["channels"][0]["id"]
    for n, body in enumerate(["@ann2 are you there?", "plain", "@ann2 hello again", "@cat"]):
        await bob.client.request("message.send", conversation=channel, body=body, nonce=f"away{n}")
    session = ChatSession(node.url)
    await session.login("ann2", ann.password)
    conv = session.state.conversations[channel]
    assert (conv.unread, conv.mentions) == (4, 2)
    await session.close()


async def test_voice_participants_through_the_session(
    node: ChatNode, signup: Signup, tmp_path: Path
) -> None:
    """The client's voice state follows the server: join, others joining, leaving."""
    ann, bob = await signup("vann2"), await signup("vbob2")
    group = await bob.client.request("group.create", name="Studio")
    room = await bob.client.request(
        "channel.create", group_id=group["id"], name="live", kind="voice"
    )
    invite = await bob.client.request("invite.create", group_id=group["id"])
    await ann.client.request("group.join", code=invite["code"])
    await bob.client.request("voice.join", channel=room["id"])

    session = ChatSession(node.url, profile="v", store=ProfileStore(tmp_path / "profiles"))
    await session.login("vann2", ann.password)
    assert session.state.voice.get(room["id"]) == [bob.id]  # from the snapshot
    assert sorted(await session.voice_join(room["id"])) == sorted([ann.id, bob.id])
    await bob.client.request("voice.leave")
    await until(lambda: session.state.voice.get(room["id"]) == [ann.id])  # voice.updated
    await session.voice_leave()
    await until(lambda: not session.state.voice.get(room["id"]))
    await session.close()
