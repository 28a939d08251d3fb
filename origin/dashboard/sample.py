"""Dashboard samples: this process's counters read into flat fields, per-second deltas of them,
and the numbers a chart shows (rates, quantiles, hit rates) derived from summed buckets."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from prometheus_client import Metric

from origin.db.pool_metrics import pool_usage
from origin.metrics import (
    CACHE_REQUESTS,
    HTTP_REQUESTS,
    HTTP_SECONDS,
    OUTBOX_DEPTH,
    PURGE_LAG_SECONDS,
)

Fields = dict[str, float]
SEARCH_ROUTES = ("/v1/search", "/search")
# Fields that are levels, not counters: summed over instances, never differenced.
GAUGES = ("pool_in_use", "pool_max")
# Same outbox table seen from every instance: the last reading is the depth.
LATEST = ("outbox",)
# How the edge answered a search (origin/dashboard/edge.py counts them as `edge_<layer>`).
EDGE_LAYERS = ("kv", "cache", "stale", "miss")


def _is_api(route: str) -> bool:
    return route.startswith("/v1/") or route == "/search"


def _samples(metrics: Iterable[Metric]) -> Iterable[tuple[str, Mapping[str, str], float]]:
    for metric in metrics:
        for sample in metric.samples:
            yield sample.name, sample.labels, sample.value


def snapshot() -> Fields:
    """Cumulative counters and current levels of this process."""
    fields: Fields = {"requests": 0.0, "errors": 0.0}
    for name, labels, value in _samples(HTTP_REQUESTS.collect()):
        if name.endswith("_total") and _is_api(labels["route"]):
            fields["requests"] += value
            if labels["status"].startswith("5"):
                fields["errors"] += value
    for name, labels, value in _samples(HTTP_SECONDS.collect()):
        if name.endswith("_bucket") and labels["route"] in SEARCH_ROUTES:
            key = f"lat_{labels['le']}"
            fields[key] = fields.get(key, 0.0) + value
    for name, labels, value in _samples(CACHE_REQUESTS.collect()):
        if name.endswith("_total"):
            tier = labels["tier"]
            fields[f"{tier}_total"] = fields.get(f"{tier}_total", 0.0) + value
            if labels["result"] == "hit":
                fields[f"{tier}_hit"] = fields.get(f"{tier}_hit", 0.0) + value
    for name, labels, value in _samples(PURGE_LAG_SECONDS.collect()):
        if name.endswith("_bucket"):
            fields[f"purge_{labels['le']}"] = value
    for name, _, value in _samples(OUTBOX_DEPTH.collect()):
        if name == "vsearch_outbox_depth":
            fields["outbox"] = value
    _, in_use, maximum = pool_usage()
    fields["pool_in_use"] = float(in_use)
    fields["pool_max"] = float(maximum)
    return fields


def deltas(previous: Fields, current: Fields) -> Fields:
    """What happened between two snapshots; levels are carried as they are now."""
    out: Fields = {}
    for key, value in current.items():
        if key in GAUGES or key in LATEST:
            out[key] = value
            continue
        # A counter that went down was reset (a new registry): count from zero.
        change = value - previous.get(key, 0.0)
        change = value if change < 0 else change
        if change:
            out[key] = change
    return out


def quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """Prometheus's histogram_quantile over cumulative `le -> count` buckets; None when empty."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = q * buckets[bounds[-1]]
    lower_bound, lower_count = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # past the last finite bucket: its bound is all we know
            width = count - lower_count
            share = (rank - lower_count) / width if width else 0.0
            return lower_bound + (bound - lower_bound) * share
        lower_bound, lower_count = bound, count
    return lower_bound


def _buckets(fields: Mapping[str, float], prefix: str) -> dict[float, float]:
    return {float(k[len(prefix) :]): v for k, v in fields.items() if k.startswith(prefix)}


def _ratio(part: float | None, whole: float | None) -> float | None:
    return None if not whole or part is None else round(part / whole, 4)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def point(t: int, fields: Mapping[str, float], seconds: int) -> dict[str, float | int | None]:
    """One chart point from the summed fields of `seconds` seconds starting at `t` (epoch s)."""
    writers = fields.get("instance_seconds", 0.0)
    if not writers:
        return {"t": t, "instances": 0}
    latency = _buckets(fields, "lat_")
    requests = fields.get("requests", 0.0)
    lookups = fields.get("l1_total", 0.0)
    hits = fields.get("l1_hit", 0.0) + fields.get("redis_hit", 0.0)
    return {
        "t": t,
        "instances": round(writers / seconds, 2),
        "rps": round(requests / seconds, 2),
        "p50_ms": _ms(quantile(0.5, latency)),
        "p95_ms": _ms(quantile(0.95, latency)),
        "p99_ms": _ms(quantile(0.99, latency)),
        "error_rate": _ratio(fields.get("errors", 0.0), requests),
        "hit_l1": _ratio(fields.get("l1_hit", 0.0), lookups),
        "hit_redis": _ratio(fields.get("redis_hit"), fields.get("redis_total")),
        "hit_origin": _ratio(hits, lookups),
        # Summed over instances (a minute bucket holds the average of its seconds).
        "pool_in_use": round(fields.get("pool_in_use", 0.0), 2),
        "pool_use": _ratio(fields.get("pool_in_use", 0.0), fields.get("pool_max")),
        "outbox": fields.get("outbox"),
        "purge_p95_ms": _ms(quantile(0.95, _buckets(fields, "purge_"))),
        **_edge(fields),
    }


def _edge(fields: Mapping[str, float]) -> dict[str, float | None]:
    """Edge searches/s and the share each layer answered. Every instance adds the same edge's
    counts, so the rate divides by how many readings were summed (`edge_seconds`)."""
    readings = fields.get("edge_seconds", 0.0)
    counts = {layer: fields.get(f"edge_{layer}", 0.0) for layer in EDGE_LAYERS}
    searches = sum(counts.values()) if readings else None
    return {
        "edge_rps": None if searches is None else round(searches / readings, 2),
        "hit_edge_kv": _ratio(counts["kv"], searches),
        "hit_edge_cache": _ratio(counts["cache"], searches),
        "edge_stale": _ratio(counts["stale"], searches),
        "edge_miss": _ratio(counts["miss"], searches),
    }
