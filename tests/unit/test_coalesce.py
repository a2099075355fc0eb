"""nodechat.coalesce.Coalescer: one run per loop turn, each caller its own answer."""

from __future__ import annotations

import asyncio

import pytest

from nodechat.coalesce import Coalescer
from nodechat.errors import Unavailable


async def turns(n: int) -> None:
    """Let the loop run ``n`` turns (no time passes: nothing here sleeps for real)."""
    for _ in range(n):
        await asyncio.sleep(0)


async def test_calls_of_one_turn_share_one_run_and_get_their_own_results() -> None:
    runs: list[list[int]] = []

    async def square(items: list[int]) -> list[int]:
        runs.append(items)
        return [i * i for i in items]

    squares = Coalescer(square)
    assert await asyncio.gather(*(squares(i) for i in range(5))) == [0, 1, 4, 9, 16]
    assert runs == [[0, 1, 2, 3, 4]]
    assert await squares(7) == 49  # alone, at light load: a group of one, no waiting
    assert runs[-1] == [7]


async def test_calls_made_while_a_group_is_answered_go_in_the_next_one() -> None:
    gate = asyncio.Event()
    runs: list[list[str]] = []

    async def slow(items: list[str]) -> list[str]:
        runs.append(items)
        await gate.wait()
        return [i.upper() for i in items]

    upper = Coalescer(slow, max_items=3)
    first = asyncio.ensure_future(upper("a"))
    await turns(10)
    assert runs == [["a"]]
    rest = [asyncio.ensure_future(upper(x)) for x in "bcdef"]
    await turns(10)
    assert runs == [["a"]]  # one group in flight: the others wait for it
    gate.set()
    assert await first == "A"
    assert [await r for r in rest] == list("BCDEF")
    assert runs == [["a"], ["b", "c", "d"], ["e", "f"]]  # then max_items per group


async def test_a_failed_run_fails_every_caller_with_its_own_copy() -> None:
    async def down(items: list[int]) -> list[int]:
        raise Unavailable("redis is down", code="presence_unavailable")

    calls = Coalescer(down)
    results = await asyncio.gather(*(calls(i) for i in range(3)), return_exceptions=True)
    assert all(isinstance(r, Unavailable) and r.code == "presence_unavailable" for r in results)
    assert len({id(r) for r in results}) == 3


async def test_a_run_answering_the_wrong_count_fails_its_callers() -> None:
    async def short(items: list[int]) -> list[int]:
        return items[:-1]

    calls = Coalescer(short)
    with pytest.raises(RuntimeError):
        await asyncio.gather(calls(1), calls(2))


async def test_a_caller_that_gives_up_leaves_the_others_their_answers() -> None:
    gate = asyncio.Event()

    async def slow(items: list[int]) -> list[int]:
        await gate.wait()
        return items

    echo = Coalescer(slow)
    quitter = asyncio.ensure_future(echo(1))
    stayer = asyncio.ensure_future(echo(2))
    await turns(10)
    quitter.cancel()
    gate.set()
    assert await stayer == 2
    with pytest.raises(asyncio.CancelledError):
        await quitter


async def test_cancel_fails_the_callers_in_flight_and_queued_with_the_error_given() -> None:
    started = asyncio.Event()

    async def forever(items: list[int]) -> list[int]:
        started.set()
        await asyncio.Event().wait()
        return items

    calls = Coalescer(forever)
    in_flight = asyncio.ensure_future(calls(1))
    await started.wait()
    queued = asyncio.ensure_future(calls(2))
    await turns(5)
    calls.cancel(Unavailable("the channel is closed", code="service_unavailable"))
    results = await asyncio.gather(in_flight, queued, return_exceptions=True)
    assert [type(r) for r in results] == [Unavailable, Unavailable]
    assert all(isinstance(r, Unavailable) and r.code == "service_unavailable" for r in results)
