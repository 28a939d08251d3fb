"""Single flight without HTTP: identical misses share one database search within an instance and
across instances (one Redis), and a waiter never hangs past the lock's deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from vsearch_query import cache_key, parse_search

from origin.cache.memory import MemoryTier
from origin.cache.redis import RedisTier, connect
from origin.search.tiers import TieredSearch
from origin.settings import Settings

Make = Callable[..., TieredSearch]


class CountingService:
    """The real service, counting the searches that reach it."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self.calls = 0

    async def search(self, query: Any) -> Any:
        self.calls += 1
        return await self.service.search(query)


@pytest.fixture
async def make_tiers(cached_settings: Settings) -> AsyncIterator[Make]:
    opened: list[RedisTier] = []

    def make(service: Any, lock_ms: int = 5_000) -> TieredSearch:
        assert cached_settings.redis_url is not None
        redis = RedisTier(connect(cached_settings.redis_url, 0.25), cached_settings)
        opened.append(redis)
        return TieredSearch(service, MemoryTier(100, 5.0), redis, lock_ms=lock_ms)

    yield make
    for redis in opened:
        await redis.close()


async def test_100_concurrent_identical_misses_run_one_search(
    service: Any, make_tiers: Make
) -> None:
    counted = CountingService(service)
    tiers = make_tiers(counted)
    query = parse_search("q=red+pickup&price_max=41000")
    outcomes = await asyncio.gather(*(tiers.search(query) for _ in range(100)))
    assert counted.calls == 1
    assert {o.key for o in outcomes} == {cache_key(query)}
    assert len({str(o.body["results"]) for o in outcomes}) == 1


async def test_identical_misses_on_two_instances_run_one_search(
    service: Any, make_tiers: Make
) -> None:
    counted = CountingService(service)
    one, two = make_tiers(counted), make_tiers(counted)
    query = parse_search("q=blue+sedan&price_max=42000")
    outcomes = await asyncio.gather(
        *(tiers.search(query) for _ in range(20) for tiers in (one, two))
    )
    assert counted.calls == 1
    assert {o.layer for o in outcomes} == {"database", "redis"}


async def test_a_waiter_searches_itself_when_the_lock_holder_died(
    service: Any, make_tiers: Make
) -> None:
    counted = CountingService(service)
    tiers = make_tiers(counted, lock_ms=300)
    query = parse_search("q=green+wagon&price_max=43000")
    assert tiers.redis is not None
    assert await tiers.redis.try_lock(cache_key(query), 300) is not None  # a holder that dies
    started = time.monotonic()
    outcome = await tiers.search(query)
    assert outcome.layer == "database" and counted.calls == 1
    assert 0.25 < time.monotonic() - started < 1.5


async def test_without_redis_one_instance_still_runs_one_search(service: Any) -> None:
    counted = CountingService(service)
    tiers = TieredSearch(counted, MemoryTier(100, 5.0))  # no Redis: only the local flight
    query = parse_search("q=silver+coupe&price_max=44000")
    outcomes = await asyncio.gather(*(tiers.search(query) for _ in range(50)))
    assert counted.calls == 1
    assert [o.layer for o in outcomes].count("database") == 50  # all shared the one search


class DegradedService(CountingService):
    """Answers slowly and degraded (a keyword fallback), which is never stored in Redis."""

    async def search(self, query: Any) -> Any:
        outcome = await super().search(query)
        await asyncio.sleep(0.3)
        outcome.body["degraded"] = "semantic search unavailable; keyword results"
        return outcome


async def test_a_waiter_stops_waiting_when_the_holder_lets_go_without_storing(
    service: Any, make_tiers: Make
) -> None:
    counted = DegradedService(service)
    one, two = make_tiers(counted, lock_ms=5_000), make_tiers(counted, lock_ms=5_000)
    query = parse_search("q=teal+hatchback&price_max=45000")
    holder = asyncio.ensure_future(one.search(query))
    await asyncio.sleep(0.1)  # `one` holds the lock and searches
    started = time.monotonic()
    waiter = await two.search(query)
    await holder
    # Not the 5 s lock deadline: the lock went away with nothing stored, so `two` searched.
    assert time.monotonic() - started < 2.5
    assert waiter.layer == "database" and counted.calls == 2
