"""Against the real origin (PostgreSQL, the model): the slow-search line names the strategy and
stage timings, the pool is measured, and the request id of the edge reaches the logs."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import REGISTRY
from starlette.testclient import TestClient

from origin.db.pool_metrics import pool_usage
from origin.settings import Settings


@pytest.fixture(scope="module")
def slow_client(settings: Settings, inventory: Any, embedder: Any) -> Iterator[TestClient]:
    """An origin that finds every search slow (threshold 0 ms)."""
    from origin.app import create_app

    settings = dataclasses.replace(settings, slow_search_ms=0.0)
    with TestClient(create_app(settings, embed=embedder.embed_query)) as test_client:
        yield test_client


def test_a_slow_search_logs_its_strategy_and_stages(
    slow_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="vsearch.slow"):
        response = slow_client.get(
            "/v1/search?q=blue+hatchback+slow+log+probe", headers={"X-Request-Id": "slow-1"}
        )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "slow-1"
    (record,) = [r for r in caplog.records if r.getMessage() == "slow search"]
    assert record.request_id == "slow-1"  # type: ignore[attr-defined]
    assert record.strategy in ("exact_subset", "exact_texts", "hnsw_iterative", "filtered_sort")  # type: ignore[attr-defined]
    assert record.layer == "database"  # type: ignore[attr-defined]
    assert set(record.stages) >= {"embed_ms", "db_ms", "facets_ms"}  # type: ignore[attr-defined]
    assert record.took_ms > 0  # type: ignore[attr-defined]


def test_fast_searches_are_not_logged(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    client.get("/v1/search?q=red+suv")
    with caplog.at_level(logging.WARNING, logger="vsearch.slow"):
        assert client.get("/v1/search?q=red+suv").headers["x-cache-layer"] == "l1"
    assert [r for r in caplog.records if r.getMessage() == "slow search"] == []


def test_pool_gauges_and_acquire_waits_are_exposed(slow_client: TestClient) -> None:
    waits_before = REGISTRY.get_sample_value("vsearch_db_pool_acquire_seconds_count") or 0
    assert slow_client.get("/v1/vehicles/1").status_code in (200, 404)
    assert REGISTRY.get_sample_value("vsearch_db_pool_acquire_seconds_count") > waits_before  # type: ignore[operator]
    size, in_use, maximum = pool_usage()
    assert size >= 2 and 0 <= in_use <= size <= maximum
    text = slow_client.get("/metrics").text
    assert f"vsearch_db_pool_size {float(size)}" in text
    assert "vsearch_db_pool_in_use " in text


def test_real_routes_are_labelled_by_template(slow_client: TestClient) -> None:
    slow_client.get("/v1/vehicles/12345")
    text = slow_client.get("/metrics").text
    assert 'route="/v1/vehicles/{vehicle_id}"' in text
    assert 'route="/v1/vehicles/12345"' not in text
