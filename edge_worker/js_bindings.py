"""Adapters from the Workers runtime to the pure seams: KV and caches.default as Tiers, fetch
with an AbortSignal as the origin Transport, rate-limit bindings as Limiters, and Analytics
Engine. Imports `js`: Pyodide only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import js
from edge_cache import (
    Layer,
    StoredResponse,
    cache_tag_header,
    cache_url,
    from_cache_entry,
    from_kv_value,
    kv_expiration_ttl,
    to_cache_headers,
    to_kv_value,
)
from edge_http import EdgeResponse, OriginFailure, OriginTimeout
from edge_service import EdgeService
from edge_settings import VAR_NAMES, EdgeSettings
from origin_fetch import ORIGIN_HEADERS, OriginPool, OriginReply
from pyodide.ffi import to_js
from rate_limit import CLIENT_BINDING, KEY_BINDING, RateLimits
from workers import Response, fetch

log = logging.getLogger("vsearch.edge")

KV_BINDING = "SEARCH_KV"
ANALYTICS_BINDING = "EDGE_ANALYTICS"


class KVTier:
    """Workers KV (binding SEARCH_KV): JSON envelopes with expirationTtl >= 60 s."""

    layer = Layer.KV

    def __init__(self, binding: Any, min_ttl: int) -> None:
        self._kv = binding
        self._min_ttl = min_ttl

    async def read(self, key: str) -> StoredResponse | None:
        raw = await self._kv.get(key)
        return from_kv_value(raw if isinstance(raw, str) else None)

    async def write(self, key: str, entry: StoredResponse) -> None:
        ttl = kv_expiration_ttl(entry, self._min_ttl)
        await self._kv.put(key, to_kv_value(entry), expirationTtl=ttl)


class CacheTier:
    """The Cache API (`caches.default`) under a synthetic URL per key."""

    layer = Layer.CACHE

    def __init__(self, cache: Any) -> None:
        self._cache = cache

    async def read(self, key: str) -> StoredResponse | None:
        found = await self._cache.match(cache_url(key))
        if not found:
            return None
        body = await found.text()
        return from_cache_entry(lambda name: _text(found.headers.get(name)), body)

    async def write(self, key: str, entry: StoredResponse) -> None:
        tags = cache_tag_header(entry.tags) or ""
        response = Response(entry.body, status=entry.status, headers=to_cache_headers(entry, tags))
        await self._cache.put(cache_url(key), response.js_object)


async def js_transport(url: str, headers: Mapping[str, str], timeout_s: float) -> OriginReply:
    """GET through the runtime's fetch; the AbortSignal bounds headers and body together."""
    signal = js.AbortSignal.timeout(max(1, int(timeout_s * 1000)))
    try:
        # The SDK hands `signal` on to pyfetch, which aborts with it; its FetchKwargs omits it.
        response = await fetch(url, headers=dict(headers), signal=signal)  # type: ignore[call-arg]
        body = await response.text()
    except Exception as exc:  # JsException / AbortError: the seam turns them into our tree
        if signal.aborted:
            raise OriginTimeout(f"{url} did not answer within {timeout_s:.2f}s") from exc
        raise OriginFailure(f"{url} unreachable: {exc}") from exc
    # The SDK builds a fresh copy of all the headers on every `.headers` access: read it once.
    headers = response.headers
    wanted = {name: _text(headers.get(name)) for name in ORIGIN_HEADERS}
    return OriginReply(
        response.status, {name: value for name, value in wanted.items() if value is not None}, body
    )


def build_service(env: Any) -> EdgeService:
    """Wire settings, tiers and origins from the bindings (once per isolate)."""
    raw = {name: str(getattr(env, name, "") or "") for name in VAR_NAMES}
    settings = EdgeSettings.from_vars(raw)
    # The data centre's own cache first (SPEC's tier 1; the cheaper read: a KV read before it cost
    # the local edge 12 -> 6.9 ms of CPU a hit), then KV, which holds popular queries for every data
    # centre. A KV hit is not copied into the cache: KV may trail a purge by its ~60 s
    # propagation, and a copy would outlive the purge by its whole TTL.
    tiers: list[KVTier | CacheTier] = [CacheTier(js.caches.default)]
    kv = getattr(env, KV_BINDING, None)
    if kv is not None:
        tiers.append(KVTier(kv, settings.kv_min_ttl_s))
    origins = OriginPool(
        origins=settings.origin_urls,
        transport=js_transport,
        timeout_s=settings.origin_timeout_s,
        budget_s=settings.origin_budget_s,
        cooldown_s=settings.origin_cooldown_s,
    )
    limits = RateLimits(client=_limiter(env, CLIENT_BINDING), api_key=_limiter(env, KEY_BINDING))
    return EdgeService(settings=settings, tiers=tiers, origins=origins, limits=limits)


class RateLimitBinding:
    """A Workers Rate Limiting binding as a Limiter: `limit({key})` resolves to `{success}`."""

    def __init__(self, binding: Any) -> None:
        self._binding = binding

    async def allow(self, key: str) -> bool:
        outcome = await self._binding.limit(
            to_js({"key": key}, dict_converter=js.Object.fromEntries)
        )
        return bool(outcome.success)


def _limiter(env: Any, name: str) -> RateLimitBinding | None:
    binding = getattr(env, name, None)
    return None if binding is None else RateLimitBinding(binding)


def write_analytics(env: Any, response: EdgeResponse, path: str, elapsed_ms: float) -> None:
    """One Analytics Engine data point per request, when the binding exists."""
    dataset = getattr(env, ANALYTICS_BINDING, None)
    if dataset is None:
        return
    headers = response.headers
    point = {
        "blobs": [headers.get("x-cache", "-"), headers.get("x-cache-layer", "-"), path],
        "doubles": [elapsed_ms, float(response.status)],
        "indexes": [headers.get("x-cache-key", "-")[:96]],
    }
    try:
        dataset.writeDataPoint(to_js(point, dict_converter=js.Object.fromEntries))
    except Exception:  # metrics must never fail a shopper's request
        log.exception("analytics write failed")


def _text(value: Any) -> str | None:
    """A JS header value as str (missing headers come back as None / null)."""
    return value if isinstance(value, str) else None
