"""Dashboard numbers: quantiles as Prometheus computes them, deltas that survive a counter reset,
and chart points from summed buckets."""

from __future__ import annotations

import math

import pytest

from origin.dashboard.sample import deltas, point, quantile, snapshot
from origin.metrics import CACHE_REQUESTS, HTTP_REQUESTS, HTTP_SECONDS


def test_quantile_interpolates_within_the_bucket() -> None:
    buckets = {0.01: 50.0, 0.1: 90.0, 1.0: 100.0, math.inf: 100.0}
    assert quantile(0.5, buckets) == pytest.approx(0.01)
    assert quantile(0.7, buckets) == pytest.approx(0.01 + 0.09 * 0.5)
    assert quantile(0.95, buckets) == pytest.approx(0.1 + 0.9 * 0.5)


def test_quantile_of_nothing_is_none_and_past_the_last_bucket_is_its_bound() -> None:
    assert quantile(0.5, {0.1: 0.0, math.inf: 0.0}) is None
    assert quantile(0.99, {0.1: 0.0, 2.5: 0.0, math.inf: 10.0}) == 2.5


def test_deltas_count_new_work_and_carry_levels() -> None:
    before = {"requests": 10.0, "errors": 1.0, "pool_in_use": 3.0}
    after = {"requests": 15.0, "errors": 1.0, "pool_in_use": 2.0, "outbox": 7.0}
    assert deltas(before, after) == {"requests": 5.0, "pool_in_use": 2.0, "outbox": 7.0}
    # A reset counter (a restarted process) counts from zero rather than going negative.
    assert deltas({"requests": 100.0}, {"requests": 4.0}) == {"requests": 4.0}


def test_snapshot_reads_api_routes_and_search_latency() -> None:
    before = snapshot()
    HTTP_REQUESTS.labels(route="/v1/search", method="GET", status="200").inc(3)
    HTTP_REQUESTS.labels(route="/v1/search", method="GET", status="503").inc()
    HTTP_REQUESTS.labels(route="/metrics", method="GET", status="200").inc(50)  # not the API
    HTTP_SECONDS.labels(route="/v1/search").observe(0.004)
    CACHE_REQUESTS.labels(tier="l1", result="hit").inc(2)
    change = deltas(before, snapshot())
    assert change["requests"] == 4 and change["errors"] == 1
    assert change["lat_0.005"] == 1 and "lat_0.0025" not in change
    assert change["l1_hit"] == 2 and change["l1_total"] == 2


def test_point_from_summed_instances() -> None:
    fields = {
        "instance_seconds": 2.0,
        "requests": 200.0,
        "errors": 2.0,
        "lat_0.01": 150.0,
        "lat_0.1": 200.0,
        "lat_+Inf": 200.0,
        "l1_total": 180.0,
        "l1_hit": 90.0,
        "redis_total": 90.0,
        "redis_hit": 72.0,
        "pool_in_use": 3.0,
        "pool_max": 20.0,
        "outbox": 4.0,
    }
    p = point(1_000, fields, 1)
    assert p["instances"] == 2 and p["rps"] == 200 and p["error_rate"] == 0.01
    assert p["p50_ms"] == pytest.approx(6.67, abs=0.01)
    assert p["hit_l1"] == 0.5 and p["hit_redis"] == 0.8 and p["hit_origin"] == 0.9
    assert p["pool_use"] == 0.15 and p["outbox"] == 4.0 and p["purge_p95_ms"] is None
    assert point(1_000, {}, 1) == {"t": 1_000, "instances": 0}
    assert point(60, fields, 60)["rps"] == pytest.approx(3.33)
