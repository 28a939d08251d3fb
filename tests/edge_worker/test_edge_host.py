"""The real worker code under Pyodide + miniflare (scripts/edge/host.mjs) in front of an origin.

STUB ORIGIN: `origin_url` serves tests/edge_worker/stub_origin.py for now. The lead swaps it for
the real origin (issue 3: "against the real origin"); tests that turn stub knobs (`stub`) keep
the stub.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from edge_host import ADMIN_TOKEN, EdgeHost, require_node_runtime
from stub_origin import StubOrigin


@pytest.fixture(scope="module", autouse=True)
def _node_runtime() -> None:
    require_node_runtime()


@pytest.fixture(scope="module")
def stub() -> Iterator[StubOrigin]:
    origin = StubOrigin().start()
    yield origin
    origin.stop()


@pytest.fixture(scope="module")
def origin_url(stub: StubOrigin) -> str:
    # LEAD: swap here for the real origin's URL (e.g. a module fixture that starts `vsearch serve`).
    return stub.url


@pytest.fixture(autouse=True)
def _reset_stub(stub: StubOrigin) -> None:
    behaviour = stub.behaviour
    behaviour.ttl, behaviour.swr, behaviour.sie = 60, 0, 300
    behaviour.popular, behaviour.status, behaviour.delay_s = False, 200, 0.0
    behaviour.extra_tags = ()


@pytest.fixture(scope="module")
def edge(origin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeHost]:
    host = EdgeHost(tmp_path_factory.mktemp("edge") / "persist", origin_url)
    yield host
    host.stop()


def calls(stub: StubOrigin) -> int:
    return len(stub.behaviour.calls)


def test_host_reports_its_runtime(edge: EdgeHost) -> None:
    assert "pyodide 0.28.2" in edge.ready["runtime"]
    assert edge.get("/__local/health").status_code == 200


def test_another_spelling_is_a_hit_with_the_same_key(edge: EdgeHost, stub: StubOrigin) -> None:
    before = calls(stub)
    first = edge.get("/search?q=red+suv+under+30k")
    edge.idle()
    second = edge.get("/v1/search?q=Red%20SUV%20under%20%2430%2C000&utm_source=mail")
    assert (first.status_code, first.headers["x-cache"], first.headers["x-cache-layer"]) == (
        200,
        "MISS",
        "origin",
    )
    assert (second.headers["x-cache"], second.headers["x-cache-layer"]) == ("HIT", "cache")
    assert second.headers["x-cache-key"] == first.headers["x-cache-key"]
    assert second.json() == first.json()
    assert calls(stub) == before + 1


def test_a_different_search_is_a_miss(edge: EdgeHost) -> None:
    edge.get("/search?q=blue+sedan")
    edge.idle()
    other = edge.get("/search?q=blue+pickup")
    assert other.headers["x-cache"] == "MISS"


def test_popular_queries_hit_in_the_cache_here_and_in_kv_elsewhere(
    origin_url: str, stub: StubOrigin, tmp_path: Path
) -> None:
    # KV is global and the Cache API is per data centre: a second host with a copy of the first
    # one's KV and an empty cache stands for another data centre.
    stub.behaviour.popular = True
    here = EdgeHost(tmp_path / "here", origin_url)
    try:
        here.get("/search?q=white+coupe")
        here.idle()
        hit = here.get("/search?q=WHITE+coupe")
        assert (hit.headers["x-cache"], hit.headers["x-cache-layer"]) == ("HIT", "cache")
    finally:
        here.stop()
    shutil.copytree(tmp_path / "here" / "kv", tmp_path / "elsewhere" / "kv")
    elsewhere = EdgeHost(tmp_path / "elsewhere", origin_url)
    try:
        before = calls(stub)
        remote = elsewhere.get("/search?q=white+COUPE")
        assert (remote.headers["x-cache"], remote.headers["x-cache-layer"]) == ("HIT", "kv")
        assert remote.content == hit.content
        assert calls(stub) == before
    finally:
        elsewhere.stop()


def test_ttl_expiry_goes_back_to_the_origin(edge: EdgeHost, stub: StubOrigin) -> None:
    stub.behaviour.ttl, stub.behaviour.sie = 1, 0
    assert edge.get("/search?q=green+wagon").headers["x-cache"] == "MISS"
    edge.idle()
    assert edge.get("/search?q=green+wagon").headers["x-cache"] == "HIT"
    time.sleep(1.2)
    before = calls(stub)
    assert edge.get("/search?q=green+wagon").headers["x-cache"] == "MISS"
    assert calls(stub) == before + 1


def test_bad_requests_never_reach_the_origin(edge: EdgeHost, stub: StubOrigin) -> None:
    before = calls(stub)
    assert edge.client.post("/search?q=suv").status_code == 405
    for path in ("/v1/purge", "/metrics", "/dashboard", "/v1/vehicles/12"):
        assert edge.get(path).status_code == 404
    too_long = edge.get("/search?q=" + "x" * 3000)
    assert too_long.status_code == 414
    bad = edge.get("/search?limit=500")
    assert bad.status_code == 400
    assert bad.json()["error"]["field"] == "limit"
    assert calls(stub) == before


def test_concurrent_identical_misses_reach_the_origin_once(
    edge: EdgeHost, stub: StubOrigin
) -> None:
    stub.behaviour.delay_s = 0.3
    before = calls(stub)
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: edge.get("/search?q=silver+minivan"), range(8)))
    assert {r.status_code for r in responses} == {200}
    assert calls(stub) == before + 1


def test_local_purge_by_tag_drops_the_entries(edge: EdgeHost, stub: StubOrigin) -> None:
    stub.behaviour.popular = True
    key = edge.get("/search?q=black+convertible").headers["x-cache-key"]
    edge.idle()
    assert key in edge.purge(tags=["v:99"])
    assert edge.get("/search?q=black+convertible").headers["x-cache"] == "MISS"


def analytics_counts(edge: EdgeHost) -> dict[str, int]:
    response = edge.get("/__local/counts", authorization=f"Bearer {ADMIN_TOKEN}")
    response.raise_for_status()
    return dict(response.json()["counts"])


def test_an_answer_with_tags_near_cloudflares_limit_is_cached_and_purged_by_any_of_them(
    edge: EdgeHost, stub: StubOrigin
) -> None:
    # ~16.2 KB of Cache-Tag, just under the 16 KB an entry may carry (edge_cache.py): the host's
    # HTTP hops must not refuse headers that size, from the origin or the Cache API.
    stub.behaviour.popular = True
    stub.behaviour.extra_tags = tuple(f"v:{n}" for n in range(100_000, 101_790))
    assert len(",".join(stub.behaviour.extra_tags)) > 16_000
    assert edge.get("/search?q=lavender+wagon").headers["x-cache"] == "MISS"
    edge.idle()
    assert edge.get("/search?q=lavender+wagon").headers["x-cache"] == "HIT"
    assert edge.purge(tags=["v:101789"]) != []
    assert edge.get("/search?q=lavender+wagon").headers["x-cache"] == "MISS"


def test_every_request_writes_one_analytics_point_counted_by_layer(
    edge: EdgeHost, stub: StubOrigin
) -> None:
    # The worker's own write_analytics into the host's EDGE_ANALYTICS stand-in (the dashboard's
    # edge rates): one data point a request, tallied by its X-Cache and X-Cache-Layer blobs.
    before = analytics_counts(edge)
    edge.get("/search?q=grey+roadster")  # MISS/origin
    edge.idle()
    edge.get("/search?q=GREY+roadster")  # HIT/cache
    stub.behaviour.ttl, stub.behaviour.swr = 1, 30
    edge.get("/search?q=grey+limousine")  # MISS/origin; cache only
    edge.idle()
    edge.get("/search?q=grey+limousine")  # HIT/cache
    time.sleep(1.2)
    edge.get("/search?q=grey+limousine")  # STALE/cache, refreshed in the background
    edge.idle()
    edge.get("/")  # the shopper page: no cache headers
    after = analytics_counts(edge)
    moved = {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
    assert moved == {"MISS/origin": 2, "HIT/cache": 2, "STALE/cache": 1, "-/-": 1}
    assert edge.get("/__local/counts").status_code == 401  # the edge admin token only


# ---- origin failures: a host of their own, with a short per-attempt timeout -------------------


@pytest.fixture(scope="module")
def flaky() -> Iterator[StubOrigin]:
    origin = StubOrigin().start()
    yield origin
    origin.stop()


@pytest.fixture(scope="module")
def fragile_edge(flaky: StubOrigin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeHost]:
    persist = tmp_path_factory.mktemp("fragile") / "persist"
    host = EdgeHost(persist, flaky.url, ORIGIN_TIMEOUT_MS="300", ORIGIN_BUDGET_MS="600")
    yield host
    host.stop()


@contextmanager
def stopped(origin: StubOrigin) -> Iterator[None]:
    """The origin is down (connection refused) inside the block, back on its port after."""
    origin.stop()
    try:
        yield
    finally:
        origin.restart()


def test_origin_stopped_serves_stale(fragile_edge: EdgeHost, flaky: StubOrigin) -> None:
    flaky.behaviour.ttl, flaky.behaviour.sie = 1, 300
    first = fragile_edge.get("/search?q=red+hatchback")
    fragile_edge.idle()
    with stopped(flaky):
        time.sleep(1.2)
        stale = fragile_edge.get("/search?q=red+hatchback")
    assert (stale.status_code, stale.headers["x-cache"]) == (200, "STALE")
    assert stale.json() == first.json()


def test_no_origin_and_no_stale_copy_is_502(fragile_edge: EdgeHost, flaky: StubOrigin) -> None:
    with stopped(flaky):
        response = fragile_edge.get("/search?q=never+seen+before")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "origin_unavailable"


def test_slow_origin_and_no_stale_copy_is_504(fragile_edge: EdgeHost, flaky: StubOrigin) -> None:
    flaky.behaviour.delay_s = 1.0
    try:
        started = time.monotonic()
        response = fragile_edge.get("/search?q=orange+van")
        elapsed = time.monotonic() - started
    finally:
        flaky.behaviour.delay_s = 0.0
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "origin_timeout"
    assert elapsed < 1.0


def test_kv_and_cache_persist_across_restarts(
    origin_url: str, stub: StubOrigin, tmp_path: Path
) -> None:
    stub.behaviour.popular = True
    # Started from outside the repository: the host finds its own files wherever it runs.
    first = EdgeHost(tmp_path / "persist", origin_url, cwd=tmp_path)
    try:
        first.get("/search?q=yellow+sedan")
        first.idle()
    finally:
        first.stop()
    second = EdgeHost(tmp_path / "persist", origin_url)
    try:
        assert second.get("/search?q=yellow+sedan").headers["x-cache"] == "HIT"
    finally:
        second.stop()


def test_a_purge_after_a_restart_finds_what_was_stored_before_it(
    origin_url: str, stub: StubOrigin, tmp_path: Path
) -> None:
    # The host's tag index is a journal on disk: replayed at start, a torn last line skipped.
    first = EdgeHost(tmp_path / "persist", origin_url)
    try:
        for body in BODIES:
            first.get(f"/search?q=olive+{body}")
        first.idle()
        assert first.purge(tags=["v:99"]) != []  # a purge in the journal before the restart
        keys = {first.get(f"/search?q=olive+{body}").headers["x-cache-key"] for body in BODIES}
        first.idle()
    finally:
        first.stop()
    with (tmp_path / "persist" / "tag-index.jsonl").open("a") as journal:
        journal.write('{"key": "torn')
    second = EdgeHost(tmp_path / "persist", origin_url)
    try:
        assert {second.get(f"/search?q=olive+{b}").headers["x-cache"] for b in BODIES} == {"HIT"}
        assert set(second.purge(tags=["v:12"])) == keys  # the stub tags every answer v:12, v:99
        assert {second.get(f"/search?q=olive+{b}").headers["x-cache"] for b in BODIES} == {"MISS"}
    finally:
        second.stop()


BODIES = ("hatchback", "wagon")


def test_the_rate_limit_bindings_reject_under_the_real_runtime(
    origin_url: str, stub: StubOrigin, tmp_path: Path
) -> None:
    # miniflare's own Workers Rate Limiting (the wrangler.toml bindings), with small limits.
    limited = EdgeHost(
        tmp_path / "persist", origin_url, ratelimits={"RATE_LIMIT_CLIENT": 3, "RATE_LIMIT_KEY": 2}
    )
    try:
        ip = {"cf-connecting-ip": "203.0.113.7"}
        assert [limited.get("/search?q=teal+coupe", **ip).status_code for _ in range(3)] == [
            200
        ] * 3
        before = calls(stub)
        rejected = limited.get("/search?q=teal+coupe+under+20k", **ip)
        assert rejected.status_code == 429
        assert rejected.headers["retry-after"] == "60"
        assert rejected.headers["cache-control"] == "no-store"
        assert rejected.json()["error"]["code"] == "rate_limited"
        assert calls(stub) == before  # rejected before any cache or origin work
        assert limited.get(
            "/search?q=teal+coupe", **{"cf-connecting-ip": "198.51.100.1"}
        ).is_success
        key = {"authorization": "Bearer some-api-key"}
        assert [limited.get("/", **key).status_code for _ in range(3)] == [200, 200, 429]
        assert limited.get("/").status_code == 200  # no address, no key: nothing to count
    finally:
        limited.stop()
