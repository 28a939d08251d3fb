"""origin_fetch.py: failover order, what counts as failure, time budget, cool-down."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from edge_fakes import Clock, FakeOrigin
from edge_http import OriginFailure, OriginTimeout
from origin_fetch import OriginPool, search_url

A, B = "http://a", "http://b"
PARAMS = (("q", "red suv"), ("limit", "10"))
HEADERS = {"x-cache-key": "v1:k", "x-request-id": "r1"}


def pool(
    origin: FakeOrigin,
    *,
    timeout_s: float = 0.05,
    budget_s: float = 1.0,
    clock: Callable[[], float] | None = None,
) -> OriginPool:
    return OriginPool(
        (A, B),
        origin,
        timeout_s=timeout_s,
        budget_s=budget_s,
        cooldown_s=10,
        clock=clock or Clock(),
    )


def test_search_url_encodes_the_canonical_params() -> None:
    assert search_url(A, PARAMS) == "http://a/search?q=red+suv&limit=10"
    assert search_url(A, ()) == "http://a/search"


async def test_first_origin_answers() -> None:
    origin = FakeOrigin()
    reply = await pool(origin).get(PARAMS, HEADERS)
    assert (reply.status, reply.origin) == (200, A)
    assert origin.calls == [search_url(A, PARAMS)]
    assert origin.seen_headers == [HEADERS]


async def test_fails_over_to_the_second_origin_when_the_first_refuses() -> None:
    origin = FakeOrigin(down={A})
    reply = await pool(origin).get(PARAMS, HEADERS)
    assert reply.origin == B
    assert [c.split("/search")[0] for c in origin.calls] == [A, B]


async def test_a_5xx_fails_over_and_a_4xx_does_not() -> None:
    origin = FakeOrigin(status=503)
    with pytest.raises(OriginFailure, match="503"):
        await pool(origin).get(PARAMS, HEADERS)
    assert len(origin.calls) == 2
    client_error = FakeOrigin(status=400)
    assert (await pool(client_error).get(PARAMS, HEADERS)).status == 400
    assert len(client_error.calls) == 1


async def test_all_timing_out_is_a_timeout() -> None:
    with pytest.raises(OriginTimeout):
        await pool(FakeOrigin(slow={A, B})).get(PARAMS, HEADERS)


async def test_a_failed_origin_cools_down_and_is_tried_last() -> None:
    clock = Clock(0.0)
    origin = FakeOrigin(down={A})
    p = pool(origin, clock=clock)
    await p.get(PARAMS, HEADERS)
    origin.down.clear()
    origin.calls.clear()
    assert p.order() == [B, A]
    await p.get(PARAMS, HEADERS)
    assert origin.calls[0].startswith(B)
    clock.now = 11.0
    assert p.order() == [A, B]


async def test_the_budget_stops_failover() -> None:
    origin = FakeOrigin(slow={A, B})
    with pytest.raises(OriginTimeout):
        await pool(origin, budget_s=0.05, clock=time.monotonic).get(PARAMS, HEADERS)
    assert len(origin.calls) == 1
