"""Voice media over real WebSockets against a serve node: who receives, who may send.

Negative checks ("received nothing") are made deterministic by ordering, not by
waiting: after the sender's frames, a ``ping`` answered on the sender's connection
proves the server handled them (frames are relayed as they are read, before the
next frame of that connection), and a ``ping`` answered on a receiver's connection
proves every frame written to it before has arrived (one TCP stream, in order).
"""

from __future__ import annotations

from typing import Any

import pytest

from nodechat.client import ChatClient
from nodechat.protocol.voice import KIND_PCM, MediaFrame, decode_media, encode_media
from nodechat.server.node import ChatNode
from tests.integration.conftest import Account, Signup

PCM = b"\x10\x00" * 960


def frame(handle: int, seq: int, payload: bytes = PCM) -> bytes:
    return encode_media(MediaFrame(KIND_PCM, handle, 0, seq, seq * 960, payload))


def _client(who: Account | ChatClient) -> ChatClient:
    return who.client if isinstance(who, Account) else who


async def settled(*clients: Account | ChatClient) -> None:
    """Everything each client sent was handled, and everything sent to it has arrived."""
    for who in clients:
        await _client(who).request("ping")


def heard(who: Account | ChatClient) -> list[MediaFrame]:
    client = _client(who)
    out = []
    while not client.media.empty():
        out.append(decode_media(client.media.get_nowait()[1]))
    return out


async def voice_group(signup: Signup, *names: str) -> tuple[list[Account], str, str]:
    """Accounts in one group with a voice channel: (accounts, group id, channel id)."""
    accounts = [await signup(n) for n in names]
    owner = accounts[0]
    group = await owner.client.request("group.create", name="Voice")
    room = await owner.client.request(
        "channel.create", group_id=group["id"], name="room", kind="voice"
    )
    invite = await owner.client.request("invite.create", group_id=group["id"])
    for a in accounts[1:]:
        await a.client.request("group.join", code=invite["code"])
    return accounts, group["id"], room["id"]


async def test_frames_reach_the_other_participants_only(node: ChatNode, signup: Signup) -> None:
    (ann, bob, carl, dave), _, room = await voice_group(signup, "mann", "mbob", "mcarl", "mdave")
    eve = await signup("meve")  # not a member of the group
    joined: dict[str, Any] = {}
    for a in (ann, bob, carl):
        joined[a.id] = await a.client.request("voice.join", channel=room)
    deaf = await carl.client.request("voice.state", deafened=True)
    assert deaf["deafened"] is True and deaf["muted"] is False
    sender = joined[ann.id]["states"][ann.id]["handle"]

    for seq in range(5):
        await ann.client.send_raw(frame(joined[ann.id]["channel_handle"], seq))
    await settled(ann, bob, carl, dave, eve)
    got = heard(bob)
    assert [f.seq for f in got] == [0, 1, 2, 3, 4]
    assert {f.sender for f in got} == {sender}  # stamped by the server
    assert {f.channel for f in got} == {joined[bob.id]["channel_handle"]}  # bob's handle
    assert got[0].payload == PCM
    assert heard(ann) == []  # never back to the sender
    assert heard(carl) == []  # deafened
    assert heard(dave) == []  # a member who did not join
    assert heard(eve) == []  # not a member

    # the non-participant and the outsider cannot send: refused, the connection lives on
    for outsider in (dave, eve):
        await outsider.client.send_raw(frame(1, 0))
        await settled(outsider)
        assert outsider.client.errors[-1]["code"] == "not_in_voice"
    await settled(bob, carl)
    assert heard(bob) == [] and heard(carl) == []

    # muted: nothing goes out; unmuted and undeafened: it flows again
    await ann.client.request("voice.state", muted=True)
    await ann.client.send_raw(frame(joined[ann.id]["channel_handle"], 5))
    await settled(ann, bob)
    assert heard(bob) == []
    await ann.client.request("voice.state", muted=False)
    await carl.client.request("voice.state", deafened=False)
    await ann.client.send_raw(frame(joined[ann.id]["channel_handle"], 6))
    await settled(ann, bob, carl)
    assert [f.seq for f in heard(bob)] == [6]
    assert [f.seq for f in heard(carl)] == [6]
    metrics = node.metrics.render().decode()
    assert 'nodechat_voice_frames_dropped_total{reason="muted"} 1.0' in metrics
    assert 'nodechat_voice_frames_dropped_total{reason="refused"} 2.0' in metrics


async def test_bad_frames_get_an_error_and_the_connection_survives(
    node: ChatNode, signup: Signup
) -> None:
    (ann, bob), _, room = await voice_group(signup, "bann", "bbob")
    mine = await ann.client.request("voice.join", channel=room)
    await bob.client.request("voice.join", channel=room)
    for data, code in [
        (b"\x07", "voice_frame_truncated"),
        (b"\x02" + frame(1, 0)[1:], "voice_frame_version"),
        (frame(mine["channel_handle"] + 1, 0), "voice_wrong_channel"),
        (frame(mine["channel_handle"], 0, b""), "voice_frame_empty"),
    ]:
        await ann.client.send_raw(data)
        await settled(ann)
        assert ann.client.errors[-1]["code"] == code
    await ann.client.send_raw(frame(mine["channel_handle"], 1))
    await settled(ann, bob)
    assert [f.seq for f in heard(bob)] == [1]
    assert not ann.client.closed


async def test_leaving_stops_the_flow_and_moving_follows(node: ChatNode, signup: Signup) -> None:
    (ann, bob), gid, room = await voice_group(signup, "lann", "lbob")
    hall = await ann.client.request("channel.create", group_id=gid, name="hall", kind="voice")
    mine = await ann.client.request("voice.join", channel=room)
    await bob.client.request("voice.join", channel=room)
    await bob.client.request("voice.join", channel=hall["id"])  # bob moved
    await ann.client.send_raw(frame(mine["channel_handle"], 0))
    await settled(ann, bob)
    assert heard(bob) == []
    await ann.client.request("voice.leave")
    await ann.client.send_raw(frame(mine["channel_handle"], 1))
    await settled(ann)
    assert ann.client.errors[-1]["code"] == "not_in_voice"


async def test_a_sender_above_the_frame_rate_is_throttled(tmp_path: Any) -> None:
    from tests.integration.conftest import make_settings

    server = ChatNode(make_settings(tmp_path / "d", voice_frames_per_second=2.0))
    await server.start()
    clients: list[ChatClient] = []
    try:
        accounts = []
        for name in ("tann", "tbob"):
            client = await ChatClient.connect(server.url)
            clients.append(client)
            tokens = await client.request(
                "auth.register", username=name, email=f"{name}@x.test", password="long password"
            )
            await client.authenticate(tokens["access_token"])
            accounts.append((client, tokens["user"]["id"]))
        (ann, _), (bob, _) = accounts
        group = await ann.request("group.create", name="T")
        room = await ann.request("channel.create", group_id=group["id"], name="r", kind="voice")
        await bob.request(
            "group.join", code=(await ann.request("invite.create", group_id=group["id"]))["code"]
        )
        mine = await ann.request("voice.join", channel=room["id"])
        await bob.request("voice.join", channel=room["id"])
        for seq in range(20):  # far above 2 a second (burst 1)
            await ann.send_raw(frame(mine["channel_handle"], seq))
        await settled(ann, bob)
        got = len(heard(bob))
        assert 1 <= got < 20
        metrics = server.metrics.render().decode()
        assert f'nodechat_voice_frames_dropped_total{{reason="throttled"}} {20 - got}.0' in metrics
    finally:
        for c in clients:
            await c.close()
        await server.stop()


async def test_signaling_reaches_another_participant_only(node: ChatNode, signup: Signup) -> None:
    (ann, bob, carl), _, room = await voice_group(signup, "sann", "sbob", "scarl")
    await ann.client.request("voice.join", channel=room)
    await bob.client.request("voice.join", channel=room)
    sent = await ann.client.request("voice.signal", to=bob.id, kind="offer", payload="v=0 sdp")
    assert sent == {"sent": True}
    event = await bob.client.next_event("voice.signal")
    assert event["data"] == {"channel": room, "from": ann.id, "kind": "offer", "payload": "v=0 sdp"}
    for to, kind, code in [
        (carl.id, "offer", "not_a_participant"),
        (ann.id, "ice", "not_a_participant"),
        (bob.id, "hello", "invalid_signal_kind"),
    ]:
        reply = await ann.client.request_frame(
            "voice.signal", {"to": to, "kind": kind, "payload": "x"}
        )
        assert reply["error"]["code"] == code
    reply = await carl.client.request_frame(
        "voice.signal", {"to": ann.id, "kind": "offer", "payload": "x"}
    )
    assert reply["error"]["code"] == "not_in_voice"


@pytest.mark.parametrize("flag", ["muted", "deafened"])
async def test_voice_state_is_in_the_events(node: ChatNode, signup: Signup, flag: str) -> None:
    (ann, bob), gid, room = await voice_group(signup, f"e{flag}a", f"e{flag}b")
    await ann.client.request("voice.join", channel=room)
    bob.client.drain_events()
    await ann.client.request("voice.state", **{flag: True})
    while True:
        event = await bob.client.next_event("voice.updated")
        if event["data"]["states"].get(ann.id, {}).get(flag):
            break
    assert event["data"]["group_id"] == gid
    reply = await bob.client.request_frame("voice.state", {"muted": True})
    assert reply["error"]["code"] == "not_in_voice"


async def test_persistent_refused_frames_close_the_connection(
    node: ChatNode, signup: Signup
) -> None:
    (ann, bob), _, room = await voice_group(signup, "aann", "abob")
    await bob.client.request("voice.join", channel=room)
    for seq in range(600):  # ann never joined: each one is refused
        await ann.client.send_raw(frame(1, seq))
    await ann.client.wait_closed()
    assert ann.client.close_code == 4010
    # each refused frame was answered until the limit, then the connection was closed
    assert {e["code"] for e in ann.client.errors} == {"not_in_voice"}
    assert 500 <= len(ann.client.errors) < 600
    await settled(bob)
    assert heard(bob) == []
