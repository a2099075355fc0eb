"""A connection's live message filter: out-of-order events are put back in order without a
store read; a real gap is filled from the store after a short grace."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import orjson
from websockets.protocol import State

from nodechat.bus import Event
from nodechat.models import Identity
from nodechat.server import connection as connection_module
from nodechat.server.connection import ClientConnection


class FakeTransport:
    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.owners: list[ClientConnection] = []

    def get_write_buffer_size(self) -> int:
        return 0

    def write(self, frame: bytes) -> None:
        self.frames.append(frame)


def make_connection(
    backfills: list[tuple[str, int, int]],
) -> tuple[ClientConnection, FakeTransport]:
    transport = FakeTransport()
    ws: Any = SimpleNamespace(
        protocol=SimpleNamespace(state=State.OPEN),
        transport=transport,
        remote_address=("127.0.0.1", 1),
    )

    async def backfill(conn: ClientConnection, conversation: str, after: int, through: int) -> None:
        backfills.append((conversation, after, through))
        conn.state.advance(conversation, through)  # as a replay from the store would
        conn.release()

    conn = ClientConnection(ws, send_buffer=1 << 20, backfill=backfill)
    transport.owners.append(conn)
    conn.state.authenticated(Identity("u", "s"))
    conn.state.advance("c", 1)
    return conn, transport


def message(seq: int) -> Event:
    return Event("message.created", {"conversation": "c", "seq": seq})


def seqs(transport: FakeTransport) -> list[int]:
    """The seqs of the message events written so far (queued frames are flushed first)."""
    for conn in transport.owners:
        conn.flush()
    out = []
    data = b"".join(transport.frames)
    while data:  # writes are coalesced: split the stream back into frames
        size, start = (data[1], 2) if data[1] < 126 else (int.from_bytes(data[2:4], "big"), 4)
        out.append(orjson.loads(data[start : start + size])["data"]["seq"])
        data = data[start + size :]
    return out


async def test_reordered_events_are_put_back_in_order_without_the_store() -> None:
    backfills: list[tuple[str, int, int]] = []
    conn, transport = make_connection(backfills)
    conn.deliver(message(3))  # 2 is still on its way from another node
    conn.deliver(message(4))
    assert seqs(transport) == [] and conn.held
    conn.deliver(message(2))
    assert seqs(transport) == [2, 3, 4] and not conn.held
    await asyncio.sleep(connection_module.GAP_GRACE * 2)
    assert backfills == []  # the timer was cancelled: no store read
    conn.deliver(message(5))
    assert seqs(transport) == [2, 3, 4, 5]


async def test_a_real_gap_is_read_from_the_store_after_the_grace() -> None:
    backfills: list[tuple[str, int, int]] = []
    conn, transport = make_connection(backfills)
    conn.deliver(message(4))
    await asyncio.sleep(connection_module.GAP_GRACE * 3)
    assert backfills == [("c", 1, 3)]
    assert not conn.held and seqs(transport) == [4]


async def test_a_conversation_first_seen_live_keeps_its_first_messages() -> None:
    backfills: list[tuple[str, int, int]] = []
    conn, transport = make_connection(backfills)
    new = [Event("message.created", {"conversation": "n", "seq": s}) for s in (2, 1, 3)]
    for event in new:  # 2 overtook 1 on the way from two different nodes
        conn.deliver(event)
    assert [e for e in seqs(transport)] == [1, 2, 3] and not conn.held


async def test_a_conversation_joined_midway_starts_where_it_is() -> None:
    backfills: list[tuple[str, int, int]] = []
    conn, transport = make_connection(backfills)
    conn.deliver(Event("message.created", {"conversation": "old", "seq": 41}))
    await asyncio.sleep(connection_module.GAP_GRACE * 3)
    assert backfills == []  # no history replay for a channel joined midway
    conn.deliver(Event("message.created", {"conversation": "old", "seq": 42}))
    assert seqs(transport) == [41, 42]


async def test_a_direct_conversation_opened_after_the_snapshot_is_filled_from_the_store() -> None:
    """Its start cannot predate the session: a late first message is a gap from 0."""
    backfills: list[tuple[str, int, int]] = []
    conn, transport = make_connection(backfills)
    conn.deliver(Event("message.created", {"conversation": "dm:a:b", "seq": 3}))
    await asyncio.sleep(connection_module.GAP_GRACE * 3)
    assert backfills == [("dm:a:b", 0, 2)]
    assert not conn.held
