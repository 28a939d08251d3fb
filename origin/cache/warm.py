"""`vsearch warm --top N`: replay the most asked queries of the popular window through the
origin's tiers (filling Redis) and, when a local edge is configured, through the edge (its
Cache API and KV)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette
from vsearch_query import parse_search

from origin.cache.popular import PopularTracker
from origin.search.tiers import TieredSearch

log = logging.getLogger(__name__)


@dataclass
class WarmReport:
    queries: int = 0
    origin_filled: int = 0
    edge_filled: int = 0
    edge_errors: int = 0


async def warm(app: Starlette, top: int, edge_url: str | None = None) -> WarmReport:
    """Run inside the app's lifespan: `async with app.router.lifespan_context(app)`."""
    tiers: TieredSearch = app.state.tiers
    report = WarmReport()
    if tiers.popular is None:
        log.warning("warm: no REDIS_URL, so no popular queries are known")
        return report
    popular: PopularTracker = tiers.popular
    queries = await popular.top(top)
    report.queries = len(queries)
    for item in queries:
        await tiers.search(parse_search(item.params), count=False)
        report.origin_filled += 1
    if edge_url and urlsplit(edge_url).hostname:
        # The edge's own /search on the admin URL's host and port: it fills Cache API and KV.
        base = urlsplit(edge_url)._replace(path="", query="", fragment="").geturl()
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            for item in queries:
                try:
                    reply = await client.get(f"/search?{item.params}")
                    reply.raise_for_status()
                    report.edge_filled += 1
                except httpx.HTTPError as exc:
                    report.edge_errors += 1
                    log.warning("warm: edge request failed", extra={"error": repr(exc)})
    return report
