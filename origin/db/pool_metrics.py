"""Database pool metrics: size and connections in use, read from the pools at scrape time (no
background sampler), and how long requests waited to acquire a connection.

In multiprocess mode (`vsearch serve` with VSEARCH_WORKERS > 1) a scrape reaches one worker, which
cannot read the other workers' pools: there each worker writes its own levels to `livesum` gauges
on every acquire and release instead, and `/metrics` sums the live workers."""

from __future__ import annotations

import time
import weakref
from collections.abc import Generator, Iterator
from typing import Any

from prometheus_client import REGISTRY, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from origin.metrics import multiprocess_dir

POOL_ACQUIRE_SECONDS = Histogram(
    "vsearch_db_pool_acquire_seconds",
    "Wait for a pooled database connection.",
    buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
# Pools of this process (tests run several apps in one process); skipped once closed.
_POOLS: weakref.WeakSet[Any] = weakref.WeakSet()


def pool_usage() -> tuple[int, int, int]:
    """(open connections, connections in use, maximum) summed over this process's pools."""
    size = in_use = maximum = 0
    for pool in list(_POOLS):
        if pool.is_closing():
            continue
        opened = pool.get_size()
        size += opened
        in_use += opened - pool.get_idle_size()
        maximum += pool.get_max_size()
    return size, in_use, maximum


class PoolCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        size, in_use, maximum = pool_usage()
        yield GaugeMetricFamily("vsearch_db_pool_size", "Open pooled connections.", value=size)
        yield GaugeMetricFamily(
            "vsearch_db_pool_in_use", "Pooled connections lent out right now.", value=in_use
        )
        yield GaugeMetricFamily(
            "vsearch_db_pool_max", "The pool's upper bound (VSEARCH_POOL_MAX).", value=maximum
        )


REGISTRY.register(PoolCollector())


def _shared_gauge(name: str, documentation: str) -> Gauge:
    # Unregistered: the multiprocess collector reads every worker's value from its file.
    return Gauge(name, documentation, multiprocess_mode="livesum", registry=None)


# Multiprocess mode only: (size, in use, max), as pool_usage() returns them.
_SHARED = (
    (
        _shared_gauge("vsearch_db_pool_size", "Open pooled connections."),
        _shared_gauge("vsearch_db_pool_in_use", "Pooled connections lent out right now."),
        _shared_gauge("vsearch_db_pool_max", "The pool's upper bound (VSEARCH_POOL_MAX)."),
    )
    if multiprocess_dir() is not None
    else None
)


def _share_usage() -> None:
    """This worker's pool levels into the shared gauges (multiprocess mode; else nothing)."""
    if _SHARED is not None:
        for gauge, value in zip(_SHARED, pool_usage(), strict=True):
            gauge.set(value)


class _TimedAcquire:
    """asyncpg's acquire context (`async with` or `await`), timed until a connection is in hand."""

    def __init__(self, context: Any) -> None:
        self.context = context

    async def __aenter__(self) -> Any:
        started = time.perf_counter()
        try:
            return await self.context.__aenter__()
        finally:
            POOL_ACQUIRE_SECONDS.observe(time.perf_counter() - started)
            _share_usage()

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.context.__aexit__(*exc)
        finally:
            _share_usage()

    def __await__(self) -> Generator[Any, None, Any]:
        return self._acquired().__await__()

    async def _acquired(self) -> Any:
        started = time.perf_counter()
        try:
            return await self.context
        finally:
            POOL_ACQUIRE_SECONDS.observe(time.perf_counter() - started)
            _share_usage()


class WatchedPool:
    """The asyncpg pool, its acquires timed and bounded (`acquire_timeout_s` unless the caller
    gives one: asyncpg's default waits forever); everything else passes through unchanged."""

    def __init__(self, pool: Any, acquire_timeout_s: float | None = None) -> None:
        self.pool = pool
        self.acquire_timeout_s = acquire_timeout_s

    def acquire(self, *, timeout: float | None = None) -> _TimedAcquire:
        return _TimedAcquire(self.pool.acquire(timeout=timeout or self.acquire_timeout_s))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pool, name)


def watch_pool(pool: Any, acquire_timeout_s: float | None = None) -> Any:
    """`pool` counted in the gauges until it closes, and its acquires timed and bounded.
    (asyncpg's Pool has __slots__, so it is wrapped rather than patched.)"""
    watched = WatchedPool(pool, acquire_timeout_s)
    _POOLS.add(watched)
    _share_usage()
    return watched
