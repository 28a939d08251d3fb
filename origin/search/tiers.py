"""The origin's tier order, in one place: L1 -> Redis -> single flight -> SearchService.

A cache failure is a miss, never an error: without Redis (unset, down, circuit open) the same
path runs on L1 and the database alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlencode

from vsearch_query import SearchQuery, cache_key, canonical_params

from origin.cache.base import CacheEntry, CacheUnavailable
from origin.cache.invalidation import Invalidator
from origin.cache.memory import MemoryTier
from origin.cache.popular import PopularTracker
from origin.cache.redis import RedisTier, connect
from origin.cache.singleflight import LocalFlight, wait_for_entry
from origin.metrics import CACHE_REQUESTS, DB_SEARCHES, SEARCH_STAGE_SECONDS, SEARCH_STRATEGY
from origin.search.service import SearchService, Timings
from origin.settings import Settings
from origin.types import CacheKey, JSONDict, Tag

Found = tuple[CacheEntry, str, Timings | None]  # entry, layer (l1 | redis | database), timings


@dataclass
class TieredOutcome:
    body: JSONDict  # `took_ms` is this request's; `search_ms` the search that made the body
    key: CacheKey
    tags: list[Tag]
    layer: str
    popular: bool
    timings: Timings | None  # None when served from a cache


class TieredSearch:
    """Answers a query from the first tier that has it, filling the tiers above on the way."""

    def __init__(
        self,
        service: SearchService,
        l1: MemoryTier,
        redis: RedisTier | None = None,
        popular: PopularTracker | None = None,
        lock_ms: int = 2_500,
        invalidator: Invalidator | None = None,
    ) -> None:
        self.service = service
        self.l1 = l1
        self.redis = redis
        self.popular = popular
        self.lock_ms = lock_ms
        self.invalidator = invalidator
        self._flight: LocalFlight[Found] = LocalFlight()

    async def search(self, query: SearchQuery, *, count: bool = True) -> TieredOutcome:
        """`count=False` for replays (warming) that must not make a query look asked."""
        started = time.perf_counter()
        key = cache_key(query)
        # Counting the ask runs beside the lookup: a hit costs one Redis round trip, not two.
        counting = asyncio.ensure_future(self._count(key, query, count))
        try:
            entry, layer, timings = await self._lookup(query, key)
        finally:
            popular = await counting
        body = dict(entry.body)
        body["search_ms"] = entry.body.get("took_ms")
        body["took_ms"] = round((time.perf_counter() - started) * 1000, 2)
        return TieredOutcome(body, key, list(entry.tags), layer, popular, timings)

    async def _count(self, key: CacheKey, query: SearchQuery, count: bool) -> bool:
        if self.popular is None or not count:
            return False
        try:
            return await self.popular.record(key, urlencode(canonical_params(query)))
        except CacheUnavailable:
            return False

    async def _lookup(self, query: SearchQuery, key: CacheKey) -> Found:
        entry = await self.l1.get(key)
        CACHE_REQUESTS.labels(tier="l1", result="hit" if entry else "miss").inc()
        if entry is not None:
            return entry, "l1", None
        l1_epoch = self.l1.epoch
        redis_epoch: int | None = None
        if self.redis is not None:
            try:
                entry, redis_epoch = await self.redis.get_with_epoch(key)
            except CacheUnavailable:
                CACHE_REQUESTS.labels(tier="redis", result="error").inc()
            else:
                CACHE_REQUESTS.labels(tier="redis", result="hit" if entry else "miss").inc()
                if entry is not None:
                    await self.l1.put(key, entry, epoch=l1_epoch)
                    return entry, "redis", None
        found, _ = await self._flight.run(
            key, lambda: self._fill(query, key, l1_epoch, redis_epoch)
        )
        return found

    async def _fill(
        self, query: SearchQuery, key: CacheKey, l1_epoch: int, redis_epoch: int | None
    ) -> Found:
        # Another flight may have finished between our lookup and this one starting.
        entry = await self.l1.get(key)
        if entry is not None:
            return entry, "l1", None
        token = None
        if self.redis is not None and redis_epoch is not None:
            try:
                token = await self.redis.try_lock(key, self.lock_ms)
                if token is None:
                    # Another instance is searching: read its result, or search at the deadline.
                    entry = await wait_for_entry(self.redis, key, self.lock_ms / 1000)
                    if entry is not None:
                        await self.l1.put(key, entry, epoch=l1_epoch)
                        return entry, "redis", None
            except CacheUnavailable:
                pass
        try:
            return await self._search(query, key, l1_epoch, redis_epoch)
        finally:
            if token is not None and self.redis is not None:
                # On failure the lock expires by itself.
                with contextlib.suppress(CacheUnavailable):
                    await self.redis.unlock(key, token)

    async def _search(
        self, query: SearchQuery, key: CacheKey, l1_epoch: int, redis_epoch: int | None
    ) -> Found:
        DB_SEARCHES.inc()
        try:
            outcome = await self.service.search(query)
        except Exception:
            CACHE_REQUESTS.labels(tier="database", result="error").inc()
            raise
        CACHE_REQUESTS.labels(tier="database", result="hit").inc()
        _observe(outcome.timings, str(outcome.body.get("strategy")))
        entry = CacheEntry(outcome.body, tuple(outcome.tags), time.time())
        await self.l1.put(key, entry, epoch=l1_epoch)
        # A degraded (keyword fallback) answer is not kept in Redis: the next ask retries.
        if self.redis is not None and redis_epoch is not None and "degraded" not in entry.body:
            with contextlib.suppress(CacheUnavailable):
                await self.redis.put(key, entry, epoch=redis_epoch)
        return entry, "database", outcome.timings


def _observe(timings: Timings, strategy: str) -> None:
    SEARCH_STRATEGY.labels(strategy=strategy).inc()
    SEARCH_STAGE_SECONDS.labels(stage="database").observe(timings.db_ms / 1000)
    # Embedding and facets are skipped when their own caches answer: only real work is timed.
    if timings.embed_ms:
        SEARCH_STAGE_SECONDS.labels(stage="embed").observe(timings.embed_ms / 1000)
    if timings.facets_ms:
        SEARCH_STAGE_SECONDS.labels(stage="facets").observe(timings.facets_ms / 1000)


@contextlib.asynccontextmanager
async def open_tiers(settings: Settings, service: SearchService) -> AsyncIterator[TieredSearch]:
    """The tiers for `settings`: L1 always; Redis, popular tracking and the L1 invalidation
    subscriber when REDIS_URL is set. Closes what it opened."""
    if not settings.cache_enabled:
        # No result caches (a zero-size L1 stores nothing); single flight still coalesces.
        yield TieredSearch(service, MemoryTier(0, 0.0))
        return
    l1 = MemoryTier(settings.l1_max_entries, settings.l1_ttl_s)
    if settings.redis_url is None:
        yield TieredSearch(service, l1)
        return
    redis = RedisTier(connect(settings.redis_url, settings.redis_timeout_s), settings)
    popular = PopularTracker(redis, settings.popular_threshold, settings.popular_window_s)
    # A search cannot legitimately outlast its budgets: past that, the lock holder is gone.
    lock_ms = settings.statement_timeout_ms + settings.vector_budget_ms
    invalidator = Invalidator(settings.redis_url, l1, settings.redis_timeout_s)
    invalidator.start()
    try:
        yield TieredSearch(service, l1, redis, popular, lock_ms, invalidator)
    finally:
        await invalidator.stop()
        await redis.close()
