"""Single flight: concurrent identical misses share one search, within an instance (a shared
task per key) and across instances (a Redis lock; the others poll the entry until a deadline)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from origin.cache.base import CacheEntry, CacheUnavailable
from origin.cache.redis import RedisTier
from origin.metrics import SINGLEFLIGHT_WAITS
from origin.types import CacheKey

T = TypeVar("T")
POLL_S = 0.01


class LocalFlight(Generic[T]):
    """At most one running call per key; later callers await the same task."""

    def __init__(self) -> None:
        self._running: dict[CacheKey, asyncio.Task[T]] = {}

    async def run(self, key: CacheKey, call: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """The call's result, and whether this caller waited for another's call."""
        task = self._running.get(key)
        waited = task is not None
        if task is None:
            task = asyncio.ensure_future(call())
            self._running[key] = task
            task.add_done_callback(lambda t: self._finished(key, t))
        else:
            SINGLEFLIGHT_WAITS.labels(scope="local").inc()
        # Shielded: one caller going away (client disconnect) must not cancel the others' search.
        return await asyncio.shield(task), waited

    def _finished(self, key: CacheKey, task: asyncio.Task[T]) -> None:
        if self._running.get(key) is task:
            del self._running[key]
        if not task.cancelled():
            task.exception()  # retrieved here, so an error nobody awaited is not logged as lost


async def wait_for_entry(tier: RedisTier, key: CacheKey, deadline_s: float) -> CacheEntry | None:
    """Poll Redis for the entry another instance is computing; None at the deadline, when Redis
    stops answering, or when the holder let go without storing one (a degraded answer is never
    stored, nor a failure): the caller then searches itself."""
    SINGLEFLIGHT_WAITS.labels(scope="redis").inc()
    stop = time.monotonic() + deadline_s
    delay = POLL_S
    while time.monotonic() < stop:
        await asyncio.sleep(min(delay, max(0.0, stop - time.monotonic())))
        try:
            entry, locked = await tier.entry_or_lock(key)
        except CacheUnavailable:
            return None
        if entry is not None or not locked:
            return entry
        delay = min(delay * 1.5, 0.1)
    return None
