"""The search API as a client sees it: shape, filters honoured, pagination, formats, errors."""

from __future__ import annotations

import gzip
from dataclasses import replace
from typing import Any

import msgpack
from starlette.testclient import TestClient

from origin.app import create_app
from origin.settings import Settings

RESULT_KEYS = {
    "id", "make", "model", "year", "price", "mileage", "body", "fuel", "drivetrain", "color",
    "zip", "region", "dealer", "title", "score",
}  # fmt: skip


def search(client: TestClient, query: str, status: int = 200) -> dict[str, Any]:
    response = client.get(f"/v1/search?{query}")
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def test_search_returns_the_contract_shape(client: TestClient) -> None:
    body = search(client, "q=reliable+family+suv")
    assert set(body) >= {"results", "facets", "next_cursor", "query", "strategy", "took_ms"}
    assert len(body["results"]) == 20
    assert set(body["results"][0]) >= RESULT_KEYS
    assert body["query"]["filters"] == {"body": ["suv"]}
    assert body["query"]["extracted"] == {"body": ["suv"]}
    assert body["strategy"] in {"exact_subset", "exact_texts", "hnsw_iterative"}


def test_results_are_ranked_by_similarity(client: TestClient) -> None:
    scores = [r["score"] for r in search(client, "q=sporty+convertible")["results"]]
    assert scores == sorted(scores, reverse=True)


def test_constraints_spoken_in_q_filter_every_result(client: TestClient) -> None:
    body = search(client, "q=cheap+reliable+family+SUV+under+30k")
    assert body["query"]["extracted"] == {"body": ["suv"], "price_max": 30000}
    assert body["results"], "the test inventory has SUVs under 30k"
    for result in body["results"]:
        assert result["body"] == "suv"
        assert result["price"] <= 30000


def test_structured_filters_combine(client: TestClient, inventory: Any) -> None:
    query = "fuel=gasoline&year_min=2015&mileage_max=80000&drivetrain=awd,4wd&limit=50"
    body = search(client, query)
    expected = sum(
        1
        for v in inventory.vehicles
        if v.fuel == "gasoline"
        and v.year >= 2015
        and v.mileage <= 80000
        and v.drivetrain in {"awd", "4wd"}
    )
    assert body["facets"]["total"] == expected
    assert len(body["results"]) == min(50, expected)
    for result in body["results"]:
        assert result["fuel"] == "gasoline" and result["year"] >= 2015
        assert result["mileage"] <= 80000 and result["drivetrain"] in {"awd", "4wd"}


def test_every_search_returns_min_k_matches(client: TestClient, inventory: Any) -> None:
    # A selective filter (exact subset) and a broad one (HNSW iterative scan): never under-filled.
    for query, predicate in [
        ("q=comfortable&fuel=diesel", lambda v: v.fuel == "diesel"),
        ("q=comfortable&body=sedan", lambda v: v.body == "sedan"),
        ("q=comfortable&color=red&body=suv", lambda v: v.color == "red" and v.body == "suv"),
    ]:
        matches = sum(1 for v in inventory.vehicles if predicate(v))
        body = search(client, query)
        assert len(body["results"]) == min(20, matches), query


def test_cursor_pages_do_not_overlap_and_cover_the_matches(
    client: TestClient, inventory: Any
) -> None:
    matches = {v.id for v in inventory.vehicles if v.body == "minivan"}
    seen: list[int] = []
    query = "q=room+for+the+kids&body=minivan&limit=50"
    body = search(client, query)
    while True:
        seen.extend(r["id"] for r in body["results"])
        if body["next_cursor"] is None:
            break
        body = search(client, f"{query}&cursor={body['next_cursor']}")
    assert len(seen) == len(set(seen))
    assert set(seen) == matches


def test_sort_by_price_pages_in_order(client: TestClient) -> None:
    query = "body=pickup&sort=price_asc&limit=10"
    first = search(client, query)
    second = search(client, f"{query}&cursor={first['next_cursor']}")
    prices = [r["price"] for r in first["results"] + second["results"]]
    assert prices == sorted(prices)
    assert first["strategy"] == "filtered_sort"


def test_text_with_price_sort_orders_the_relevant_candidates(client: TestClient) -> None:
    body = search(client, "q=family+hauler&sort=price_desc&limit=30")
    prices = [r["price"] for r in body["results"]]
    assert prices == sorted(prices, reverse=True)


def test_radius_filter_and_distance_sort(client: TestClient) -> None:
    body = search(client, "zip=80202&radius_mi=300&sort=distance&limit=50")
    distances = [r["distance_mi"] for r in body["results"]]
    assert distances, "the test inventory has vehicles within 300 miles of Denver"
    assert distances == sorted(distances)
    assert all(d <= 300 for d in distances)


def test_fields_gives_a_partial_response(client: TestClient) -> None:
    body = search(client, "q=hatchback&fields=price,id,title")
    assert all(set(r) == {"id", "price", "title"} for r in body["results"])


def test_msgpack_has_the_same_shape_as_json(client: TestClient) -> None:
    query = "/v1/search?q=economical+commuter+sedan"
    as_json = client.get(query).json()
    response = client.get(query, headers={"Accept": "application/msgpack"})
    assert response.headers["content-type"] == "application/msgpack"
    as_msgpack = msgpack.unpackb(response.content)
    assert [r["id"] for r in as_msgpack["results"]] == [r["id"] for r in as_json["results"]]
    assert as_msgpack["query"] == as_json["query"]


def test_gzip_when_asked(client: TestClient) -> None:
    response = client.get("/v1/search?q=truck&limit=50", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    raw = client.get("/v1/search?q=truck&limit=50", headers={"Accept-Encoding": "identity"}).content
    assert len(gzip.compress(raw)) < len(raw)


def test_edge_path_and_cache_headers(client: TestClient) -> None:
    response = client.get("/search?q=Family+SUV&utm_source=mail")
    same = client.get("/v1/search?q=suv+family")
    assert response.headers["x-cache-key"] == same.headers["x-cache-key"]
    assert response.headers["x-cache-key"].startswith("v1:")
    assert "stale-while-revalidate" in response.headers["cache-control"]
    tags = response.headers["cache-tag"].split(",")
    ids = {f"v:{r['id']}" for r in response.json()["results"]}
    assert ids <= set(tags)


def test_vehicle_by_id(client: TestClient, inventory: Any) -> None:
    vehicle = inventory.vehicles[41]
    body = client.get(f"/v1/vehicles/{vehicle.id}").json()
    assert (body["id"], body["price"], body["title"]) == (vehicle.id, vehicle.price, vehicle.title)


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"


def test_a_one_body_search_walks_its_graph_and_a_narrower_one_ranks_its_texts(
    settings: Settings, inventory: Any, embedder: Any
) -> None:
    # Both match more than 300 rows (exact_max_rows) and any number of texts may be ranked
    # exactly: one body type alone still walks its own graph, which holds just its texts.
    texts_anyway = replace(settings, exact_max_texts=10**6)
    with TestClient(create_app(texts_anyway, embed=embedder.embed_query)) as client:
        assert search(client, "q=comfortable&body=sedan")["strategy"] == "hnsw_iterative"
        narrower = search(client, "q=comfortable&body=sedan&fuel=gasoline")
        assert narrower["strategy"] == "exact_texts"
