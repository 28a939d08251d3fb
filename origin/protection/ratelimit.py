"""Rate limits per client address and per bearer token (the `limits` library, sliding window
counters): in Redis when configured, so every instance shares them; in memory otherwise, and
while Redis fails (a breaker skips it), so a Redis outage never rejects or stalls a request."""

from __future__ import annotations

import hashlib
import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import RateLimiter, SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from redis.asyncio import Redis
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from origin.cache.breaker import CircuitBreaker
from origin.cache.redis import connect
from origin.protection.rejections import TooManyRequests, reject
from origin.settings import Settings, SettingsError

# Load balancers and Prometheus must always get through.
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
KEY_PREFIX = "vs:rl"


def parse_limit(text: str, env_name: str) -> RateLimitItem | None:
    """`"120/minute"` -> a limit; `"off"` or `"0"` -> none."""
    if text.strip().lower() in ("", "0", "off", "none"):
        return None
    try:
        return parse(text)
    except ValueError:
        raise SettingsError(f"{env_name} must look like 120/minute, got {text!r}") from None


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.client_limit = parse_limit(settings.rate_limit_client, "VSEARCH_RATE_LIMIT_CLIENT")
        self.key_limit = parse_limit(settings.rate_limit_key, "VSEARCH_RATE_LIMIT_KEY")
        self.exempt = frozenset(a.strip() for a in settings.rate_limit_exempt.split(",") if a)
        header = settings.client_ip_header
        self.ip_header = header.lower().encode() if header else None
        self.settings = settings
        self.breaker = CircuitBreaker()
        self._local: RateLimiter | None = None
        self._shared: RateLimiter | None = None
        self._redis: Redis | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._closing_at_shutdown(send))
            return
        if scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        rejection = await self._check(scope)
        if rejection is not None:
            await reject(rejection, scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _check(self, scope: Scope) -> TooManyRequests | None:
        address = self._client_address(scope)
        if self.client_limit is not None and address not in self.exempt:
            wait = await self._hit(self.client_limit, "client", address)
            if wait is not None:
                return TooManyRequests("too many requests from this client", retry_after_s=wait)
        token = _bearer_token(scope)
        if self.key_limit is not None and token:
            # Counted under a digest: the token itself never reaches Redis or a log.
            digest = hashlib.sha256(token.encode()).hexdigest()[:24]
            wait = await self._hit(self.key_limit, "key", digest)
            if wait is not None:
                message = "too many requests with this API key"
                return TooManyRequests(message, retry_after_s=wait, field="authorization")
        return None

    async def _hit(self, item: RateLimitItem, *ids: str) -> int | None:
        """Count one request; None if allowed, else the seconds until one would be."""
        shared = self._open_shared()
        if shared is not None and self.breaker.allow():
            try:
                allowed = await shared.hit(item, *ids)
                wait = None if allowed else await _seconds_to_reset(shared, item, ids)
            except (StorageError, OSError, TimeoutError):
                self.breaker.failure()
            else:
                self.breaker.success()
                return wait
        local = self._open_local()
        return None if await local.hit(item, *ids) else await _seconds_to_reset(local, item, ids)

    def _client_address(self, scope: Scope) -> str:
        if self.ip_header is not None:
            for name, value in scope["headers"]:
                if name == self.ip_header:
                    return str(value.decode("latin-1").split(",")[0].strip())
        client = scope.get("client")
        return str(client[0]) if client else "unknown"

    def _open_local(self) -> RateLimiter:
        if self._local is None:
            self._local = SlidingWindowCounterRateLimiter(MemoryStorage())
        return self._local

    def _open_shared(self) -> RateLimiter | None:
        if self._shared is None and self.settings.redis_url:
            # Our own client: the same short timeouts and single retry as the cache tiers.
            self._redis = connect(self.settings.redis_url, self.settings.redis_timeout_s)
            storage = RedisStorage(
                f"async+{self.settings.redis_url}",
                implementation="redispy",
                key_prefix=KEY_PREFIX,
                wrap_exceptions=True,
                # limits types its options as scalars; its redis-py bridge takes a pool.
                connection_pool=self._redis.connection_pool,  # type: ignore[arg-type]
            )
            self._shared = SlidingWindowCounterRateLimiter(storage)
        return self._shared

    def _closing_at_shutdown(self, send: Send) -> Send:
        async def closing(message: Message) -> None:
            if message["type"].startswith("lifespan.shutdown") and self._redis is not None:
                await self._redis.aclose()
                self._redis, self._shared = None, None
            await send(message)

        return closing


async def _seconds_to_reset(limiter: RateLimiter, item: RateLimitItem, ids: tuple[str, ...]) -> int:
    stats = await limiter.get_window_stats(item, *ids)
    return max(1, math.ceil(stats.reset_time - time.time()))


def _bearer_token(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
    return ""
