"""Cache tiers the purger clears (write path): the origin's Redis (L2, and every L1 through it)
and the local edge; Cloudflare's are in `cloudflare.py`. Every purge is idempotent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import httpx

from origin.cache.base import TagPurger
from origin.types import CacheKey, Tag

__all__ = ["LocalEdgeTarget", "OriginCacheTarget", "PurgeTarget", "TagPurger", "TierError"]


class TierError(Exception):
    """A tier failed; the batch is retried, no sooner than `retry_after_s` when it is known."""

    def __init__(self, tier: str, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(f"{tier}: {message}")
        self.tier = tier
        self.retry_after_s = retry_after_s


class PurgeTarget(Protocol):
    name: str

    async def purge(self, tags: Sequence[Tag], kv_keys: Sequence[CacheKey]) -> None:
        """Remove everything tagged with any of `tags` (and the KV keys found for them)."""


class OriginCacheTarget:
    """Redis L2 entries and tag index (the read side tells every instance's L1 by pub/sub), or,
    without Redis, this instance's L1."""

    name = "origin_cache"

    def __init__(self, tag_purger: TagPurger) -> None:
        self.tag_purger = tag_purger

    async def purge(self, tags: Sequence[Tag], kv_keys: Sequence[CacheKey]) -> None:
        try:
            await self.tag_purger.purge_tags(list(tags))
        except Exception as exc:  # any Redis failure is a retry, never a lost purge
            raise TierError(self.name, f"{type(exc).__name__}: {exc}") from exc


class LocalEdgeTarget:
    """The local edge host's admin path (scripts/edge/run): KV and Cache API by its tag index."""

    name = "local_edge"

    def __init__(self, base_url: str, token: str, client: httpx.AsyncClient) -> None:
        self.url = base_url.rstrip("/") + "/__local/purge"
        self.token = token
        self.client = client

    async def purge(self, tags: Sequence[Tag], kv_keys: Sequence[CacheKey]) -> None:
        try:
            response = await self.client.post(
                self.url,
                json={"tags": list(tags)},
                headers={"Authorization": f"Bearer {self.token}"},
            )
        except httpx.HTTPError as exc:
            raise TierError(self.name, f"{type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise TierError(self.name, f"HTTP {response.status_code}")
