"""A price change purges only the searches it can change, through the real origin, PostgreSQL,
Redis and the in-process purger: a relevance search of the listing's body type stays cached, a
search filtering on price is dropped and then shows the listing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient
from write_db import fetch, wait_done

TOKEN = "scoped-purge-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
VEHICLE_ID = 1_000_700
PRICE_MAX = 1_000
# Without free text, relevance means newest first: a 2003 SUV is not on the first page.
RELEVANCE = "/v1/search?body=suv&limit=10"
PRICED = f"/v1/search?body=suv&price_max={PRICE_MAX}&limit=50"


@pytest.fixture
def client(
    make_cached_client: Callable[..., TestClient], write_database_url: str
) -> Iterator[TestClient]:
    """The origin on the write tests' database, with the in-process purger polling often. The
    cheap SUV this test lists is sold at the end: the database is shared with other write tests,
    whose price-sorted searches must not find it."""
    client = make_cached_client(
        database_url=write_database_url, admin_token=TOKEN, purger_poll_s=0.5
    )
    yield client
    sold = client.patch(f"/v1/vehicles/{VEHICLE_ID}", json={"status": "sold"}, headers=AUTH)
    assert sold.status_code in (200, 404), sold.text
    if sold.status_code == 200:
        wait_done(client.app.state.settings.database_url, [sold.json()["purge_event"]])


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["results"]]


def cached_without(client: TestClient, url: str, vehicle_id: int) -> None:
    """Cache `url` and check it does not show the vehicle."""
    assert vehicle_id not in ids(client.get(url))
    again = client.get(url)
    assert again.headers["x-cache"] == "HIT"
    assert vehicle_id not in ids(again)


def last_event(db: str) -> int:
    return int(fetch(db, "SELECT coalesce(max(id), 0) AS id FROM purge_outbox")[0]["id"])


def release_coarse_tags(db: str, after: int) -> set[str]:
    """Every pending coarse tag due now (the 30 s window moved past), released and purged; the
    tags of the coarse events after event `after`. So a coalescing window never hides a purge."""
    fetch(db, "UPDATE purge_coarse_tags SET due_at = now() WHERE due_at IS NOT NULL")
    deadline = time.monotonic() + 10
    while fetch(db, "SELECT tag FROM purge_coarse_tags WHERE due_at IS NOT NULL"):
        assert time.monotonic() < deadline, "coarse tags never released"
        time.sleep(0.05)
    rows = fetch(db, "SELECT id, tags FROM purge_outbox WHERE reason = 'coarse' AND id > $1", after)
    if rows:
        wait_done(db, [r["id"] for r in rows])
    return {t for r in rows for t in r["tags"]}


def test_a_price_change_keeps_relevance_searches_and_purges_price_filtered_ones(
    client: TestClient,
) -> None:
    db = client.app.state.settings.database_url
    # A model no other write test lists: their coarse windows stay their own.
    suv = {"make": "mazda", "model": "cx-5", "year": 2003, "price": 28_995, "body": "suv",
           "mileage": 160_000, "fuel": "gasoline", "drivetrain": "awd", "color": "green",
           "transmission": "automatic", "zip": "80202", "dealer": "scoped-motors"}  # fmt: skip
    before_put = last_event(db)
    created = client.put(f"/v1/vehicles/{VEHICLE_ID}", json=suv, headers=AUTH)
    assert created.status_code == 201, created.text
    wait_done(db, [created.json()["purge_event"]])
    assert "body:suv" in release_coarse_tags(db, after=before_put)  # before anything is cached

    cached_without(client, RELEVANCE, VEHICLE_ID)
    cached_without(client, PRICED, VEHICLE_ID)

    before_patch = last_event(db)
    patched = client.patch(
        f"/v1/vehicles/{VEHICLE_ID}", json={"price": PRICE_MAX - 100}, headers=AUTH
    )
    assert patched.status_code == 200, patched.text
    event = patched.json()["purge_event"]
    assert fetch(db, "SELECT tags FROM purge_outbox WHERE id = $1", event)[0]["tags"] == [
        f"v:{VEHICLE_ID}"
    ]
    wait_done(db, [event])
    purged = release_coarse_tags(db, after=before_patch)
    assert "price|body:suv" in purged
    assert all(t.startswith("price|") for t in purged), purged  # never body:suv itself

    kept = client.get(RELEVANCE)
    assert kept.headers["x-cache"] == "HIT"  # not purged: a price change cannot change it
    assert VEHICLE_ID not in ids(kept)
    refreshed = client.get(PRICED)
    assert refreshed.headers["x-cache"] == "MISS"
    assert VEHICLE_ID in ids(refreshed)
