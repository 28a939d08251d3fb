"""Cloudflare tiers of the purger (write path): Cache API purge by tag and Workers KV bulk delete,
through the official `cloudflare` SDK, paced by the plan's purge rate and Retry-After."""

from __future__ import annotations

import asyncio
import collections
import email.utils
import functools
import math
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
# Past 1,200 API calls in 5 minutes Cloudflare blocks the whole account's API for 5 minutes
# (RESEARCH.md): every call of this process (purges, KV deletes) stays under this many.
ACCOUNT_CALL_LIMIT = 1_000
ACCOUNT_WINDOW_S = 300.0

Sleep = Callable[[float], Awaitable[None]]


class TokenBucket:
    """Cloudflare's own token-bucket model, kept on our side so we rarely meet a 429."""

    def __init__(
        self, rate_per_s: float, capacity: float, clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ):  # fmt: skip
        self.rate, self.capacity, self.clock, self.sleep = rate_per_s, capacity, clock, sleep
        self.tokens = capacity
        self.updated = clock()
        self.paused_until = 0.0
        self._lock = asyncio.Lock()

    @classmethod
    def for_plan(
        cls, plan: str, clock: Callable[[], float] = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> TokenBucket:
        if plan not in PLAN_RATES:
            raise ValueError(f"unknown Cloudflare plan {plan!r}: one of {sorted(PLAN_RATES)}")
        return cls(*PLAN_RATES[plan], clock=clock, sleep=sleep)

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

    def time_for_s(self, requests: int) -> float:
        """How long until the last of `requests` more requests may start (the fallback's plan)."""
        if requests <= 0:
            return 0.0
        self.wait_s()  # refill
        paused = max(self.paused_until - self.clock(), 0.0)
        tokens = min(self.capacity, self.tokens + paused * self.rate)
        return paused + max(requests - tokens, 0.0) / self.rate

    async def acquire(self) -> None:
        async with self._lock:  # FIFO: callers take tokens in order
            delay = self.wait_s()
            if delay > 0:
                await self.sleep(delay)
                self.wait_s()  # refill for the time slept
            self.tokens -= 1


class AccountBudget:
    """A sliding count of this process's Cloudflare API calls: never more than `limit` started
    within `window_s` (Cloudflare's account-wide 1,200 per 5 minutes, with a margin)."""

    def __init__(
        self, limit: int = ACCOUNT_CALL_LIMIT, window_s: float = ACCOUNT_WINDOW_S,
        clock: Callable[[], float] = time.monotonic, sleep: Sleep = asyncio.sleep,
    ) -> None:  # fmt: skip
        self.limit, self.window_s, self.clock, self.sleep = limit, window_s, clock, sleep
        self.calls: collections.deque[float] = collections.deque()
        self.paused_until = 0.0
        self._lock = asyncio.Lock()

    def pause(self, seconds: float) -> None:
        """After a 429 from any endpoint: no call at all before Retry-After. A 429 does not say
        which limit it was, and past the account-wide one Cloudflare blocks every API call."""
        self.paused_until = max(self.paused_until, self.clock() + seconds)

    def _expire(self, now: float) -> None:
        while self.calls and self.calls[0] <= now - self.window_s:
            self.calls.popleft()

    def time_for_s(self, requests: int) -> float:
        """How long until the last of `requests` more calls may start within the limit."""
        now = self.clock()
        self._expire(now)
        paused = max(self.paused_until - now, 0.0)
        excess = len(self.calls) + requests - self.limit
        if excess <= 0:
            return paused
        if excess <= len(self.calls):
            return max(paused, self.calls[excess - 1] + self.window_s - now)
        return max(paused, self.window_s * math.ceil(excess / self.limit))  # past a window

    async def acquire(self) -> None:
        async with self._lock:
            while (delay := self.time_for_s(1)) > 0:
                await self.sleep(delay)
            self.calls.append(self.clock())


# Every Cloudflare call of this process counts against the one account-wide limit.
ACCOUNT_CALLS = AccountBudget()


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


async def _call(
    operation: str, bucket: TokenBucket, request: Callable[[], Awaitable[Any]],
    account: AccountBudget,
) -> Any:  # fmt: skip
    """One API call: paced, counted by outcome, every failure turned into a retryable TierError."""
    await bucket.acquire()
    await account.acquire()
    try:
        result = await request()
    except cloudflare.RateLimitError as exc:
        CLOUDFLARE_API_CALLS.labels(operation, "429").inc()
        wait = retry_after_s(exc.response.headers)
        bucket.pause(wait if wait is not None else 60.0)
        account.pause(wait if wait is not None else 60.0)  # every other endpoint waits too
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
    """POST /zones/{zone}/purge_cache {"tags": [...]}: at most 100 tags a request; past the
    budget, {"purge_everything": true} once for a whole backlog (`origin/purger/fallback.py`)."""

    name = "cloudflare_cache"

    def __init__(
        self, client: cloudflare.AsyncCloudflare, zone_id: str, bucket: TokenBucket,
        account: AccountBudget = ACCOUNT_CALLS,
    ) -> None:  # fmt: skip
        self.client, self.zone_id, self.bucket, self.account = client, zone_id, bucket, account
        self.last_everything = -math.inf

    async def purge(self, tags: Sequence[Tag], kv_keys: Sequence[CacheKey]) -> None:
        for batch in chunks(sorted(set(tags)), MAX_TAGS_PER_REQUEST):
            request = functools.partial(self.client.cache.purge, zone_id=self.zone_id, tags=batch)
            await _call("purge_tags", self.bucket, request, self.account)

    def requests_time_s(self, requests: int) -> float:
        """How long `requests` more purge requests take at the plan's rate and the account's."""
        return max(self.bucket.time_for_s(requests), self.account.time_for_s(requests))

    async def purge_everything(self, min_interval_s: float) -> None:
        """The whole zone's cache, at most once per `min_interval_s` (each one empties it)."""
        wait = self.last_everything + min_interval_s - self.bucket.clock()
        if wait > 0:
            await self.bucket.sleep(wait)
        request = functools.partial(
            self.client.cache.purge, zone_id=self.zone_id, purge_everything=True
        )
        await _call("purge_everything", self.bucket, request, self.account)
        self.last_everything = self.bucket.clock()


class CloudflareKVTarget:
    """POST /accounts/{account}/storage/kv/namespaces/{ns}/bulk/delete ["key", ...]."""

    name = "cloudflare_kv"

    def __init__(
        self, client: cloudflare.AsyncCloudflare, account_id: str, namespace_id: str,
        bucket: TokenBucket, account: AccountBudget = ACCOUNT_CALLS,
    ) -> None:  # fmt: skip
        self.client, self.account_id, self.namespace_id = client, account_id, namespace_id
        self.bucket, self.account = bucket, account

    async def purge(self, tags: Sequence[Tag], kv_keys: Sequence[CacheKey]) -> None:
        for batch in chunks(sorted(set(kv_keys)), MAX_KV_KEYS_PER_REQUEST):
            request = functools.partial(
                self.client.kv.namespaces.bulk_delete,
                self.namespace_id, account_id=self.account_id, body=batch,
            )  # fmt: skip
            result = await _call("kv_delete", self.bucket, request, self.account)
            failed = getattr(result, "unsuccessful_keys", None)
            if failed:  # Cloudflare says to retry these
                raise TierError(self.name, f"{len(failed)} keys not deleted")
