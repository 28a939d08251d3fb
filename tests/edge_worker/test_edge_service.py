"""edge_service.py: the read path through KV, the Cache API and the origin, stale rules included."""

from __future__ import annotations

import asyncio
import json

import pytest
from edge_cache import Layer
from edge_fakes import Background, Clock, FakeOrigin, MemoryTier
from edge_service import EdgeService
from edge_settings import EdgeSettings
from origin_fetch import OriginPool

A, B = "http://a", "http://b"


class Edge:
    """An EdgeService over memory tiers and a fake origin, driven like a client."""

    def __init__(self, origin: FakeOrigin | None = None, origins: tuple[str, ...] = (A,)) -> None:
        self.origin = origin or FakeOrigin()
        self.clock = Clock()
        self.kv = MemoryTier(Layer.KV)
        self.cache = MemoryTier(Layer.CACHE)
        self.background = Background()
        pool = OriginPool(origins, self.origin, timeout_s=0.05, budget_s=1.0, clock=self.clock)
        self.service = EdgeService(EdgeSettings(), [self.cache, self.kv], pool, clock=self.clock)

    async def get(self, target: str, method: str = "GET", request_id: str | None = None):  # type: ignore[no-untyped-def]
        headers = {"x-request-id": request_id} if request_id else {}
        response = await self.service.handle(
            method, f"https://edge{target}", headers.get, self.background
        )
        await self.background.drain()
        return response


async def test_first_request_misses_and_a_second_spelling_hits_the_cache() -> None:
    edge = Edge()
    first = await edge.get("/search?q=red+suv")
    second = await edge.get("/v1/search?q=Red%20%20SUV&utm_source=news")
    assert (first.status, first.headers["x-cache"], first.headers["x-cache-layer"]) == (
        200,
        "MISS",
        "origin",
    )
    assert (second.headers["x-cache"], second.headers["x-cache-layer"]) == ("HIT", "cache")
    assert first.headers["x-cache-key"] == second.headers["x-cache-key"]
    assert second.body == first.body
    assert len(edge.origin.calls) == 1
    assert edge.kv.writes == []  # not popular


async def test_popular_queries_go_to_both_tiers_and_kv_answers_where_the_cache_lacks_them() -> None:
    edge = Edge(FakeOrigin(popular=True))
    await edge.get("/search?q=red+suv")
    local = await edge.get("/search?q=red+suv")
    assert (local.headers["x-cache"], local.headers["x-cache-layer"]) == ("HIT", "cache")
    assert edge.kv.writes == edge.cache.writes == [local.headers["x-cache-key"]]
    del edge.cache.entries[local.headers["x-cache-key"]]  # as in a data centre it never reached
    remote = await edge.get("/search?q=red+suv")
    assert (remote.headers["x-cache"], remote.headers["x-cache-layer"]) == ("HIT", "kv")
    assert remote.body == local.body
    assert len(edge.origin.calls) == 1
    assert edge.cache.writes == [local.headers["x-cache-key"]]  # KV's copy is not copied back


async def test_a_different_search_misses() -> None:
    edge = Edge()
    await edge.get("/search?q=red+suv")
    other = await edge.get("/search?q=blue+sedan")
    assert other.headers["x-cache"] == "MISS"
    assert len(edge.origin.calls) == 2


async def test_stored_tags_add_the_query_tags_to_the_origin_tags() -> None:
    edge = Edge()
    response = await edge.get("/search?q=red+suv")
    entry = edge.cache.entries[response.headers["x-cache-key"]]
    assert entry.tags[:2] == ("v:12", "v:99")
    assert len(entry.tags) > 2


async def test_expired_entries_go_back_to_the_origin() -> None:
    edge = Edge(FakeOrigin(ttl=1, sie=0))
    await edge.get("/search?q=suv")
    edge.clock.now += 2
    again = await edge.get("/search?q=suv")
    assert again.headers["x-cache"] == "MISS"
    assert len(edge.origin.calls) == 2


async def test_stale_while_revalidate_serves_stale_and_refreshes_in_the_background() -> None:
    edge = Edge(FakeOrigin(ttl=10, swr=60))
    await edge.get("/search?q=suv")
    edge.clock.now += 20
    stale = await edge.get("/search?q=suv")
    assert (stale.headers["x-cache"], stale.headers["cache-control"]) == (
        "STALE",
        "public, max-age=0",
    )
    assert len(edge.origin.calls) == 2  # the background refresh ran
    fresh = await edge.get("/search?q=suv")
    assert fresh.headers["x-cache"] == "HIT"
    assert json.loads(fresh.body)["call"] == 2


async def test_stale_if_error_when_the_origin_is_down() -> None:
    edge = Edge(FakeOrigin(ttl=1, sie=300))
    first = await edge.get("/search?q=suv")
    edge.clock.now += 5
    edge.origin.down.add(A)
    stale = await edge.get("/search?q=suv")
    assert (stale.status, stale.headers["x-cache"], stale.headers["x-cache-layer"]) == (
        200,
        "STALE",
        "cache",
    )
    assert stale.body == first.body
    assert stale.headers["age"] == "5"


async def test_stale_if_error_on_timeout_and_5xx() -> None:
    for broken in (FakeOrigin(ttl=1, slow={A}), FakeOrigin(ttl=1, status=503)):
        edge = Edge(FakeOrigin(ttl=1))
        await edge.get("/search?q=suv")
        edge.clock.now += 5
        edge.service.origins.transport = broken
        assert (await edge.get("/search?q=suv")).headers["x-cache"] == "STALE"


async def test_no_stale_copy_means_502_or_504_json() -> None:
    refused = await Edge(FakeOrigin(down={A})).get("/search?q=suv")
    timed_out = await Edge(FakeOrigin(slow={A})).get("/search?q=suv")
    assert refused.status == 502
    assert json.loads(refused.body)["error"]["code"] == "origin_unavailable"
    assert timed_out.status == 504
    assert json.loads(timed_out.body)["error"]["code"] == "origin_timeout"
    assert timed_out.headers["x-cache"] == "MISS"


async def test_beyond_stale_if_error_is_an_error_not_a_stale_answer() -> None:
    edge = Edge(FakeOrigin(ttl=1, sie=10))
    await edge.get("/search?q=suv")
    edge.clock.now += 30
    edge.origin.down.add(A)
    assert (await edge.get("/search?q=suv")).status == 502


async def test_failover_to_the_second_origin() -> None:
    edge = Edge(FakeOrigin(down={A}), origins=(A, B))
    response = await edge.get("/search?q=suv")
    assert (response.status, response.headers["x-cache"]) == (200, "MISS")
    assert edge.origin.calls[-1].startswith(B)


async def test_client_errors_pass_through_and_are_not_cached() -> None:
    edge = Edge(FakeOrigin(status=422))
    response = await edge.get("/search?q=suv")
    assert response.status == 422
    assert json.loads(response.body)["error"]["field"] == "q"
    assert edge.cache.writes == []


@pytest.mark.parametrize(
    ("method", "target", "status"),
    [
        ("POST", "/search?q=suv", 405),
        ("GET", "/v1/purge", 404),
        ("GET", "/metrics", 404),
        ("GET", "/v1/vehicles/1", 404),
        ("GET", "/search?limit=abc", 400),
        ("GET", "/search?q=" + "x" * 3000, 414),
    ],
)
async def test_bad_requests_never_touch_the_origin(method: str, target: str, status: int) -> None:
    edge = Edge()
    response = await edge.get(target, method=method)
    assert response.status == status
    assert set(json.loads(response.body)["error"]) == {"code", "message", "field"}
    assert edge.origin.calls == []


async def test_concurrent_identical_misses_make_one_origin_call() -> None:
    edge = Edge(FakeOrigin(delay_s=0.02))
    spellings = ["/search?q=red+suv", "/search?q=RED+SUV", "/v1/search?q=red%20suv"] * 4
    responses = await asyncio.gather(*(edge.get(s) for s in spellings))
    assert len(edge.origin.calls) == 1
    assert {r.headers["x-cache"] for r in responses} == {"MISS"}
    assert len({r.body for r in responses}) == 1


async def test_request_ids_are_forwarded_or_created() -> None:
    edge = Edge()
    given = await edge.get("/search?q=suv", request_id="abc-123")
    assert given.headers["x-request-id"] == "abc-123"
    assert edge.origin.seen_headers[0]["x-request-id"] == "abc-123"
    assert edge.origin.seen_headers[0]["x-cache-key"] == given.headers["x-cache-key"]
    made = await edge.get("/search?q=sedan", request_id="bad id\n")
    assert len(made.headers["x-request-id"]) == 32


async def test_a_key_mismatch_is_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    edge = Edge(FakeOrigin(mismatch_key="v1:other"))
    await edge.get("/search?q=suv")
    assert edge.service.key_mismatches == 1
    assert "cache key mismatch" in caplog.text


async def test_an_unreadable_tier_is_a_miss_in_that_tier() -> None:
    edge = Edge(FakeOrigin(popular=True))
    await edge.get("/search?q=suv")
    edge.kv.fail_reads = True
    assert (await edge.get("/search?q=suv")).headers["x-cache-layer"] == "cache"
