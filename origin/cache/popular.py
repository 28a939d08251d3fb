"""Popular queries: asks per cache key counted in Redis over a sliding window, with the canonical
parameters kept beside the counts so `vsearch warm` can replay the top ones.

Two fixed buckets of `window_s` each (`vs:pop:<n>` ZSET of counts, `vs:popq:<n>` HASH of params),
estimated as current + previous x the part of the previous bucket still inside the window (the
sliding-window estimate of rate limiters). Both expire after two windows: bounded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from origin.cache.redis import RedisTier
from origin.types import CacheKey

COUNTS = "vs:pop:"
PARAMS = "vs:popq:"


@dataclass(frozen=True)
class PopularQuery:
    key: CacheKey
    params: str  # canonical parameters, URL-encoded: parsed again they give `key`
    asks: float


class PopularTracker:
    """Marks a key popular once asked `threshold` times within `window_s`."""

    def __init__(
        self,
        tier: RedisTier,
        threshold: int,
        window_s: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tier = tier
        self.threshold = threshold
        self.window_s = window_s
        self._clock = clock

    def _buckets(self) -> tuple[int, float]:
        """The current bucket number, and the weight of the previous one."""
        now = self._clock()
        bucket = int(now // self.window_s)
        elapsed = (now - bucket * self.window_s) / self.window_s
        return bucket, 1.0 - elapsed

    async def record(self, key: CacheKey, params: str) -> bool:
        """Count one ask; is the key popular now? (Raises CacheUnavailable without Redis.)"""
        bucket, weight = self._buckets()
        ttl = 2 * self.window_s

        async def count(r: Redis) -> list[Any]:
            async with r.pipeline(transaction=False) as pipe:
                pipe.zincrby(f"{COUNTS}{bucket}", 1, key)
                pipe.expire(f"{COUNTS}{bucket}", ttl)
                pipe.hset(f"{PARAMS}{bucket}", key, params)
                pipe.expire(f"{PARAMS}{bucket}", ttl)
                pipe.zscore(f"{COUNTS}{bucket - 1}", key)
                return await pipe.execute()

        current, _, _, _, previous = await self.tier.run(count)
        asks = float(current) + float(previous or 0) * weight
        return asks >= self.threshold

    async def top(self, n: int) -> list[PopularQuery]:
        """The `n` most asked keys of the window, most asked first, with their parameters."""
        bucket, weight = self._buckets()
        cur, prev = f"{COUNTS}{bucket}", f"{COUNTS}{bucket - 1}"

        async def read(r: Redis) -> list[Any]:
            async with r.pipeline(transaction=False) as pipe:
                pipe.zunion({cur: 1.0, prev: weight}, withscores=True)
                pipe.hgetall(f"{PARAMS}{bucket}")
                pipe.hgetall(f"{PARAMS}{bucket - 1}")
                return await pipe.execute()

        scores, params_now, params_before = await self.tier.run(read)
        params: dict[bytes, bytes] = {**params_before, **params_now}
        ranked = sorted(scores, key=lambda kv: (-kv[1], kv[0]))
        out = []
        for raw_key, asks in ranked[:n]:
            if raw_key in params:
                out.append(PopularQuery(raw_key.decode(), params[raw_key].decode(), float(asks)))
        return out
