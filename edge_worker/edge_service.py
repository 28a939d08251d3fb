"""The edge read path: rate limits -> route -> Cache API -> KV -> origin, with stale answers and
single flight.

This is the one place the tier order and the stale rules live; the JS shell (`entry.py`) only
adapts requests, bindings and responses. All I/O comes in through Tier, OriginPool and `schedule`.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from edge_cache import (
    CachePolicy,
    Freshness,
    Layer,
    StoredResponse,
    Tier,
    cache_tag_header,
    parse_cache_control,
)
from edge_http import (
    JSON_TYPE,
    EdgeResponse,
    OriginFailure,
    OriginTimeout,
    RequestRejected,
    error_response,
)
from edge_page import page_response
from edge_settings import EdgeSettings
from origin_fetch import OriginPool, OriginReply
from rate_limit import RateLimits
from route import PageRequest, SearchLookup, route
from single_flight import SingleFlight

log = logging.getLogger("vsearch.edge")

Schedule = Callable[[Coroutine[Any, Any, None]], None]
HeaderGetter = Callable[[str], "str | None"]

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


@dataclass(frozen=True)
class Fetched:
    """One origin call's outcome, shared by every request coalesced onto it."""

    reply: OriginReply
    entry: StoredResponse | None


@dataclass
class EdgeService:
    """Answers GET /search from the tiers (in order) or the origin; one per isolate."""

    settings: EdgeSettings
    tiers: Sequence[Tier]
    origins: OriginPool
    limits: RateLimits = field(default_factory=RateLimits)
    flights: SingleFlight[Fetched] = field(default_factory=SingleFlight)
    clock: Callable[[], float] = time.time
    key_mismatches: int = 0

    async def handle(
        self, method: str, url: str, header: HeaderGetter, schedule: Schedule
    ) -> EdgeResponse:
        """One shopper request; never raises (only the shell catches the unexpected)."""
        started = time.perf_counter()
        request_id = _request_id(header("x-request-id"))
        # First: an over-limit client costs one counter call and nothing else.
        limited = await self.limits.check(header)
        if limited is not None:
            return error_response(limited, {"x-request-id": request_id})
        try:
            lookup = route(method, url, max_query_bytes=self.settings.max_query_bytes)
        except RequestRejected as exc:
            return error_response(exc, {"x-request-id": request_id})
        if isinstance(lookup, PageRequest):
            response = page_response(lookup.file)  # from the Worker's own code: no origin call
        else:
            response = await self._search(lookup, request_id, schedule)
        response.headers["x-request-id"] = request_id
        response.headers["server-timing"] = f"edge;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response

    async def _search(
        self, lookup: SearchLookup, request_id: str, schedule: Schedule
    ) -> EdgeResponse:
        now = self.clock()
        stale: tuple[StoredResponse, Layer] | None = None
        for tier in self.tiers:
            entry = await self._read(tier, lookup.key)
            if entry is None:
                continue
            state = entry.freshness(now)
            if state is Freshness.FRESH:
                return self._cached(entry, tier.layer, "HIT", lookup.key, now)
            if state is not Freshness.EXPIRED and (
                stale is None or entry.stored_at > stale[0].stored_at
            ):
                stale = (entry, tier.layer)
        if stale is not None and stale[0].freshness(now) is Freshness.REVALIDATE:
            schedule(self._refresh(lookup, request_id, schedule))
            return self._cached(stale[0], stale[1], "STALE", lookup.key, now)
        try:
            fetched = await self._fetch(lookup, request_id, schedule)
        except OriginFailure as exc:
            if stale is not None:
                log.warning(
                    "origin failed (%s); serving stale %s for %s", exc, stale[1], lookup.key
                )
                return self._cached(stale[0], stale[1], "STALE", lookup.key, now)
            # The detail names internal origin URLs: it goes to the log, not to the shopper.
            log.warning("origin failed for %s with no stale copy: %s", lookup.key, exc)
            public = (
                OriginTimeout("the search service timed out")
                if isinstance(exc, OriginTimeout)
                else OriginFailure("the search service is unavailable")
            )
            return error_response(public, _cache_headers("MISS", Layer.ORIGIN, lookup.key))
        return self._from_origin(fetched, lookup.key)

    async def _fetch(self, lookup: SearchLookup, request_id: str, schedule: Schedule) -> Fetched:
        async def call() -> Fetched:
            reply = await self.origins.get(
                lookup.params,
                {"x-request-id": request_id, "x-cache-key": lookup.key, "accept": JSON_TYPE},
            )
            origin_key = reply.headers.get("x-cache-key")
            if origin_key and origin_key != lookup.key:
                # Edge and origin disagree on the canonical key: the shared module diverged.
                self.key_mismatches += 1
                log.warning("cache key mismatch: edge %s origin %s", lookup.key, origin_key)
            entry = self._entry(reply, lookup)
            if entry is not None:
                schedule(self._store(lookup.key, entry, reply.popular))
            return Fetched(reply, entry)

        return await self.flights.run(lookup.key, call)

    def _entry(self, reply: OriginReply, lookup: SearchLookup) -> StoredResponse | None:
        """A storable entry for a 200 with a positive max-age and tags that fit, else None."""
        if reply.status != 200:
            return None
        policy: CachePolicy = parse_cache_control(
            reply.headers.get("cache-control"),
            default_swr=self.settings.default_swr_s,
            default_sie=self.settings.default_sie_s,
        )
        origin_tags = [
            t.strip() for t in reply.headers.get("cache-tag", "").split(",") if t.strip()
        ]
        # The edge adds the query's own tags so a purge by query tag works whatever the origin sent.
        tags = tuple(dict.fromkeys([*origin_tags, *lookup.tags]))
        if not policy.storable or cache_tag_header(tags) is None:
            return None
        return StoredResponse(
            body=reply.body,
            stored_at=self.clock(),
            ttl=policy.ttl,
            swr=policy.swr,
            sie=policy.sie,
            tags=tags,
            content_type=reply.headers.get("content-type", JSON_TYPE),
        )

    async def _store(self, key: str, entry: StoredResponse, popular: bool) -> None:
        for tier in self.tiers:
            # KV holds popular queries only (its writes are slow to spread and rate-limited).
            if tier.layer is Layer.KV and not popular:
                continue
            try:
                await tier.write(key, entry)
            except Exception:  # a tier write failing must not fail the response it follows
                log.exception("write to %s failed for %s", tier.layer, key)

    async def _refresh(self, lookup: SearchLookup, request_id: str, schedule: Schedule) -> None:
        try:
            await self._fetch(lookup, request_id, schedule)
        except OriginFailure as exc:
            log.warning("background refresh of %s failed: %s", lookup.key, exc)

    async def _read(self, tier: Tier, key: str) -> StoredResponse | None:
        try:
            return await tier.read(key)
        except Exception:  # an unreadable tier is a miss in that tier, not an error
            log.exception("read from %s failed for %s", tier.layer, key)
            return None

    def _cached(
        self, entry: StoredResponse, layer: Layer, status: str, key: str, now: float
    ) -> EdgeResponse:
        headers = _cache_headers(status, layer, key)
        headers["content-type"] = entry.content_type
        headers["age"] = str(int(entry.age(now)))
        headers["cache-control"] = f"public, max-age={entry.remaining_s(now)}"
        return EdgeResponse(entry.status, entry.body, headers)

    def _from_origin(self, fetched: Fetched, key: str) -> EdgeResponse:
        reply = fetched.reply
        headers = _cache_headers("MISS", Layer.ORIGIN, key)
        headers["content-type"] = reply.headers.get("content-type", JSON_TYPE)
        if fetched.entry is not None:
            headers["cache-control"] = f"public, max-age={fetched.entry.ttl}"
        else:
            headers["cache-control"] = reply.headers.get("cache-control", "no-store")
        return EdgeResponse(reply.status, reply.body, headers)


def _cache_headers(status: str, layer: Layer, key: str) -> dict[str, str]:
    return {"x-cache": status, "x-cache-layer": layer.value, "x-cache-key": key}


def _request_id(given: str | None) -> str:
    """The shopper's X-Request-Id when it is sane, else a fresh one."""
    if given and _REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex
