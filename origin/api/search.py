"""GET /v1/search (and /search, the path the edge passes on): the read path's HTTP entry."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from vsearch_query import parse_search

from origin.api.render import render
from origin.metrics import SEARCH_STAGE_SECONDS
from origin.search.tiers import TieredOutcome, TieredSearch
from origin.settings import Settings


def cache_headers(outcome: TieredOutcome, settings: Settings) -> dict[str, str]:
    timings = outcome.timings
    headers = {
        "Cache-Control": (
            f"public, max-age={settings.cache_max_age_s}, "
            f"stale-while-revalidate={settings.cache_swr_s}, "
            f"stale-if-error={settings.cache_sie_s}"
        ),
        "Cache-Tag": ",".join(outcome.tags),
        "X-Cache-Key": outcome.key,
        "X-Cache": "MISS" if outcome.layer == "database" else "HIT",
        "X-Cache-Layer": outcome.layer,
        "Server-Timing": (
            f"embed;dur={timings.embed_ms:.2f}, db;dur={timings.db_ms:.2f}, "
            f"facets;dur={timings.facets_ms:.2f}"
            if timings is not None
            else f"cache;desc={outcome.layer};dur={outcome.body['took_ms']:.2f}"
        ),
    }
    if outcome.popular:
        # The edge writes Workers KV only for these (its writes are slow to spread, rate-limited).
        headers["X-Popular"] = "1"
    return headers


async def search(request: Request) -> Response:
    query = parse_search(request.url.query)
    tiers: TieredSearch = request.app.state.tiers
    outcome = await tiers.search(query)
    started = time.perf_counter()
    headers = cache_headers(outcome, request.app.state.settings)
    response = render(request, outcome.body, headers=headers)
    SEARCH_STAGE_SECONDS.labels(stage="serialize").observe(time.perf_counter() - started)
    return response
