"""Cloudflare tiers of the purger (write path): Cache API purge by tag and Workers KV bulk delete,
through the official `cloudflare` SDK, paced by the plan's purge rate and Retry-After."""

from __future__ import annotations

import asyncio
import email.utils
import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import cloudflare

from origin.metrics import CLOUDFLARE_API_CALLS
from origin.purger.plan import MAX_KV_KEYS_PER_REQUEST, MAX_TAGS_PER_REQUEST, chunks
from origin.purger.targets import TierError
from origin.types import CacheKey, Tag

# Purge requests per second and bucket size per plan (Cloudflare docs: cache/how-to/purge-cache).
PLAN_RATES: dict[str, tuple[float, float]] = {
    "free": (5 / 60, 25),
    "pro": (5.0, 25),
    "business": (10.0, 50),
    "enterprise": (50.0, 500),
}


class TokenBucket:
    """Cloudflare's own token-bucket model, kept on our side so we rarely meet a 429."""

    def __init__(
        self, rate_per_s: float, capacity: float, clock: Callable[[], float] = time.monotonic
    ):
        self.rate, self.capacity, self.clock = rate_per_s, capacity, clock
        self.tokens = capacity
        self.updated = clock()
        self.paused_until = 0.0
        self._lock = asyncio.Lock()

    @classmethod
    def for_plan(cls, plan: str) -> TokenBucket:
        if plan not in PLAN_RATES:
            raise ValueError(f"unknown Cloudflare plan {plan!r}: one of {sorted(PLAN_RATES)}")
        return cls(*PLAN_RATES[plan])

    def pause(self, seconds: float) -> None:
        """After a 429: no request before Retry-After, and start again with an empty bucket."""
        self.paused_until = max(self.paused_until, self.clock() + seconds)
        self.tokens = 0.0

    def wait_s(self) -> float:
        """How long until a token is free (0 when one is now)."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if now < self.paused_until:
            return self.paused_until - now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    async def acquire(self) -> None:
        async with self._lock:  # FIFO: callers take tokens in order
            delay = self.wait_s()
            if delay > 0:
                await asyncio.sleep(delay)
                self.wait_s()  # refill for the time slept
            self.tokens -= 1


def retry_after_s(headers: Any) -> float | None:
    """Retry-After as seconds (the header holds seconds or an HTTP date)."""
    raw = headers.get("retry-after") if headers is not None else None
    if not raw:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


async def _call(operation: str, bucket: TokenBucket, request: Callable[[], Awaitable[Any]]) -> Any:
    """One API call: paced, counted by outcome, every failure turned into a retryable TierError."""
    await bucket.acquire()
    try:
        result = await request()
    except cloudflare.RateLimitError as exc:
        CLOUDFLARE_API_CALLS.labels(operation, "429").inc()
        wait = retry_after_s(exc.response.headers)
        bucket.pause(wait if wait is not None else 60.0)
        raise TierError(operation, "429 rate limited", retry_after_s=wait) from exc
    except cloudflare.APIStatusError as exc:
        outcome = "5xx" if exc.status_code >= 500 else "error"
        CLOUDFLARE_API_CALLS.labels(operation, outcome).inc()
        raise TierError(operation, f"HTTP {exc.status_code}") from exc
    except cloudflare.APIError as exc:  # timeouts, connection errors, malformed answers
        CLOUDFLARE_API_CALLS.labels(operation, "error").inc()
        raise TierError(operation, f"{type(exc).__name__}: {exc}") from exc
    CLOUDFLARE_API_CALLS.labels(operation, "ok").inc()
    return result


class CloudflareCacheTarget:
    """POST /zones/{zone}/purge_cache {"tags": [...]}: at most 100 tags a request."""

    name = "cloudflare_cache"

    def __init__(self, client: cloudflare.AsyncCloudflare, zone_id: str, bucket: TokenBucket):
        self.client, self.zone_id, self.bucket = client, zone_id, bucket

    async def purge(self, tags: Sequence[Tag], kv_keys: Sequence[CacheKey]) -> None:
        for batch in chunks(sorted(set(tags)), MAX_TAGS_PER_REQUEST):
            request = functools.partial(self.client.cache.purge, zone_id=self.zone_id, tags=batch)
            await _call("purge_tags", self.bucket, request)


class CloudflareKVTarget:
    """POST /accounts/{account}/storage/kv/namespaces/{ns}/bulk/delete ["key", ...]."""

    name = "cloudflare_kv"

    def __init__(
        self, client: cloudflare.AsyncCloudflare, account_id: str, namespace_id: str,
        bucket: TokenBucket,
    ) -> None:  # fmt: skip
        self.client, self.account_id, self.namespace_id = client, account_id, namespace_id
        self.bucket = bucket

    async def purge(self, tags: Sequence[Tag], kv_keys: Sequence[CacheKey]) -> None:
        for batch in chunks(sorted(set(kv_keys)), MAX_KV_KEYS_PER_REQUEST):
            request = functools.partial(
                self.client.kv.namespaces.bulk_delete,
                self.namespace_id, account_id=self.account_id, body=batch,
            )  # fmt: skip
            result = await _call("kv_delete", self.bucket, request)
            failed = getattr(result, "unsuccessful_keys", None)
            if failed:  # Cloudflare says to retry these
                raise TierError(self.name, f"{len(failed)} keys not deleted")
