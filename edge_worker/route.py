"""Pure routing: request line -> a search lookup (GET /search, /v1/search), the shopper page
(GET /, /static/shopper.js, /static/shopper.css: answered from the Worker's own code) or a 4xx.

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
# Path -> file of the shopper page (origin/static/, shipped as shopper_page.py); same paths as the
# origin's, so the page works behind either.
PAGE_PATHS = {
    "/": "shopper.html",
    "/static/shopper.js": "shopper.js",
    "/static/shopper.css": "shopper.css",
}


@dataclass(frozen=True)
class SearchLookup:
    """A valid search: its canonical key, what to forward to the origin, and its own tags."""

    query: SearchQuery
    key: str
    params: tuple[tuple[str, str], ...]
    tags: tuple[str, ...]


@dataclass(frozen=True)
class PageRequest:
    """A file of the shopper page; the edge answers it itself and never calls the origin."""

    file: str


def route(method: str, url: str, *, max_query_bytes: int) -> SearchLookup | PageRequest:
    """Decide from the request line alone; raise RequestRejected for anything else."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if path not in SEARCH_PATHS and path not in PAGE_PATHS:
        raise RequestRejected(404, "not_found", f"no route for {path} at the edge")
    if method.upper() != "GET":
        raise RequestRejected(
            405, "method_not_allowed", f"{method} is not allowed; use GET", headers={"allow": "GET"}
        )
    if path in PAGE_PATHS:
        # The page reads its own query string (a shared /?q=...); the edge ignores it.
        return PageRequest(PAGE_PATHS[path])
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
