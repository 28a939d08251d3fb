"""The database hangs (a fault proxy holds every reply): searches answer a JSON 503 with
Retry-After, never a 500; after 3 failures the breaker opens and searches fail fast without
touching the database; once it answers again, the first search after the cooldown closes it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from origin.devstack.fault_proxy import FaultProxy, upstream_of, via_proxy
from origin.settings import load_settings


@pytest.fixture
def proxied(
    database_url: str, inventory: Any, embedder: Any
) -> Iterator[tuple[TestClient, FaultProxy]]:
    from origin.app import create_app

    proxy = FaultProxy(upstream_of(database_url))
    settings = load_settings(
        {}, database_url=via_proxy(database_url, proxy.port), statement_timeout_ms=400,
        vector_budget_ms=150, exact_max_rows=300,
        pool_acquire_timeout_s=0.4, pool_min=1, pool_max=4,
    )  # fmt: skip
    try:
        with TestClient(create_app(settings, embed=embedder.embed_query)) as client:
            yield client, proxy
    finally:
        proxy.close()


def _circuit_open(client: TestClient) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("vsearch_db_circuit_open "):
            return float(line.split()[1])
    raise AssertionError("vsearch_db_circuit_open missing from /metrics")


def test_a_hanging_database_gives_503s_then_an_open_circuit_then_recovery(
    proxied: tuple[TestClient, FaultProxy],
) -> None:
    client, proxy = proxied
    assert client.get("/v1/search", params={"q": "breaker red suv"}).status_code == 200
    service = client.app.state.search  # type: ignore[attr-defined]

    proxy.stall()
    for n in range(3):
        response = client.get("/v1/search", params={"q": f"breaker hang {n}"})
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.json()["error"]["code"] == "database_unavailable"
    assert service.db_breaker.state == "open"
    assert _circuit_open(client) == 1

    # Open: answered without a database call, so a fourth failure is not even attempted.
    before = service.db_breaker._failures
    assert client.get("/v1/search", params={"q": "breaker while open"}).status_code == 503
    assert service.db_breaker._failures == before

    proxy.restore()
    time.sleep(service.db_breaker.cooldown_s + 0.1)  # the cooldown, not a timing assertion
    recovered = client.get("/v1/search", params={"q": "breaker red suv again"})
    assert recovered.status_code == 200, recovered.text
    assert service.db_breaker.state == "closed"
    assert _circuit_open(client) == 0
