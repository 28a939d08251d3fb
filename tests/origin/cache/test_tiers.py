"""The origin's tiers through the API: L1, Redis across instances, purge reaching every L1,
Redis taken away and brought back, popular marking, and the per-tier metrics."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from prometheus_client import REGISTRY
from starlette.testclient import TestClient

from origin.cache.redis import RedisTier

Q = "/v1/search?q=family+suv&price_max="


def layer(client: TestClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.text
    return f"{response.headers['x-cache']} {response.headers['x-cache-layer']}"


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def purge(client: TestClient, tags: list[str]) -> list[str]:
    redis: RedisTier = client.app.state.tiers.redis  # type: ignore[attr-defined]
    assert client.portal is not None
    return client.portal.call(redis.purge_tags, tags)


def test_second_ask_is_an_l1_hit_with_this_requests_took_ms(cached_client: TestClient) -> None:
    url = Q + "31000"
    first = cached_client.get(url)
    assert first.headers["x-cache"] == "MISS"
    assert first.headers["x-cache-layer"] == "database"
    second = cached_client.get(url)
    assert (second.headers["x-cache"], second.headers["x-cache-layer"]) == ("HIT", "l1")
    assert second.json()["results"] == first.json()["results"]
    assert second.json()["search_ms"] == first.json()["search_ms"]
    assert second.json()["took_ms"] < first.json()["took_ms"]
    assert second.headers["cache-tag"] == first.headers["cache-tag"]
    assert second.headers["x-cache-key"] == first.headers["x-cache-key"]


def test_another_instance_answers_from_redis(make_cached_client: Any) -> None:
    one, two = make_cached_client(), make_cached_client()
    url = Q + "32000"
    assert layer(one, url) == "MISS database"
    assert layer(two, url) == "HIT redis"
    assert layer(two, url) == "HIT l1"


def test_purge_by_tag_reaches_redis_and_the_other_instances_l1(make_cached_client: Any) -> None:
    one, two = make_cached_client(), make_cached_client()
    url = Q + "33000"
    tags = one.get(url).headers["cache-tag"].split(",")
    assert layer(two, url) == "HIT redis"  # now in two's L1 as well
    vehicle = next(t for t in tags if t.startswith("v:"))
    assert len(purge(one, [vehicle])) == 1
    deadline = time.monotonic() + 2
    while layer(two, url) != "MISS database":  # pub/sub is asynchronous, but quick
        assert time.monotonic() < deadline, "two's L1 kept the purged entry"
        time.sleep(0.02)
    assert layer(one, url) in {"HIT redis", "HIT l1"}  # two stored it again after the purge


def test_redis_down_keeps_answering_and_recovers_by_itself(
    make_cached_client: Any, redis_clean: Any
) -> None:
    client = make_cached_client(l1_max_entries=0)  # no L1: every hit must come from Redis
    url = Q + "34000"
    assert layer(client, url) == "MISS database"
    assert layer(client, url) == "HIT redis"
    redis_clean.stop()
    errors_before = metric("vsearch_redis_errors_total")
    for price in range(34001, 34011):
        assert layer(client, Q + str(price)) == "MISS database"
    assert layer(client, url) == "MISS database"
    assert metric("vsearch_redis_errors_total") > errors_before
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["redis"] == "degraded: circuit open"
    assert metric("vsearch_redis_circuit_open") == 1
    redis_clean.start()
    deadline = time.monotonic() + 10
    while layer(client, url) != "HIT redis":  # the breaker probes after its cooldown
        assert time.monotonic() < deadline, "hits did not come back"
        time.sleep(0.2)
    assert client.get("/readyz").json()["checks"]["redis"] == "ok"
    assert metric("vsearch_redis_circuit_open") == 0


def test_a_query_becomes_popular_at_the_threshold(cached_client: TestClient) -> None:
    url = "/v1/search?make=toyota&sort=price_asc&price_max=35000"
    marks = [cached_client.get(url).headers.get("x-popular") for _ in range(4)]
    assert marks == [None, None, "1", "1"]  # threshold 3 in the test settings
    popular = cached_client.app.state.tiers.popular  # type: ignore[attr-defined]
    assert cached_client.portal is not None
    top = cached_client.portal.call(popular.top, 1)
    assert top[0].key == cached_client.get(url).headers["x-cache-key"]
    replayed = cached_client.get(f"/v1/search?{top[0].params}")
    assert replayed.headers["x-cache-key"] == top[0].key


def test_metrics_expose_the_per_tier_counters_and_they_move(cached_client: TestClient) -> None:
    url = Q + "36000"
    before = {
        tier: metric("vsearch_cache_requests_total", tier=tier, result=result)
        for tier, result in [("l1", "hit"), ("redis", "miss"), ("database", "hit")]
    }
    searches = metric("vsearch_db_searches_total")
    cached_client.get(url)
    cached_client.get(url)
    text = cached_client.get("/metrics").text
    assert 'vsearch_cache_requests_total{result="hit",tier="l1"}' in text
    assert "vsearch_db_searches_total" in text and "vsearch_redis_circuit_open" in text
    assert metric("vsearch_cache_requests_total", tier="l1", result="hit") == before["l1"] + 1
    assert metric("vsearch_cache_requests_total", tier="redis", result="miss") == (
        before["redis"] + 1
    )
    assert metric("vsearch_db_searches_total") == searches + 1


def test_without_redis_l1_alone_serves(client: TestClient) -> None:
    url = Q + "37000"
    assert layer(client, url) == "MISS database"
    assert layer(client, url) == "HIT l1"
    assert client.get("/readyz").json()["checks"]["redis"] == "not configured"


def test_concurrent_identical_misses_through_the_api_run_one_search(
    cached_client: TestClient,
) -> None:
    app = cached_client.app
    url = Q + "38000"
    searches = metric("vsearch_db_searches_total")

    async def burst() -> list[int]:
        import httpx

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            replies = await asyncio.gather(*(http.get(url) for _ in range(100)))
        return [r.status_code for r in replies]

    assert cached_client.portal is not None
    assert cached_client.portal.call(burst) == [200] * 100
    assert metric("vsearch_db_searches_total") == searches + 1
