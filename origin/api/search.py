"""GET /v1/search (and /search, the path the edge passes on): the read path's HTTP entry."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from vsearch_query import parse_search

from origin.api.render import render
from origin.search.service import SearchOutcome, SearchService
from origin.settings import Settings


def cache_headers(outcome: SearchOutcome, settings: Settings) -> dict[str, str]:
    timings = outcome.timings
    return {
        "Cache-Control": (
            f"public, max-age={settings.cache_max_age_s}, "
            f"stale-while-revalidate={settings.cache_swr_s}, "
            f"stale-if-error={settings.cache_sie_s}"
        ),
        "Cache-Tag": ",".join(outcome.tags),
        "X-Cache-Key": outcome.key,
        "X-Cache": "MISS",
        "Server-Timing": (
            f"embed;dur={timings.embed_ms:.2f}, db;dur={timings.db_ms:.2f}, "
            f"facets;dur={timings.facets_ms:.2f}"
        ),
    }


async def search(request: Request) -> Response:
    query = parse_search(request.url.query)
    service: SearchService = request.app.state.search
    outcome = await service.search(query)
    return render(request, outcome.body, headers=cache_headers(outcome, request.app.state.settings))
