"""What every cache tier shares: the stored entry, the tier protocol, and the purge protocol that
the purger drives (the in-memory tier implements both and doubles as the test fake)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from origin.types import CacheKey, JSONDict, Tag


class CacheUnavailable(Exception):
    """A tier could not answer (error, timeout, circuit open). Readers treat it as a miss;
    the purger must retry, because nothing was purged."""


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """A search response body as the search produced it, its tags, and when it was stored."""

    body: JSONDict
    tags: tuple[Tag, ...]
    stored_at: float  # unix seconds


class CacheTier(Protocol):
    """A key -> entry store. `get` may raise CacheUnavailable; `put` may skip silently."""

    name: str  # the X-Cache-Layer and metrics label: "l1" or "redis"

    async def get(self, key: CacheKey) -> CacheEntry | None: ...

    async def put(self, key: CacheKey, entry: CacheEntry, *, epoch: int | None = None) -> None:
        """Store unless one of the entry's tags was purged after `epoch` (read before the
        search ran), so a search that raced a purge never re-inserts the old data."""
        ...


class TagPurger(Protocol):
    """Purge by tag: what the purger calls for each batch. Both methods are idempotent."""

    async def keys_for_tags(self, tags: Sequence[Tag]) -> list[CacheKey]: ...

    async def purge_tags(self, tags: Sequence[Tag]) -> list[CacheKey]: ...
