"""The purger's coarse fallback (write path): when purging the due backlog's tags from Cloudflare's
cache would take longer than the freshness bound allows at the plan's rate (a burst of writes),
the whole backlog is claimed at once and Cloudflare's cache is emptied with ONE purge_everything
request; the cheap tiers (Redis and every L1, Workers KV, the local edge) are still purged by tag.

The bound D is `VSEARCH_PURGE_MAX_DELAY_S`. Tags are purged one by one only while the backlog can
be sent within D/2; the other half covers changes that arrive while a paced batch waits, which the
next decision sees. purge_everything is sent at most once per D/2 (each one empties the zone's
cache), so a change committed during a fallback waits at most D/2 for the next one. Either way
every change leaves Cloudflare's cache within D of its commit (README, "Writes, purge and
freshness"), short of a Cloudflare 429 or outage (then Retry-After and the backoff rule)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import asyncpg

from origin.purger.plan import MAX_TAGS_PER_REQUEST

# A fallback claims the whole due backlog, up to this many events (the rest: the next round).
FALLBACK_MAX_EVENTS = 50_000
# The cheap tiers get a fallback's tags in calls of at most this many (bounded Redis scripts and
# local-edge bodies).
FALLBACK_TAGS_PER_CALL = 1_000


class CoarsePurge(Protocol):
    """A tier whose tag purges are rationed (Cloudflare's cache) and that can purge everything."""

    name: str

    def requests_time_s(self, requests: int) -> float:
        """How long sending `requests` more tag-purge requests would take from now."""

    async def purge_everything(self, min_interval_s: float) -> None:
        """Purge the whole cache, no sooner than `min_interval_s` after the previous time."""


@dataclass(frozen=True)
class Fallback:
    """Why a round falls back: the due backlog, the requests it needs and how long they'd take."""

    tags: int
    requests: int
    estimated_s: float


async def due_tag_count(conn: asyncpg.Connection) -> int:
    """Distinct tags of the events a purger could claim now (not leased, not backing off)."""
    return int(
        await conn.fetchval(
            """SELECT count(DISTINCT t) FROM purge_outbox AS o, unnest(o.tags) AS t
               WHERE o.done_at IS NULL AND o.available_at <= now()
                 AND (o.leased_until IS NULL OR o.leased_until < now())"""
        )
    )


def decide(tags: int, coarse: CoarsePurge, max_delay_s: float) -> Fallback | None:
    """A Fallback when sending the backlog's tags would take more than half the bound (and needs
    more than one request: one purge_everything would not be any cheaper), else None."""
    requests = math.ceil(tags / MAX_TAGS_PER_REQUEST)
    if requests <= 1:
        return None
    estimated_s = coarse.requests_time_s(requests)
    if estimated_s <= max_delay_s / 2:
        return None
    return Fallback(tags, requests, estimated_s)
