"""The inventory API through the real app (PostgreSQL, Redis, the in-process purger): writes are
authenticated and validated, and after their purge the search shows the change."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient
from write_db import FACET_COUNT_DRIFT_SQL, fetch, wait_done

from origin.settings import Settings

TOKEN = "inventory-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NEW_ID = 1_000_001


@pytest.fixture(scope="module")
def client(
    settings: Settings, write_database_url: str, redis_url: str, embedder: Any
) -> Iterator[TestClient]:
    from origin.app import create_app

    with redis.Redis.from_url(redis_url) as r:
        r.flushdb()
    ours = replace(
        settings, database_url=write_database_url, redis_url=redis_url, admin_token=TOKEN,
        purger_poll_s=0.5,
    )  # fmt: skip
    with TestClient(create_app(ours, embed=embedder.embed_query)) as test_client:
        yield test_client


def new_vehicle(**overrides: Any) -> dict[str, Any]:
    body = {
        "make": "toyota", "model": "rav4", "year": 2022, "price": 28_995, "mileage": 21_000,
        "body": "suv", "fuel": "hybrid", "drivetrain": "awd", "transmission": "cvt",
        "color": "blue", "zip": "80202", "dealer": "test-motors",
        "description": "One owner, heated seats, adaptive cruise.",
    }  # fmt: skip
    body.update(overrides)
    return body


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["results"]]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Basic {TOKEN}"},
     {"Authorization": TOKEN}],
)  # fmt: skip
def test_writes_without_the_admin_token_are_401(
    client: TestClient, headers: dict[str, str]
) -> None:
    for method, path, body in [
        ("PATCH", "/v1/vehicles/5", {"price": 1}),
        ("PUT", f"/v1/vehicles/{NEW_ID}", new_vehicle()),
        ("DELETE", "/v1/vehicles/5", None),
        ("POST", "/v1/vehicles/bulk", {"vehicles": []}),
        ("POST", "/v1/purge", {"tags": ["q:all"]}),
    ]:
        response = client.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]["code"] == "unauthorized"
        assert TOKEN not in response.text
    assert fetch(client.app.state.settings.database_url, "SELECT price FROM vehicles WHERE id = 5")[
        0
    ]["price"] != 1  # fmt: skip


def test_the_token_is_compared_in_constant_time(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import origin.auth

    calls: list[tuple[bytes, bytes]] = []
    real = origin.auth.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(origin.auth.hmac, "compare_digest", spy)
    response = client.post(
        "/v1/purge", json={"tags": ["x"]}, headers={"Authorization": "Bearer no"}
    )
    assert response.status_code == 401
    assert calls == [(b"no", TOKEN.encode())]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("PATCH", "/v1/vehicles/7", {"price": "cheap"}, "price"),
        ("PATCH", "/v1/vehicles/7", {"price": True}, "price"),
        ("PATCH", "/v1/vehicles/7", {"mileage": -5}, "mileage"),
        ("PATCH", "/v1/vehicles/7", {"status": "gone"}, "status"),
        ("PATCH", "/v1/vehicles/7", {"body": "spaceship"}, "body"),
        ("PATCH", "/v1/vehicles/7", {"colour": "red"}, "colour"),
        ("PATCH", "/v1/vehicles/7", {"id": 8}, "id"),
        ("PATCH", "/v1/vehicles/7", [1, 2], None),
        ("PATCH", "/v1/vehicles/abc", {"price": 1}, "id"),
        ("PATCH", "/v1/vehicles/99999999", {"price": 1}, "id"),
        ("PUT", f"/v1/vehicles/{NEW_ID}", {"make": "toyota"}, "model"),
        ("PUT", f"/v1/vehicles/{NEW_ID}", new_vehicle(zip="00000"), "zip"),
        ("PUT", f"/v1/vehicles/{NEW_ID}", new_vehicle(make="Toyota!"), "make"),
        ("PUT", f"/v1/vehicles/{NEW_ID}", new_vehicle(fuel="steam"), "fuel"),
        (
            "POST",
            "/v1/vehicles/bulk",
            {"vehicles": [{"id": 1_000_050, **new_vehicle()}, {"id": 1_000_051, "price": 1}]},
            "vehicles[1].make",
        ),
        ("POST", "/v1/vehicles/bulk", {"vehicles": [{**new_vehicle(), "id": 0}]}, "vehicles[0].id"),
        (
            "POST",
            "/v1/vehicles/bulk",
            {"vehicles": [{"id": 1, **new_vehicle()}] * 1001},
            "vehicles",
        ),
        ("POST", "/v1/purge", {"tags": ["a,b"]}, "tags[0]"),
        ("POST", "/v1/purge", {"vehicle_ids": ["7"]}, "vehicle_ids[0]"),
        ("POST", "/v1/purge", {}, "vehicle_ids"),
    ],
)
def test_payload_errors_are_400_naming_the_field(
    client: TestClient, method: str, path: str, body: Any, field: str | None
) -> None:
    response = client.request(method, path, json=body, headers=AUTH)
    expected = 404 if path.endswith("99999999") else 400
    assert response.status_code == expected, response.text
    assert response.json()["error"]["field"] == field


def test_a_body_that_is_not_json_is_400(client: TestClient) -> None:
    response = client.patch("/v1/vehicles/7", content=b"{price: 1", headers=AUTH)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_a_sold_vehicle_leaves_search_results_after_its_purge(client: TestClient) -> None:
    url = "/v1/search?q=family+suv&body=suv&limit=10"
    before = ids(client.get(url))
    sold = before[0]
    cached = client.get(url)
    assert cached.headers["x-cache"] == "HIT"  # so only the purge can drop it
    response = client.patch(f"/v1/vehicles/{sold}", json={"status": "sold"}, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json()["vehicle"]["status"] == "sold"
    db = client.app.state.settings.database_url
    event = response.json()["purge_event"]
    assert fetch(db, "SELECT tags FROM purge_outbox WHERE id = $1", event)[0]["tags"] == [
        f"v:{sold}"
    ]
    wait_done(db, [event])
    after = client.get(url)
    assert sold not in ids(after)
    assert after.headers["x-cache"] == "MISS"
    assert client.get(f"/v1/vehicles/{sold}").json()["status"] == "sold"


def test_a_price_change_shows_in_search_after_its_purge(client: TestClient) -> None:
    url = "/v1/search?q=pickup+truck&body=pickup&limit=10"
    results = client.get(url).json()["results"]
    target = results[1]
    new_price = target["price"] + 1_234
    response = client.patch(f"/v1/vehicles/{target['id']}", json={"price": new_price}, headers=AUTH)
    wait_done(client.app.state.settings.database_url, [response.json()["purge_event"]])
    shown = {r["id"]: r["price"] for r in client.get(url).json()["results"]}
    assert shown.get(target["id"]) == new_price


def test_a_new_listing_appears_within_the_coarse_window(client: TestClient) -> None:
    db = client.app.state.settings.database_url
    url = "/v1/search?make=toyota&model=rav4&sort=price_asc&limit=50"
    assert NEW_ID not in ids(client.get(url))
    assert client.get(url).headers["x-cache"] == "HIT"
    # Other tests on this database may have released model:rav4 before: only a later event counts.
    before = fetch(db, "SELECT coalesce(max(id), 0) AS id FROM purge_outbox")[0]["id"]
    created = client.put(f"/v1/vehicles/{NEW_ID}", json=new_vehicle(price=1_000), headers=AUTH)
    assert created.status_code == 201, created.text
    wait_done(db, [created.json()["purge_event"]])
    # The coarse tags of a first listing are due at once: the purger releases them as an event.
    coarse = _wait_coarse_released(db, "model:rav4", after=before)
    wait_done(db, [coarse])
    assert ids(client.get(url))[0] == NEW_ID

    # A second listing within the window is coalesced: due when the window ends, not now.
    second = client.put(f"/v1/vehicles/{NEW_ID + 1}", json=new_vehicle(price=900), headers=AUTH)
    assert second.status_code == 201
    wait_done(db, [second.json()["purge_event"]])
    row = fetch(db, "SELECT due_at, last_purged_at FROM purge_coarse_tags WHERE tag = $1",
                "model:rav4")[0]  # fmt: skip
    assert (row["due_at"] - row["last_purged_at"]).total_seconds() == pytest.approx(30.0)
    assert NEW_ID + 1 not in ids(client.get(url))  # still the cached page: inside the window
    # Move the clock to the window's end: the purger releases the tag and the search has it.
    fetch(db, "UPDATE purge_coarse_tags SET due_at = now(), last_purged_at = now() - "
              "interval '30 s' WHERE due_at IS NOT NULL")  # fmt: skip
    coarse = _wait_coarse_released(db, "model:rav4", after=coarse)
    wait_done(db, [coarse])
    assert ids(client.get(url))[0] == NEW_ID + 1


def _wait_coarse_released(db: str, tag: str, after: int = 0) -> int:
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = fetch(db, "SELECT id FROM purge_outbox WHERE reason = 'coarse' AND $1 = ANY(tags) "
                         "AND id > $2 ORDER BY id", tag, after)  # fmt: skip
        if rows:
            return int(rows[-1]["id"])
        time.sleep(0.05)
    raise AssertionError(f"coarse tag {tag} never released")


def test_bulk_upsert_is_one_transaction_and_one_event(client: TestClient) -> None:
    db = client.app.state.settings.database_url
    vehicles = [{"id": 1_000_100 + i, **new_vehicle(price=20_000 + i)} for i in range(3)]
    response = client.post("/v1/vehicles/bulk", json={"vehicles": vehicles}, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json() | {"purge_event": 0} == {
        "created": 3, "updated": 0, "unchanged": 0, "purge_event": 0
    }  # fmt: skip
    event = fetch(db, "SELECT tags FROM purge_outbox WHERE id = $1", response.json()["purge_event"])
    assert event[0]["tags"] == [f"v:{v['id']}" for v in vehicles]
    # The same again changes nothing: no event. One bad entry rolls back the whole request.
    again = client.post("/v1/vehicles/bulk", json={"vehicles": vehicles}, headers=AUTH)
    assert again.json()["unchanged"] == 3 and again.json()["purge_event"] is None
    broken = [{**vehicles[0], "price": 1}, {**vehicles[1], "zip": "00000"}]
    assert client.post("/v1/vehicles/bulk", json={"vehicles": broken}, headers=AUTH).json()[
        "error"
    ]["field"] == "vehicles[1].zip"  # fmt: skip
    assert fetch(db, "SELECT price FROM vehicles WHERE id = $1", vehicles[0]["id"])[0][
        "price"
    ] == 20_000  # fmt: skip


def test_concurrent_bulk_writes_sharing_facet_counts_both_land(client: TestClient) -> None:
    """Two bulk writes whose rows move the same facet counts in opposite orders: each takes the
    counts in key order (one statement a write), so neither deadlocks and no count drifts."""
    db = client.app.state.settings.database_url
    n = 150
    first = [1_100_000 + i for i in range(n)]
    second = [1_100_200 + i for i in range(n)]
    created = [{"id": vid, **new_vehicle()} for vid in first + second]
    client.post("/v1/vehicles/bulk", json={"vehicles": created}, headers=AUTH).raise_for_status()

    def write(vids: list[int], years: list[int]) -> int:
        vehicles = [{"id": v, **new_vehicle(year=y)} for v, y in zip(vids, years, strict=True)]
        response = client.post("/v1/vehicles/bulk", json={"vehicles": vehicles}, headers=AUTH)
        return response.status_code

    years = [1990 + i % 30 for i in range(n)]
    with ThreadPoolExecutor(2) as pool:
        for round_ in range(3):
            mine = [y + round_ for y in years]
            statuses = pool.map(write, [first, second], [mine, mine[::-1]])
            assert list(statuses) == [200, 200]
    assert fetch(db, FACET_COUNT_DRIFT_SQL) == []


def test_a_description_change_re_embeds(client: TestClient) -> None:
    from origin.search.embedder import content_hash

    db = client.app.state.settings.database_url
    vid = 1_000_200
    client.put(f"/v1/vehicles/{vid}", json=new_vehicle(), headers=AUTH).raise_for_status()
    old = fetch(db, "SELECT embedding FROM vehicles WHERE id = $1", vid)[0]["embedding"]
    text = "Toyota RAV4 SUV, hybrid, all-wheel drive. Towing package and a roof box."
    response = client.patch(
        f"/v1/vehicles/{vid}", json={"description": "Towing package and a roof box."},
        headers=AUTH,
    )  # fmt: skip
    assert response.status_code == 200
    row = fetch(db, "SELECT embed_text, embedding FROM vehicles WHERE id = $1", vid)[0]
    assert row["embed_text"] == text
    cached = fetch(db, "SELECT embedding FROM text_embeddings WHERE hash = $1", content_hash(text))
    assert row["embedding"] != old
    assert cached and cached[0]["embedding"] == row["embedding"]  # pgvector's text form


def test_a_new_text_is_cached_with_its_body(client: TestClient) -> None:
    from origin.search.embedder import content_hash

    db = client.app.state.settings.database_url
    vid = 1_000_250
    description = "Third row folds flat; a text no other listing has."
    client.put(
        f"/v1/vehicles/{vid}", json=new_vehicle(description=description), headers=AUTH
    ).raise_for_status()
    text = f"Toyota RAV4 SUV, hybrid, all-wheel drive. {description}"
    cached = fetch(
        db, "SELECT body, xmin::text AS written FROM text_embeddings WHERE hash = $1",
        content_hash(text),
    )  # fmt: skip
    listing = fetch(db, "SELECT xmin::text AS written FROM vehicles WHERE id = $1", vid)
    assert cached[0]["body"] == "suv"
    # Written with its body before the listing's transaction, not mended by the listing's
    # trigger inside it (the trigger is the safety net, and it costs every write while a text
    # lacks a body).
    assert cached[0]["written"] != listing[0]["written"]


def test_delete_purges_and_then_404(client: TestClient) -> None:
    db = client.app.state.settings.database_url
    vid = 1_000_300
    client.put(f"/v1/vehicles/{vid}", json=new_vehicle(), headers=AUTH).raise_for_status()
    deleted = client.delete(f"/v1/vehicles/{vid}", headers=AUTH)
    assert deleted.status_code == 200
    wait_done(db, [deleted.json()["purge_event"]])
    assert client.get(f"/v1/vehicles/{vid}").status_code == 404
    assert client.delete(f"/v1/vehicles/{vid}", headers=AUTH).status_code == 404


def test_manual_purge_goes_through_the_outbox(client: TestClient) -> None:
    db = client.app.state.settings.database_url
    response = client.post(
        "/v1/purge", json={"vehicle_ids": [42], "tags": ["make:honda"]}, headers=AUTH
    )
    assert response.status_code == 202
    event = response.json()["purge_event"]
    assert fetch(db, "SELECT tags FROM purge_outbox WHERE id = $1", event)[0]["tags"] == [
        "make:honda", "v:42"
    ]  # fmt: skip
    lag = wait_done(db, [event])
    print(f"\npurge lag (commit -> all tiers done, Redis tier): {lag * 1000:.0f} ms")
    metrics = client.get("/metrics").text
    count = [line for line in metrics.splitlines()
             if line.startswith("vsearch_purge_lag_seconds_count")]  # fmt: skip
    assert count and float(count[0].split()[-1]) >= 1
    assert 'vsearch_purge_events_total{result="done"}' in metrics


def test_a_new_listing_with_a_new_text_is_found_by_the_approximate_search(
    client: TestClient,
) -> None:
    # Its text is new, so it reaches the HNSW graph of texts through the embedding cache.
    vehicle_id = NEW_ID + 50
    text = "Amphibious camper conversion with pontoon floats and an espresso bar"
    listing = new_vehicle(body="van", model="sienna", description=text)
    created = client.put(f"/v1/vehicles/{vehicle_id}", json=listing, headers=AUTH)
    assert created.status_code == 201, created.text
    try:
        body = client.get("/v1/search?q=amphibious+camper+pontoon+espresso&limit=5").json()
        assert body["strategy"] == "hnsw_iterative"  # unfiltered: far over the exact threshold
        assert body["results"][0]["id"] == vehicle_id
    finally:
        sold = client.patch(f"/v1/vehicles/{vehicle_id}", json={"status": "sold"}, headers=AUTH)
        wait_done(client.app.state.settings.database_url, [sold.json()["purge_event"]])
