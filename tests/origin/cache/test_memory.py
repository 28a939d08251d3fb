"""L1: bounded, short-lived, dropped by tag, and never re-filled by a search that raced a purge."""

from __future__ import annotations

from origin.cache.base import CacheEntry
from origin.cache.memory import MemoryTier


def entry(*tags: str) -> CacheEntry:
    return CacheEntry({"results": [], "took_ms": 1.0}, tags, 0.0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_entries_expire_after_the_ttl() -> None:
    clock = Clock()
    l1 = MemoryTier(10, ttl_s=5, clock=clock)
    await l1.put("k", entry("v:1"))
    clock.now += 4.9
    assert await l1.get("k") is not None
    clock.now += 0.2
    assert await l1.get("k") is None
    assert await l1.keys_for_tags(["v:1"]) == []


async def test_the_least_recently_used_entry_goes_first() -> None:
    l1 = MemoryTier(2, ttl_s=60)
    await l1.put("a", entry("v:1"))
    await l1.put("b", entry("v:2"))
    await l1.get("a")
    await l1.put("c", entry("v:3"))
    assert len(l1) == 2
    assert await l1.get("b") is None
    assert await l1.get("a") is not None


async def test_purge_by_tag_drops_every_entry_holding_it() -> None:
    l1 = MemoryTier(10, ttl_s=60)
    await l1.put("a", entry("v:1", "q:all"))
    await l1.put("b", entry("v:2", "q:all"))
    await l1.put("c", entry("v:3"))
    assert await l1.purge_tags(["v:1", "v:2"]) == ["a", "b"]
    assert await l1.get("a") is None and await l1.get("b") is None
    assert await l1.get("c") is not None
    assert await l1.purge_tags(["v:1"]) == []  # idempotent


async def test_a_store_that_raced_a_purge_of_its_tags_is_refused() -> None:
    l1 = MemoryTier(10, ttl_s=60)
    before = l1.epoch  # read before the search ran
    await l1.purge_tags(["v:7"])
    await l1.put("stale", entry("v:7"), epoch=before)
    await l1.put("other", entry("v:8"), epoch=before)
    assert await l1.get("stale") is None
    assert await l1.get("other") is not None
    l1.clear()
    await l1.put("after-clear", entry("v:9"), epoch=before)
    assert await l1.get("after-clear") is None
