"""The real worker code (Pyodide + miniflare) in front of the real origin (uvicorn, PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from edge_host import EdgeHost, require_node_runtime
from servers import OriginProcess


@pytest.fixture(scope="module")
def origin(
    database_url: str, inventory: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OriginProcess]:
    # A 2 s max-age so the TTL test does not wait long; no stale-while-revalidate window, so an
    # expired entry is a MISS unless the origin is failing (then stale-if-error serves it).
    process = OriginProcess(
        database_url,
        tmp_path_factory.mktemp("origin"),
        VSEARCH_CACHE_MAX_AGE_S="2",
        VSEARCH_CACHE_SWR_S="0",
    )
    yield process
    process.stop()


@pytest.fixture(scope="module")
def edge(origin: OriginProcess) -> Iterator[EdgeHost]:
    require_node_runtime()
    persist = Path(origin.log).parent / "edge-persist"
    host = EdgeHost(persist, origin.url)
    yield host
    host.stop()


def test_another_spelling_of_the_same_search_is_a_hit_with_the_same_key(edge: EdgeHost) -> None:
    first = edge.get("/search?q=cheap+reliable+family+SUV+under+30k")
    assert first.status_code == 200, first.text
    assert (first.headers["x-cache"], first.headers["x-cache-layer"]) == ("MISS", "origin")
    edge.idle()
    second = edge.get("/search?utm_source=news&q=Family++reliable+cheap+suv+under+%2430%2C000")
    assert second.status_code == 200
    assert second.headers["x-cache"] == "HIT"
    assert second.headers["x-cache-key"] == first.headers["x-cache-key"]
    assert second.json()["results"] == first.json()["results"]


def test_the_origin_computes_the_same_key_as_the_edge(
    edge: EdgeHost, origin: OriginProcess
) -> None:

    at_edge = edge.get("/v1/search?q=electric+pickup&zip=80202&radius_mi=500")
    direct = httpx.get(f"{origin.url}/v1/search?q=electric+pickup&zip=80202&radius_mi=500")
    assert at_edge.headers["x-cache-key"] == direct.headers["x-cache-key"]
    assert [r["id"] for r in at_edge.json()["results"]] == [
        r["id"] for r in direct.json()["results"]
    ]


def test_a_different_search_is_a_miss(edge: EdgeHost) -> None:
    edge.get("/search?q=red+convertible")
    edge.idle()
    other = edge.get("/search?q=red+convertible+under+20k")
    assert other.headers["x-cache"] == "MISS"


def test_an_entry_expires_after_its_ttl(edge: EdgeHost) -> None:
    edge.get("/search?q=quiet+highway+sedan")
    edge.idle()
    assert edge.get("/search?q=quiet+highway+sedan").headers["x-cache"] == "HIT"
    time.sleep(2.5)
    assert edge.get("/search?q=quiet+highway+sedan").headers["x-cache"] == "MISS"


def test_origin_down_serves_stale_then_errors_without_a_copy(
    edge: EdgeHost, origin: OriginProcess
) -> None:
    warm = edge.get("/search?q=weekend+track+toy")
    assert warm.status_code == 200
    edge.idle()
    time.sleep(2.5)  # past max-age: only stale-if-error may serve it now
    origin.stop()
    stale = edge.get("/search?q=weekend+track+toy")
    assert stale.status_code == 200
    assert stale.headers["x-cache"] == "STALE"
    assert stale.json()["results"] == warm.json()["results"]
    never_seen = edge.get("/search?q=camping+rig+with+a+roof+tent")
    assert never_seen.status_code in (502, 504)
    assert never_seen.json()["error"]["code"]
