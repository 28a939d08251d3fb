"""Dashboard history: every instance adds its per-second deltas to shared buckets (the last hour
at 1 s, the last day at 1 min), in Redis when configured (all instances, survives restarts), else
in this process. A background recorder samples once a second."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from origin.cache.redis import connect
from origin.dashboard.edge import edge_deltas
from origin.dashboard.sample import GAUGES, LATEST, Fields, deltas, snapshot
from origin.settings import Settings

log = logging.getLogger(__name__)
HOUR_S = 3_600
DAY_S = 86_400
_PREFIX = "vsearch:dash:"
# The edge's running totals (origin/dashboard/edge.py), or None when it could not be read.
EdgeReader = Callable[[], Awaitable[Fields | None]]


def minute_share(fields: Mapping[str, float]) -> Fields:
    """A second's contribution to its minute: counters as they are, levels as 1/60 of an average."""
    return {k: v / 60 if k in GAUGES else v for k, v in fields.items()}


class History(Protocol):
    async def add(self, t: int, fields: Fields) -> None: ...
    async def seconds(self, start: int, end: int) -> list[tuple[int, Fields]]: ...
    async def minutes(self, start: int, end: int) -> list[tuple[int, Fields]]: ...
    async def close(self) -> None: ...


def _merge(bucket: Fields, fields: Mapping[str, float]) -> None:
    for key, value in fields.items():
        bucket[key] = value if key in LATEST else bucket.get(key, 0.0) + value


class MemoryHistory:
    """This process alone (no Redis): lost on restart."""

    def __init__(self) -> None:
        self._seconds: dict[int, Fields] = {}
        self._minutes: dict[int, Fields] = {}

    async def add(self, t: int, fields: Fields) -> None:
        _merge(self._seconds.setdefault(t, {}), fields)
        _merge(self._minutes.setdefault(t - t % 60, {}), minute_share(fields))
        for store, keep in ((self._seconds, HOUR_S), (self._minutes, DAY_S)):
            for old in [k for k in store if k < t - keep]:
                del store[old]

    async def seconds(self, start: int, end: int) -> list[tuple[int, Fields]]:
        return [(t, dict(self._seconds.get(t, {}))) for t in range(start, end + 1)]

    async def minutes(self, start: int, end: int) -> list[tuple[int, Fields]]:
        first = start - start % 60
        return [(t, dict(self._minutes.get(t, {}))) for t in range(first, end + 1, 60)]

    async def close(self) -> None:
        return None


class RedisHistory:
    """Buckets shared by every instance: one hash per second and per minute, with a TTL."""

    def __init__(self, client: Redis) -> None:
        self.client = client

    async def add(self, t: int, fields: Fields) -> None:
        pipe = self.client.pipeline(transaction=False)
        for key, ttl, values in (
            (f"{_PREFIX}s:{t}", HOUR_S + 60, fields),
            (f"{_PREFIX}m:{t - t % 60}", DAY_S + 120, minute_share(fields)),
        ):
            for name, value in values.items():
                if name in LATEST:
                    pipe.hset(key, name, value)
                else:
                    pipe.hincrbyfloat(key, name, value)
            pipe.expire(key, ttl)
        await pipe.execute()

    async def _read(self, kind: str, times: range) -> list[tuple[int, Fields]]:
        pipe = self.client.pipeline(transaction=False)
        for t in times:
            pipe.hgetall(f"{_PREFIX}{kind}:{t}")
        rows = await pipe.execute()
        return [
            (t, {k.decode(): float(v) for k, v in row.items()})
            for t, row in zip(times, rows, strict=True)
        ]

    async def seconds(self, start: int, end: int) -> list[tuple[int, Fields]]:
        return await self._read("s", range(start, end + 1))

    async def minutes(self, start: int, end: int) -> list[tuple[int, Fields]]:
        return await self._read("m", range(start - start % 60, end + 1, 60))

    async def close(self) -> None:
        await self.client.aclose()


async def _read(edge: EdgeReader | None) -> Fields | None:
    return None if edge is None else await edge()


async def record(history: History, interval_s: float = 1.0, edge: EdgeReader | None = None) -> None:
    """Once a second, just past the second's end, add what this process did in it and what the
    edge counted (when there is an `edge` to read)."""
    previous, previous_edge = snapshot(), await _read(edge)
    while True:
        now = time.time()
        await asyncio.sleep(math.ceil(now / interval_s) * interval_s - now + 0.02)
        t = int(time.time() - 0.5)  # before the edge read, which may take its timeout
        current, current_edge = snapshot(), await _read(edge)
        fields = deltas(previous, current) | edge_deltas(previous_edge, current_edge)
        fields["instance_seconds"] = 1.0
        previous, previous_edge = current, current_edge
        try:
            await history.add(t, fields)
        except (RedisError, OSError) as exc:
            # History is best effort: a Redis outage leaves a gap, never stops the recorder.
            log.warning("dashboard sample not stored", extra={"error": type(exc).__name__})


@contextlib.asynccontextmanager
async def recorded_history(
    settings: Settings, edge: EdgeReader | None = None
) -> AsyncIterator[History]:
    """The history store for `settings`, with its recorder running until exit."""
    history: History
    # With caching off (the load test's baseline) Redis stays out of the measurement entirely.
    if settings.redis_url is None or not settings.cache_enabled:
        history = MemoryHistory()
    else:
        history = RedisHistory(connect(settings.redis_url, settings.redis_timeout_s))
    task = asyncio.create_task(record(history, edge=edge))
    try:
        yield history
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 5)  # bounded: shutdown must never hang here
        await history.close()
