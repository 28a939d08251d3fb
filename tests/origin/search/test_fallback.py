"""When embedding or the vector path fails or runs out of time, a keyword search answers and
says so: never a bare 500."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from starlette.testclient import TestClient

from origin.app import create_app
from origin.settings import Settings


def _broken_embed(text: str) -> np.ndarray:
    raise RuntimeError("model crashed")


def _slow_embed(text: str) -> np.ndarray:
    time.sleep(0.5)
    return np.zeros(384, dtype=np.float32)


def _client(settings: Settings, embed: Any, **overrides: Any) -> Iterator[TestClient]:
    from dataclasses import replace

    app = create_app(replace(settings, **overrides), embed=embed)
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def broken(settings: Settings, inventory: Any) -> Iterator[TestClient]:
    yield from _client(settings, _broken_embed)


@pytest.fixture(scope="module")
def slow(settings: Settings, inventory: Any) -> Iterator[TestClient]:
    yield from _client(settings, _slow_embed, vector_budget_ms=100)


@pytest.mark.parametrize("which", ["broken", "slow"])
def test_keyword_fallback_answers_and_says_so(
    which: str, request: pytest.FixtureRequest, inventory: Any
) -> None:
    client: TestClient = request.getfixturevalue(which)
    response = client.get("/v1/search?q=pickup+tow+package&price_max=40000")
    assert response.status_code == 200
    body = response.json()
    assert body["strategy"] == "keyword_fallback"
    assert "degraded" in body
    assert body["results"], "pickups with a tow package exist in the test inventory"
    for result in body["results"]:
        assert result["price"] <= 40000
        vehicle = inventory.by_id[result["id"]]
        assert (
            "tow" in vehicle.description.lower()
            or "pickup" in vehicle.title.lower()
            or (vehicle.body == "pickup")
        )


def test_fallback_pages_with_its_own_cursor(broken: TestClient) -> None:
    query = "/v1/search?q=comfortable+daily+commuter&limit=5"
    first = broken.get(query).json()
    assert first["strategy"] == "keyword_fallback" and first["next_cursor"]
    second = broken.get(f"{query}&cursor={first['next_cursor']}").json()
    assert second["strategy"] == "keyword_fallback"
    first_ids = {r["id"] for r in first["results"]}
    assert first_ids.isdisjoint(r["id"] for r in second["results"])


def test_searches_without_text_never_need_the_model(broken: TestClient) -> None:
    body = broken.get("/v1/search?body=suv&sort=price_asc").json()
    assert body["strategy"] == "filtered_sort"
    assert "degraded" not in body
