"""Prometheus metrics of the origin, read path and write path (names are a contract: docs, alerts).

Objects live in the default registry; `render()` serves them at `/metrics`.
"""

from importlib.metadata import PackageNotFoundError, version

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

HTTP_REQUESTS = Counter(
    "vsearch_http_requests_total",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_SECONDS = Histogram(
    "vsearch_http_request_seconds",
    "HTTP request duration by route template.",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2.5),
)
CACHE_REQUESTS = Counter(
    "vsearch_cache_requests_total",
    "Origin cache lookups by tier (l1, redis, database) and result (hit, miss, error).",
    ["tier", "result"],
)
SEARCH_STAGE_SECONDS = Histogram(
    "vsearch_search_stage_seconds",
    "Time spent in each search stage (embed, database, facets, serialize).",
    ["stage"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
SEARCH_STRATEGY = Counter(
    "vsearch_search_strategy_total",
    "Searches run, by strategy (exact, hnsw, keyword_fallback, ...).",
    ["strategy"],
)
REDIS_ERRORS = Counter("vsearch_redis_errors_total", "Redis calls that failed or timed out.")
REDIS_CIRCUIT_OPEN = Gauge(
    "vsearch_redis_circuit_open", "1 while the Redis circuit breaker is open (Redis skipped)."
)
SINGLEFLIGHT_WAITS = Counter(
    "vsearch_singleflight_waits_total",
    "Requests that waited for an identical search run here (local) or elsewhere (redis).",
    ["scope"],
)
DB_SEARCHES = Counter(
    "vsearch_db_searches_total", "Database searches actually run (cache misses that reached SQL)."
)
OUTBOX_DEPTH = Gauge("vsearch_outbox_depth", "Purge events waiting in the outbox.")
PURGE_LAG_SECONDS = Histogram(
    "vsearch_purge_lag_seconds",
    "From the commit of a change to all cache tiers purged.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
PURGE_EVENTS = Counter(
    "vsearch_purge_events_total",
    "Outbox events handled, by result (done, retry, failed).",
    ["result"],
)
CLOUDFLARE_API_CALLS = Counter(
    "vsearch_cloudflare_api_calls_total",
    "Cloudflare API calls by operation (purge_tags, kv_delete) and outcome (ok, 429, 5xx, error).",
    ["operation", "outcome"],
)
BUILD_INFO = Gauge("vsearch_build_info", "Always 1; the version label says what runs.", ["version"])


def _version() -> str:
    try:
        return version("vsearch")
    except PackageNotFoundError:  # run from a source tree without an install
        return "unknown"


BUILD_INFO.labels(version=_version()).set(1)


def render() -> tuple[bytes, str]:
    """The text exposition of every metric, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
