"""single_flight.py: one call per key in flight, shared results and errors."""

from __future__ import annotations

import asyncio

import pytest
from single_flight import SingleFlight


async def test_concurrent_callers_share_one_call() -> None:
    flights: SingleFlight[int] = SingleFlight()
    calls = 0

    async def call() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return 7

    results = await asyncio.gather(*(flights.run("k", call) for _ in range(10)))
    assert results == [7] * 10
    assert (calls, flights.started, flights.joined) == (1, 1, 9)
    assert not flights.in_flight("k")
    assert await flights.run("k", call) == 7
    assert calls == 2  # a later call is a new flight


async def test_an_error_reaches_every_waiter() -> None:
    flights: SingleFlight[int] = SingleFlight()

    async def boom() -> int:
        await asyncio.sleep(0.01)
        raise RuntimeError("origin down")

    results = await asyncio.gather(
        *(flights.run("k", boom) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in results)


async def test_one_waiter_cancelled_does_not_cancel_the_others() -> None:
    flights: SingleFlight[str] = SingleFlight()

    async def slow() -> str:
        await asyncio.sleep(0.02)
        return "ok"

    first = asyncio.ensure_future(flights.run("k", slow))
    second = asyncio.ensure_future(flights.run("k", slow))
    await asyncio.sleep(0)
    first.cancel()
    assert await second == "ok"
    with pytest.raises(asyncio.CancelledError):
        await first
