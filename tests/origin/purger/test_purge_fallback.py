"""A burst past the plan's purge budget (real PostgreSQL outbox, Cloudflare mocked with respx, a
simulated clock instead of real waits): Cloudflare's cache gets ONE purge_everything instead of
hours of paced tag purges, the cheap tiers are still purged by tag, nothing is lost and every
change is purged within VSEARCH_PURGE_MAX_DELAY_S; under the budget, tags are purged as before."""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import cloudflare
import httpx
import pytest
import respx
from prometheus_client import REGISTRY

from origin.cache.base import CacheEntry
from origin.cache.memory import MemoryTier
from origin.db.pool import create_pool
from origin.purger.cloudflare import (
    ACCOUNT_CALL_LIMIT,
    PLAN_RATES,
    AccountBudget,
    CloudflareCacheTarget,
    TokenBucket,
)
from origin.purger.targets import LocalEdgeTarget, OriginCacheTarget
from origin.purger.worker import Purger
from origin.settings import load_settings

API = "https://api.cloudflare.com/client/v4"
TOKEN, ZONE = "cf-test-token", "zone123"
PURGE_URL = f"{API}/zones/{ZONE}/purge_cache"
EDGE_URL = "http://edge.test/__local/purge"
OK_PURGE = {"success": True, "errors": [], "messages": [], "result": {"id": ZONE}}
MAX_DELAY_S = 60.0
FREE_RATE, FREE_BUCKET = PLAN_RATES["free"]


class Clock:
    """Simulated time: sleeping advances it at once."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)

    def advance_to(self, when: float) -> None:
        self.now = max(self.now, when)


@pytest.fixture
async def pool(write_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    settings = load_settings({}, database_url=write_database_url)
    pool = await create_pool(write_database_url, settings)
    async with pool.acquire() as conn:  # start from an empty outbox
        await conn.execute("UPDATE purge_outbox SET done_at = now() WHERE done_at IS NULL")
        await conn.execute("UPDATE purge_coarse_tags SET due_at = NULL")
    yield pool
    await pool.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True) as mock:
        mock.post(PURGE_URL).respond(200, json=OK_PURGE)
        mock.post(EDGE_URL).respond(200, json={"purged_keys": []})
        yield mock


@asynccontextmanager
async def paced_purger(
    pool: asyncpg.Pool, clock: Clock, origin: MemoryTier, plan: str = "free",
    account: AccountBudget | None = None,
) -> AsyncIterator[Purger]:  # fmt: skip
    """The tiers `purger_for` wires, with the plan's bucket and the account budget on `clock`."""
    async with httpx.AsyncClient() as http:
        client = cloudflare.AsyncCloudflare(api_token=TOKEN, http_client=http, max_retries=0)
        bucket = TokenBucket.for_plan(plan, clock=clock, sleep=clock.sleep)
        account = account or AccountBudget(clock=clock, sleep=clock.sleep)
        cache = CloudflareCacheTarget(client, ZONE, bucket, account=account)
        edge = LocalEdgeTarget("http://edge.test", "edge-token", http)
        yield Purger(
            pool, [OriginCacheTarget(origin), cache, edge], coarse=cache,
            max_delay_s=MAX_DELAY_S, lease_s=30.0,
        )  # fmt: skip


async def add_events(pool: asyncpg.Pool, tag_lists: list[list[str]]) -> list[int]:
    """Outbox events as the write path adds them (one per write), in one statement."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """INSERT INTO purge_outbox (tags, reason)
               SELECT string_to_array(t, ','), 'write' FROM unnest($1::text[]) WITH ORDINALITY
               AS u(t, n) ORDER BY n RETURNING id""",
            [",".join(tags) for tags in tag_lists],
        )
    return [r["id"] for r in rows]


async def drain(purger: Purger, pool: asyncpg.Pool, clock: Clock, done: dict[int, float]) -> None:
    """Run the purger until nothing is due, noting when (simulated) each event was done."""
    while await purger.run_once():
        async with pool.acquire() as conn:
            ids = await conn.fetch(
                "SELECT id FROM purge_outbox WHERE done_at IS NOT NULL AND id = ANY($1::bigint[])",
                [i for i in done if math.isnan(done[i])],
            )
        for r in ids:
            done[r["id"]] = clock.now


def cloudflare_calls(router: respx.MockRouter) -> list[tuple[Any, str]]:
    return [
        (json.loads(c.request.content), c.request.headers["authorization"])
        for c in router.calls
        if str(c.request.url) == PURGE_URL
    ]


def edge_tags(router: respx.MockRouter) -> set[str]:
    return {
        t for c in router.calls if str(c.request.url) == EDGE_URL
        for t in json.loads(c.request.content)["tags"]
    }  # fmt: skip


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


async def test_a_burst_past_the_free_plan_budget_is_one_purge_everything_within_the_bound(
    pool: asyncpg.Pool, clock: Clock, router: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    origin = MemoryTier(100, 300)
    burst = [f"v:{i}" for i in range(100_000, 110_000)]  # 10,000 price changes
    await origin.put("v1:burst", CacheEntry({}, (burst[0], "q:all"), 0.0))
    await origin.put("v1:other", CacheEntry({}, ("v:1",), 0.0))
    fallbacks = sample("vsearch_purge_fallbacks_total")
    everything_ok = {"operation": "purge_everything", "outcome": "ok"}
    everything_before = sample("vsearch_cloudflare_api_calls_total", everything_ok)
    added: dict[int, float] = {}
    done: dict[int, float] = {}
    start = clock.now
    caplog.set_level(logging.WARNING, logger="origin.purger.worker")

    async def arrive(at: float, tag_lists: list[list[str]]) -> None:
        for event in await add_events(pool, tag_lists):
            added[event], done[event] = start + at, math.nan

    async with paced_purger(pool, clock, origin) as purger:
        # Ordinary traffic first: four waves of 50 bulk writes of 10 vehicles, purged by tag
        # (20 of the bucket's 25 requests).
        before = [[f"v:{w}{e:02d}{v}" for v in range(10)] for w in range(1, 5) for e in range(50)]
        for wave in range(4):
            clock.advance_to(start + 5 * wave)
            await arrive(5 * wave, before[50 * wave : 50 * (wave + 1)])
            await drain(purger, pool, clock, done)
        tag_requests_before = len(cloudflare_calls(router))
        # The burst: 10,000 changes within the minute, each its own event. Paced by tag this is
        # 100 requests at 5 a minute once the bucket is spent: about 17 minutes behind.
        clock.advance_to(start + 20)
        await arrive(20, [[t] for t in burst])
        await drain(purger, pool, clock, done)
        # Afterwards a trickle is purged by tag again.
        clock.advance_to(start + 40)
        await arrive(40, [["v:1", "v:2"]])
        await drain(purger, pool, clock, done)

    calls = cloudflare_calls(router)
    everything = [c for c in calls if "purge_everything" in c[0]]
    assert everything == [({"purge_everything": True}, f"Bearer {TOKEN}")]
    tag_bodies = [body["tags"] for body, _ in calls if "tags" in body]
    assert tag_requests_before == 20 and len(tag_bodies) == 21
    assert all(len(tags) <= 100 for tags in tag_bodies)
    by_tag = {t for tags in tag_bodies for t in tags}
    assert by_tag == {t for w in before for t in w} | {"v:1", "v:2"}  # no burst tag paced
    # Within the plan: 25 at once plus 5 a minute over the simulated run.
    assert len(calls) <= FREE_BUCKET + (clock.now - start) * FREE_RATE
    # Nothing lost: every event done, the cheap tiers purged by tag (the burst included).
    assert all(not math.isnan(t) for t in done.values())
    async with pool.acquire() as conn:
        assert await conn.fetchval(
            "SELECT count(*) FROM purge_outbox WHERE done_at IS NULL AND id = ANY($1::bigint[])",
            list(added),
        ) == 0  # fmt: skip
    assert set(burst) <= edge_tags(router)
    assert await origin.keys_for_tags([burst[0], "v:1"]) == []
    # The freshness bound held for every change (simulated seconds from commit to done).
    assert max(done[e] - added[e] for e in added) <= MAX_DELAY_S
    assert sample("vsearch_purge_fallbacks_total") == fallbacks + 1
    assert sample("vsearch_cloudflare_api_calls_total", everything_ok) == everything_before + 1
    [record] = [r for r in caplog.records if r.getMessage().startswith("purge fallback")]
    assert record.__dict__["events"] == 10_000 and record.__dict__["tags"] == 10_000
    assert record.__dict__["requests_needed"] == 100
    assert record.__dict__["estimated_s"] > MAX_DELAY_S / 2


async def test_under_the_budget_tags_are_purged_as_before(
    pool: asyncpg.Pool, clock: Clock, router: respx.MockRouter
) -> None:
    fallbacks = sample("vsearch_purge_fallbacks_total")
    tags = [[f"v:{e * 100 + v}" for v in range(100)] for e in range(20)]  # 2,000 tags
    await add_events(pool, tags)
    async with paced_purger(pool, clock, MemoryTier(100, 300)) as purger:
        assert await purger.run_once() == 20
        assert await purger.run_once() == 0
    bodies = [body for body, _ in cloudflare_calls(router)]
    assert all("tags" in b and len(b["tags"]) == 100 for b in bodies) and len(bodies) == 20
    assert {t for b in bodies for t in b["tags"]} == {t for e in tags for t in e}
    assert sample("vsearch_purge_fallbacks_total") == fallbacks
    assert clock.now == 1_000.0  # the bucket's 25 covered it: no wait


async def test_sustained_overload_sends_purge_everything_at_most_twice_per_bound(
    pool: asyncpg.Pool, clock: Clock, router: respx.MockRouter
) -> None:
    """1,000 changes every 5 s for a simulated minute on the Free plan: each change is still
    purged within the bound, and the zone is emptied at most once per half bound."""
    added: dict[int, float] = {}
    done: dict[int, float] = {}
    start = clock.now
    async with paced_purger(pool, clock, MemoryTier(100, 300)) as purger:
        waves = list(range(12))
        while waves:
            clock.advance_to(start + 5 * waves[0])
            # Every wave committed while the purger was busy is in the outbox when it looks.
            while waves and start + 5 * waves[0] <= clock.now:
                wave = waves.pop(0)
                for event in await add_events(pool, [[f"v:{wave}-{i}"] for i in range(1_000)]):
                    added[event], done[event] = start + 5 * wave, math.nan
            await drain(purger, pool, clock, done)
    assert all(not math.isnan(t) for t in done.values())
    assert max(done[e] - added[e] for e in added) <= MAX_DELAY_S
    everything = [c for c in router.calls if b"purge_everything" in c.request.content]
    assert 1 <= len(everything) <= 2 * math.ceil((clock.now - start) / MAX_DELAY_S) + 1


async def test_the_account_budget_never_allows_past_its_limit_in_any_window(clock: Clock) -> None:
    account = AccountBudget(clock=clock, sleep=clock.sleep)
    assert account.limit == ACCOUNT_CALL_LIMIT <= 1_000 < 1_200
    started = []
    for _ in range(2_500):
        await account.acquire()
        started.append(clock.now)
        clock.now += 0.01  # callers as fast as they like
    for i, t in enumerate(started):  # any 300 s window holds at most 1,000 starts
        assert sum(1 for u in started[i:] if u < t + 300.0) <= 1_000
    assert started[1_000] - started[0] >= 300.0


async def test_the_account_budget_is_part_of_the_plan(
    pool: asyncpg.Pool, clock: Clock, router: respx.MockRouter
) -> None:
    """On Enterprise 20 tag requests are nothing, unless this process already used its account
    budget (KV deletes, earlier purges): then they would wait minutes, so it falls back."""
    account = AccountBudget(clock=clock, sleep=clock.sleep)
    account.calls.extend([clock.now - 10.0] * 990)
    await add_events(pool, [[f"v:{e * 100 + v}" for v in range(100)] for e in range(20)])
    async with paced_purger(pool, clock, MemoryTier(100, 300), "enterprise", account) as p:
        assert await p.run_once() == 20
    assert [json.loads(c.request.content) for c in router.calls if str(c.request.url) == PURGE_URL
            ] == [{"purge_everything": True}]  # fmt: skip
    assert clock.now == 1_000.0  # one call fits the budget at once
