"""docs/benchmarks.md's goal lines are computed from the run's figures."""

from __future__ import annotations

from typing import Any

import pytest

from origin.bench.report import render


def _latency(p95: float, responses: dict[str, int]) -> dict[str, Any]:
    figures = {"p50": p95 / 2, "p95": p95, "p99": p95 * 2, "mean": p95 / 2}
    return {"latency_ms": figures, "responses": responses, "qps": 100.0}


def _result(redis_p95: float, redis_layers: dict[str, int]) -> dict[str, Any]:
    stage = {"p50": 1.0, "p95": 2.0, "p99": 3.0, "mean": 1.0}
    return {
        "when": "2026-11-27T00:00:00Z",
        "machine": {"cpu": "cpu", "cores": 2, "memory": "1 kB", "python": "3.11", "platform": "x"},
        "miss_path": {
            "vehicles": 10,
            "queries": 1,
            "stages_ms": {"total": stage},
            "baseline_select1_ms": stage,
            "recall_at_10": {"<1%": {"queries": 1, "mean": 1.0, "min": 1.0}},
            "strategies": {"exact_subset": 1},
        },
        "origin_http": {
            "miss_1": _latency(20, {"MISS": 100}),
            "repeat_1": _latency(2, {"HIT": 100}),
            "repeat_8": _latency(9, {"HIT": 100}),
            "redis_1": _latency(redis_p95, redis_layers),
            "healthz_1": _latency(1.5, {"200": 100}),
            "healthz_8": _latency(8, {"200": 100}),
        },
    }


@pytest.mark.parametrize(
    ("p95", "layers", "verdict"),
    [
        (2.4, {"redis": 100}, "met"),
        (3.6, {"redis": 100}, "NOT met"),
        (2.4, {"redis": 99, "database": 1}, "NOT met"),  # a miss among them: not all from Redis
    ],
)
def test_the_redis_hit_goal_is_judged_from_the_redis_run(
    p95: float, layers: dict[str, int], verdict: str
) -> None:
    report = render(_result(p95, layers))
    assert f"Goal: Redis hit p95 <= 3 ms at one client: **{verdict}** (p95 {p95} ms" in report
    assert "| search, Redis hit (1 client; L1 off) |" in report


def test_the_redis_goal_names_the_healthz_round_trip_asked_beside_the_hits() -> None:
    result = _result(2.4, {"redis": 100})
    assert "where a /healthz round trip is p95 1.5 ms" in render(result)
    result["origin_http"]["redis_1"]["baseline_ms"] = {"p50": 0.7, "p95": 0.9, "p99": 1, "mean": 1}
    report = render(result)
    assert "where a /healthz round trip asked after each hit is p95 0.9 ms" in report
    assert "| baseline: /healthz after each Redis hit | 0.7 | 0.9 | 1 |" in report
