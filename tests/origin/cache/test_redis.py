"""The Redis tier against a real redis-server: entries, the bounded tag index, purge by tag
(entries, index, pub/sub), refusal of stores that raced a purge, and the lock."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from origin.cache.base import CacheEntry, CacheUnavailable
from origin.cache.redis import CHANNEL, INDEX, RedisTier, connect, decode_tags
from origin.settings import Settings


@pytest.fixture
async def tier(cached_settings: Settings) -> AsyncIterator[RedisTier]:
    assert cached_settings.redis_url is not None
    redis = RedisTier(connect(cached_settings.redis_url, 0.25), cached_settings)
    yield redis
    await redis.close()


def entry(*tags: str) -> CacheEntry:
    return CacheEntry({"results": [{"id": 1}], "took_ms": 3.5}, tags, time.time())


async def test_an_entry_round_trips_with_its_tags(tier: RedisTier) -> None:
    await tier.put("k1", entry("v:1", "q:all"))
    got = await tier.get("k1")
    assert got is not None
    assert got.body == {"results": [{"id": 1}], "took_ms": 3.5}
    assert got.tags == ("v:1", "q:all")
    assert 0 < await tier.client.ttl("vs:r:k1") <= tier.ttl_s


async def test_the_tag_index_expires_and_drops_members_the_edge_no_longer_holds(
    tier: RedisTier,
) -> None:
    await tier.put("k1", entry("v:1"))
    ttl = await tier.client.ttl(INDEX + "v:1")
    # It outlives the entry by the edge's retention (max-age + swr + sie), within the cap.
    assert tier.ttl_s < ttl <= tier.index_ttl_s <= 2 * 86_400
    # A member whose deadline passed is pruned by the next add, not kept forever.
    await tier.client.zadd(INDEX + "v:1", {"old": 1})
    await tier.put("k2", entry("v:1"))
    assert set(await tier.client.zrange(INDEX + "v:1", 0, -1)) == {b"k1", b"k2"}
    assert await tier.keys_for_tags(["v:1"]) == ["k1", "k2"]


async def test_purge_tags_deletes_entries_and_index_and_tells_every_l1(tier: RedisTier) -> None:
    await tier.put("k1", entry("v:1", "q:all"))
    await tier.put("k2", entry("v:2", "q:all"))
    await tier.put("k3", entry("v:3"))
    async with tier.client.pubsub(ignore_subscribe_messages=True) as pubsub:
        await pubsub.subscribe(CHANNEL)
        assert await tier.purge_tags(["v:1", "v:2"]) == ["k1", "k2"]
        message = None
        for _ in range(20):  # the first reads return the subscription's own confirmation
            message = message or await pubsub.get_message(timeout=0.1)
    assert message is not None and decode_tags(message["data"]) == ["v:1", "v:2"]
    assert await tier.get("k1") is None and await tier.get("k2") is None
    assert await tier.get("k3") is not None
    assert await tier.client.exists(INDEX + "v:1", INDEX + "v:2") == 0
    assert await tier.purge_tags(["v:1", "v:2"]) == []  # idempotent


async def test_a_store_that_raced_a_purge_is_refused(tier: RedisTier) -> None:
    _, epoch = await tier.get_with_epoch("k1")  # read before the search ran
    await tier.purge_tags(["v:9"])  # the vehicle changed meanwhile
    await tier.put("k1", entry("v:9", "q:all"), epoch=epoch)
    await tier.put("k2", entry("v:10", "q:all"), epoch=epoch)
    assert await tier.get("k1") is None
    assert await tier.get("k2") is not None


async def test_the_lock_has_one_holder_and_only_the_holder_releases_it(tier: RedisTier) -> None:
    token = await tier.try_lock("k", 5_000)
    assert token is not None
    assert await tier.try_lock("k", 5_000) is None
    await tier.unlock("k", "not-the-token")
    assert await tier.try_lock("k", 5_000) is None
    await tier.unlock("k", token)
    assert await tier.try_lock("k", 100) is not None


async def test_a_dead_redis_fails_fast_and_opens_the_circuit(
    cached_settings: Settings, redis_clean: Any
) -> None:
    settings = replace(cached_settings, redis_timeout_s=0.1)
    assert settings.redis_url is not None
    tier = RedisTier(connect(settings.redis_url, 0.1), settings)
    redis_clean.stop()
    try:
        started = time.monotonic()
        for _ in range(tier.breaker.threshold):
            with pytest.raises(CacheUnavailable):
                await tier.get("k")
        assert tier.breaker.state == "open"
        assert await tier.status() == "degraded: circuit open"
        with pytest.raises(CacheUnavailable, match="circuit open"):
            await tier.purge_tags(["v:1"])  # the purger must retry: nothing was purged
        assert time.monotonic() - started < 2
    finally:
        redis_clean.start()
        await tier.close()
