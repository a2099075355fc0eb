"""The socket node's send batcher: groups stay whole and in order within one batch."""

from __future__ import annotations

import asyncio

from nodechat.errors import NotFound
from nodechat.models import Message
from nodechat.proto.v1 import messages_pb2
from nodechat.server.grpc import convert as cv
from nodechat.server.grpc.batch import SendBatcher
from nodechat.services.api import SendResult


def _item(n: int) -> messages_pb2.SendItem:
    return messages_pb2.SendItem(
        user_id="u_1",
        session_id="s_1",
        request=messages_pb2.SendRequest(conversation_id="ch_1", body=f"b{n}", nonce=f"n{n}"),
    )


async def test_groups_are_never_split_and_keep_their_order() -> None:
    batches: list[list[str]] = []

    async def send_many(r: messages_pb2.SendManyRequest) -> messages_pb2.SendManyResponse:
        batches.append([i.request.nonce for i in r.items])
        await asyncio.sleep(0)
        outcomes = []
        for seq, item in enumerate(r.items, 1):
            if item.request.nonce == "n13":
                outcomes.append(
                    messages_pb2.SendOutcome(
                        error=cv.error_to_pb(NotFound("gone", code="conversation_not_found"))
                    )
                )
                continue
            m = Message(f"m{seq}", "ch_1", seq, "u_1", item.request.body, item.request.nonce, 1)
            outcomes.append(
                messages_pb2.SendOutcome(result=cv.send_result_to_pb(SendResult(m, True)))
            )
        return messages_pb2.SendManyResponse(outcomes=outcomes)

    batcher = SendBatcher(send_many, max_batch=10, max_in_flight=1)
    groups = [[_item(10 * g + i) for i in range(n)] for g, n in enumerate([4, 4, 4, 1, 7])]
    results = await asyncio.gather(*(batcher.send_group(g) for g in groups))

    assert all(len(b) <= 10 for b in batches)
    for group in groups:  # each group inside exactly one batch, contiguous, in order
        nonces = [i.request.nonce for i in group]
        holders = [b for b in batches if nonces[0] in b]
        assert len(holders) == 1
        start = holders[0].index(nonces[0])
        assert holders[0][start : start + len(nonces)] == nonces
    flat = [r for rs in results for r in rs]
    assert sum(isinstance(r, NotFound) for r in flat) == 1
    assert [r.message.nonce for r in results[2] if isinstance(r, SendResult)] == [
        "n20",
        "n21",
        "n22",
        "n23",
    ]
    assert await batcher.send_group([]) == []
    await batcher.close()
