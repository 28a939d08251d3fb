"""Prometheus metrics of the origin, read path and write path (names are a contract: docs, alerts).

Objects live in the default registry; `render()` serves them at `/metrics`. Under `vsearch serve`
with VSEARCH_WORKERS > 1, prometheus-client runs in multiprocess mode (PROMETHEUS_MULTIPROC_DIR,
set by the command before this module is imported): every worker writes its values to files there
and `render()` sums them all, whichever worker answers. Gauges say how (`multiprocess_mode`).
"""

import os
import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

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
FACETS_COMPUTED = Counter(
    "vsearch_facets_computed_total",
    "Facet counts computed (the facets cache missed), by source: counts (facet_counts) or "
    "listings (a GROUP BY over the matching listings).",
    ["source"],
)
REDIS_ERRORS = Counter("vsearch_redis_errors_total", "Redis calls that failed or timed out.")
DB_CIRCUIT_OPEN = Gauge(
    "vsearch_db_circuit_open",
    "1 while the database circuit breaker is open (searches that need it fail fast, 503).",
    multiprocess_mode="livemax",
)
REDIS_CIRCUIT_OPEN = Gauge(
    "vsearch_redis_circuit_open",
    "1 while the Redis circuit breaker is open (Redis skipped).",
    multiprocess_mode="livemax",  # each worker has its own breaker: 1 if any is open
)
SINGLEFLIGHT_WAITS = Counter(
    "vsearch_singleflight_waits_total",
    "Requests that waited for an identical search run here (local) or elsewhere (redis).",
    ["scope"],
)
DB_SEARCHES = Counter(
    "vsearch_db_searches_total", "Database searches actually run (cache misses that reached SQL)."
)
OUTBOX_DEPTH = Gauge(
    "vsearch_outbox_depth",
    "Purge events waiting in the outbox.",
    multiprocess_mode="livemostrecent",  # one table seen by every worker: the latest reading
)
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
    "Cloudflare API calls by operation (purge_tags, purge_everything, kv_delete) and outcome "
    "(ok, 429, 5xx, error).",
    ["operation", "outcome"],
)
PURGE_FALLBACKS = Counter(
    "vsearch_purge_fallbacks_total",
    "Backlogs too big for the plan's purge rate, purged from Cloudflare with purge_everything.",
)
BUILD_INFO = Gauge(
    "vsearch_build_info",
    "Always 1; the version label says what runs.",
    ["version"],
    multiprocess_mode="max",
)


def _version() -> str:
    try:
        return version("vsearch")
    except PackageNotFoundError:  # run from a source tree without an install
        return "unknown"


BUILD_INFO.labels(version=_version()).set(1)


def multiprocess_dir() -> Path | None:
    """Where the workers' metric files live, or None in a single process. (prometheus-client's
    own variable, read the way it reads it; `vsearch serve` sets it, it is no vsearch setting.)"""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(path) if path else None


_LIVE_GAUGE_FILE = re.compile(r"^gauge_live\w+_(\d+)\.db$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal sent: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    return True


def forget_dead_workers(path: Path) -> None:
    """Drop the live* gauge files of workers that died: uvicorn restarts a dead worker but, unlike
    gunicorn's child_exit hook, never calls mark_process_dead, so its levels would linger."""
    pids = {int(m[1]) for f in path.iterdir() if (m := _LIVE_GAUGE_FILE.match(f.name))}
    for pid in pids:
        if not _pid_alive(pid):
            mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]


def render() -> tuple[bytes, str]:
    """The text exposition of every metric (summed over all workers in multiprocess mode), and
    its content type."""
    path = multiprocess_dir()
    if path is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    forget_dead_workers(path)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(path))  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST
