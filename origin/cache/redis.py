"""L2: Redis result entries, the tag -> keys index, purge by tag, and the single-flight lock.

Key schema (docs/cache-tiers in the README):
  vs:r:<cache key>  msgpack {body, tags, stored_at}, TTL redis_ttl_s
  vs:t:<tag>        ZSET of cache keys, score = when the edge may have dropped it (ms); pruned
                    on every add, the key's own TTL refreshed: bounded, and it covers the edge
  vs:g:<tag>        purge generation of a recently purged tag (refuses racing stores)
  vs:epoch          purge generation counter
  vs:lock:<key>     single-flight lock, SET NX PX
Every call is guarded: a short timeout, one retry, and the circuit breaker.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import msgpack
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from origin.cache.base import CacheEntry, CacheUnavailable
from origin.cache.breaker import CircuitBreaker
from origin.metrics import REDIS_ERRORS
from origin.settings import Settings
from origin.types import CacheKey, Tag

T = TypeVar("T")
ENTRY = "vs:r:"
INDEX = "vs:t:"
PURGED = "vs:g:"
EPOCH = "vs:epoch"
LOCK = "vs:lock:"
CHANNEL = "vs:invalidate"
# The index must outlive what the edge may still hold, but not forever.
INDEX_TTL_CAP_S = 2 * 86_400
# A purge refuses racing stores for this long: far longer than any search.
PURGED_TTL_S = 60

_PUT = """
local n = tonumber(ARGV[6])
local epoch = tonumber(ARGV[4])
if epoch >= 0 then
  for i = 1, n do
    local purged = redis.call('GET', KEYS[1 + n + i])
    if purged and tonumber(purged) > epoch then return 0 end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
for i = 1, n do
  redis.call('ZADD', KEYS[1 + i], ARGV[7], ARGV[5])
  redis.call('ZREMRANGEBYSCORE', KEYS[1 + i], '-inf', ARGV[8])
  redis.call('EXPIRE', KEYS[1 + i], ARGV[3])
end
return 1
"""

_PURGE = """
local n = tonumber(ARGV[3])
local keys, seen = {}, {}
for i = 1, n do
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[i], ARGV[1], '+inf')) do
    if not seen[m] then seen[m] = true; keys[#keys + 1] = m end
  end
end
for _, m in ipairs(keys) do redis.call('DEL', ARGV[4] .. m) end
local epoch = redis.call('INCR', KEYS[2 * n + 1])
for i = 1, n do
  redis.call('DEL', KEYS[i])
  redis.call('SET', KEYS[n + i], epoch, 'EX', ARGV[2])
end
redis.call('PUBLISH', ARGV[5], ARGV[6])
return keys
"""

_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def connect(url: str, timeout_s: float, **extra: Any) -> Redis:
    """A client whose every call gives up after `timeout_s` and retries once (redis-py's
    defaults stalled 59 s on a hung server: RESEARCH.md)."""
    return Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 1),
        **extra,
    )


def encode_entry(entry: CacheEntry) -> bytes:
    value = {"body": entry.body, "tags": list(entry.tags), "stored_at": entry.stored_at}
    return msgpack.packb(value, use_bin_type=True, default=_default)  # type: ignore[no-any-return]


def decode_entry(raw: bytes | str) -> CacheEntry:
    value = msgpack.unpackb(raw, raw=False)
    return CacheEntry(value["body"], tuple(value["tags"]), float(value["stored_at"]))


def encode_tags(tags: Sequence[Tag]) -> str:
    return "\n".join(tags)


def decode_tags(data: bytes | str) -> list[Tag]:
    text = data.decode() if isinstance(data, bytes) else data
    return [t for t in text.split("\n") if t]


class RedisTier:
    """The Redis tier over one client; raises CacheUnavailable whenever Redis cannot answer."""

    name = "redis"

    def __init__(
        self, client: Redis, settings: Settings, breaker: CircuitBreaker | None = None
    ) -> None:
        self.client = client
        self.ttl_s = settings.redis_ttl_s
        edge_s = settings.cache_max_age_s + settings.cache_swr_s + settings.cache_sie_s
        self.index_ttl_s = min(settings.redis_ttl_s + edge_s, INDEX_TTL_CAP_S)
        self.breaker = breaker or CircuitBreaker()
        # A hard stop over the client's own timeouts: one try, one retry, a little slack.
        self.budget_s = 3 * settings.redis_timeout_s
        self._put = client.register_script(_PUT)
        self._purge = client.register_script(_PURGE)
        self._unlock = client.register_script(_UNLOCK)

    async def run(self, call: Callable[[Redis], Awaitable[T]]) -> T:
        """One guarded Redis operation: skipped while the circuit is open, bounded, counted."""
        if not self.breaker.allow():
            raise CacheUnavailable("redis circuit open")
        try:
            async with asyncio.timeout(self.budget_s):
                result = await call(self.client)
        except (RedisError, OSError, TimeoutError) as exc:
            REDIS_ERRORS.inc()
            self.breaker.failure()
            raise CacheUnavailable(f"redis: {type(exc).__name__}") from exc
        self.breaker.success()
        return result

    async def get(self, key: CacheKey) -> CacheEntry | None:
        return (await self.get_with_epoch(key))[0]

    async def get_with_epoch(self, key: CacheKey) -> tuple[CacheEntry | None, int]:
        """The entry, and the purge generation now (to pass to `put` after a search)."""
        raw, epoch = await self.run(lambda r: r.mget([ENTRY + key, EPOCH]))
        return (decode_entry(raw) if raw else None), int(epoch or 0)

    async def put(self, key: CacheKey, entry: CacheEntry, *, epoch: int | None = None) -> None:
        tags = list(entry.tags)
        now_ms = int(time.time() * 1000)
        keys = [ENTRY + key] + [INDEX + t for t in tags] + [PURGED + t for t in tags]
        args: list[bytes | str | int | float] = [
            encode_entry(entry),
            self.ttl_s,
            self.index_ttl_s,
            -1 if epoch is None else epoch,
            key,
            len(tags),
            now_ms + self.index_ttl_s * 1000,
            now_ms,
        ]
        await self.run(lambda r: self._put(keys=keys, args=args, client=r))

    async def keys_for_tags(self, tags: Sequence[Tag]) -> list[CacheKey]:
        now_ms = int(time.time() * 1000)

        async def union(r: Redis) -> list[list[bytes]]:
            async with r.pipeline(transaction=False) as pipe:
                for tag in tags:
                    pipe.zrangebyscore(INDEX + tag, now_ms, "+inf")
                return await pipe.execute()

        found = await self.run(union)
        return sorted({m.decode() for members in found for m in members})

    async def purge_tags(self, tags: Sequence[Tag]) -> list[CacheKey]:
        """Delete the entries holding any tag and the tags' index; tell every L1 (pub/sub)."""
        tags = list(dict.fromkeys(tags))
        if not tags:
            return []
        now_ms = int(time.time() * 1000)
        keys = [INDEX + t for t in tags] + [PURGED + t for t in tags] + [EPOCH]
        args: list[bytes | str | int | float] = [
            now_ms,
            PURGED_TTL_S,
            len(tags),
            ENTRY,
            CHANNEL,
            encode_tags(tags),
        ]
        purged = await self.run(lambda r: self._purge(keys=keys, args=args, client=r))
        return sorted(m.decode() for m in purged)

    async def entry_or_lock(self, key: CacheKey) -> tuple[CacheEntry | None, bool]:
        """The entry, and whether its single-flight lock is still held (one round trip)."""
        raw, lock = await self.run(lambda r: r.mget([ENTRY + key, LOCK + key]))
        return (decode_entry(raw) if raw else None), lock is not None

    async def try_lock(self, key: CacheKey, ttl_ms: int) -> str | None:
        """The single-flight lock for `key`: a token if this caller holds it, else None."""
        token = secrets.token_hex(8)
        won = await self.run(lambda r: r.set(LOCK + key, token, nx=True, px=ttl_ms))
        return token if won else None

    async def unlock(self, key: CacheKey, token: str) -> None:
        # Only the holder deletes: a lock that expired and was taken again stays.
        await self.run(lambda r: self._unlock(keys=[LOCK + key], args=[token], client=r))

    async def status(self) -> str:
        """For /readyz: "ok", or "degraded: <why>" (never raises)."""
        if self.breaker.state == "open":
            return "degraded: circuit open"
        try:
            await self.run(lambda r: r.ping())
        except CacheUnavailable as exc:
            return f"degraded: {exc}"
        return "ok"

    async def close(self) -> None:
        await self.client.aclose()


def _default(value: Any) -> Any:
    isoformat = getattr(value, "isoformat", None)
    if isoformat is not None:
        return isoformat()
    raise TypeError(f"cannot encode {type(value).__name__}")
