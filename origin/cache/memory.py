"""L1: a small in-process LRU with a short TTL, dropped by tag (locally or through pub/sub).

Also the in-memory fake of the Redis tier's purge protocol in tests.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from origin.cache.base import CacheEntry
from origin.types import CacheKey, Tag

# How many recent tag purges are remembered to refuse a racing store (a search lasts < 1 s).
_PURGE_MEMORY = 4096


class MemoryTier:
    """Bounded entries, each living `ttl_s`; a tag -> keys index for purges."""

    name = "l1"

    def __init__(
        self, max_entries: int, ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: OrderedDict[CacheKey, tuple[float, CacheEntry]] = OrderedDict()
        self._by_tag: dict[Tag, set[CacheKey]] = {}
        # Purge generation: a counter, and for recently purged tags the generation of their purge.
        self.epoch = 0
        self._purged: OrderedDict[Tag, int] = OrderedDict()
        # Stores that began before this generation are refused: what they raced is forgotten.
        self._floor = 0

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: CacheKey) -> CacheEntry | None:
        item = self._entries.get(key)
        if item is None:
            return None
        expires, entry = item
        if expires <= self._clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry

    async def put(self, key: CacheKey, entry: CacheEntry, *, epoch: int | None = None) -> None:
        if self.max_entries <= 0 or self._raced_purge(entry.tags, epoch):
            return
        self._drop(key)
        self._entries[key] = (self._clock() + self.ttl_s, entry)
        for tag in entry.tags:
            self._by_tag.setdefault(tag, set()).add(key)
        while len(self._entries) > self.max_entries:
            self._drop(next(iter(self._entries)))

    async def keys_for_tags(self, tags: Sequence[Tag]) -> list[CacheKey]:
        keys: set[CacheKey] = set()
        for tag in tags:
            keys |= self._by_tag.get(tag, set())
        return sorted(keys)

    async def purge_tags(self, tags: Sequence[Tag]) -> list[CacheKey]:
        keys = await self.keys_for_tags(tags)
        for key in keys:
            self._drop(key)
        self.epoch += 1
        for tag in tags:
            self._purged[tag] = self.epoch
            self._purged.move_to_end(tag)
        while len(self._purged) > _PURGE_MEMORY:
            self._floor = self._purged.popitem(last=False)[1]
        return keys

    def clear(self) -> None:
        """Forget everything (after missed invalidations, e.g. a pub/sub reconnect)."""
        self._entries.clear()
        self._by_tag.clear()
        self.epoch += 1
        self._purged.clear()
        self._floor = self.epoch

    def _raced_purge(self, tags: Sequence[Tag], epoch: int | None) -> bool:
        if epoch is None or epoch == self.epoch:
            return False
        if epoch < self._floor:
            return True
        return any(self._purged.get(tag, 0) > epoch for tag in tags)

    def _drop(self, key: CacheKey) -> None:
        item = self._entries.pop(key, None)
        if item is None:
            return
        for tag in item[1].tags:
            keys = self._by_tag.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_tag[tag]
