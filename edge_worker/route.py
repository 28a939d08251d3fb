"""Pure routing for GET /search and /v1/search: request line -> a search lookup or a 4xx.

Everything else (the origin's /v1/vehicles, /v1/purge, /metrics, /dashboard, ...) is never
proxied: the edge is a read-only cache in front of the search endpoint and nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from edge_http import RequestRejected
from vsearch_query import (
    QueryError,
    SearchQuery,
    cache_key,
    canonical_params,
    parse_search,
    query_tags,
)

SEARCH_PATHS = frozenset({"/search", "/v1/search"})


@dataclass(frozen=True)
class SearchLookup:
    """A valid search: its canonical key, what to forward to the origin, and its own tags."""

    query: SearchQuery
    key: str
    params: tuple[tuple[str, str], ...]
    tags: tuple[str, ...]


def route(method: str, url: str, *, max_query_bytes: int) -> SearchLookup:
    """Decide from the request line alone; raise RequestRejected for anything not a search."""
    parts = urlsplit(url)
    if parts.path not in SEARCH_PATHS:
        raise RequestRejected(404, "not_found", f"no route for {parts.path or '/'} at the edge")
    if method.upper() != "GET":
        raise RequestRejected(
            405, "method_not_allowed", f"{method} is not allowed; use GET", headers={"allow": "GET"}
        )
    size = len(parts.query.encode("utf-8"))
    if size > max_query_bytes:
        raise RequestRejected(
            414, "query_too_long", f"query string is {size} bytes; the limit is {max_query_bytes}"
        )
    try:
        query = parse_search(parts.query)
    except QueryError as exc:
        raise RequestRejected(400, exc.code, exc.message, field=exc.field) from exc
    return SearchLookup(
        query=query,
        key=cache_key(query),
        params=tuple(canonical_params(query)),
        tags=tuple(query_tags(query)),
    )
