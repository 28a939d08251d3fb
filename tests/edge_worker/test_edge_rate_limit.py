"""rate_limit.py through EdgeService: per client address and per API key, 429 in the error shape
with Retry-After, never cached; no binding or a failing one never rejects."""

from __future__ import annotations

import json

from edge_cache import Layer
from edge_fakes import Background, FakeOrigin, FakeRateLimit, MemoryTier
from edge_http import EdgeResponse
from edge_service import EdgeService
from edge_settings import EdgeSettings
from origin_fetch import OriginPool
from rate_limit import PERIOD_S, RateLimits


class Binding:
    """FakeRateLimit behind the Limiter seam, as js_bindings.RateLimitBinding adapts a real one."""

    def __init__(self, fake: FakeRateLimit) -> None:
        self.fake = fake

    async def allow(self, key: str) -> bool:
        return bool((await self.fake.limit({"key": key})).success)


class Edge:
    def __init__(self, client: FakeRateLimit | None = None, key: FakeRateLimit | None = None):
        self.origin = FakeOrigin()
        self.cache = MemoryTier(Layer.CACHE)
        limits = RateLimits(
            client=Binding(client) if client else None, api_key=Binding(key) if key else None
        )
        pool = OriginPool(("http://a",), self.origin, timeout_s=1.0, budget_s=1.0)
        self.service = EdgeService(EdgeSettings(), [self.cache], pool, limits=limits)

    async def get(self, target: str = "/search?q=red+suv", **headers: str) -> EdgeResponse:
        given = {name.replace("_", "-"): value for name, value in headers.items()}
        background = Background()
        response = await self.service.handle("GET", f"https://edge{target}", given.get, background)
        await background.drain()
        return response


def assert_rate_limited(response: EdgeResponse, field: str | None) -> None:
    assert response.status == 429
    error = json.loads(response.body)["error"]
    assert (error["code"], error["field"]) == ("rate_limited", field)
    assert error["message"].startswith("too many requests")
    assert response.headers["retry-after"] == str(PERIOD_S)
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"]


async def test_a_client_over_its_limit_gets_429_before_any_cache_or_origin_work() -> None:
    edge = Edge(client=FakeRateLimit(2))
    for _ in range(2):
        assert (await edge.get(cf_connecting_ip="203.0.113.7")).status == 200
    limited = await edge.get(cf_connecting_ip="203.0.113.7")
    assert_rate_limited(limited, None)
    assert "x-cache" not in limited.headers
    assert len(edge.origin.calls) == 1  # the second was a cache hit; the third never looked
    assert (await edge.get(cf_connecting_ip="198.51.100.1")).status == 200  # another client


async def test_every_path_counts_and_a_rejection_is_never_stored() -> None:
    edge = Edge(client=FakeRateLimit(1))
    assert (await edge.get("/", cf_connecting_ip="203.0.113.7")).status == 200
    limited = await edge.get("/search?q=never+cached", cf_connecting_ip="203.0.113.7")
    assert_rate_limited(limited, None)
    assert edge.cache.writes == [] and edge.origin.calls == []


async def test_without_a_client_address_the_client_limit_does_not_apply() -> None:
    edge = Edge(client=FakeRateLimit(0))
    assert (await edge.get()).status == 200


async def test_an_api_key_is_limited_under_a_digest_of_it() -> None:
    fake = FakeRateLimit(1)
    edge = Edge(key=fake)
    assert (await edge.get(authorization="Bearer key-one")).status == 200
    assert_rate_limited(await edge.get(authorization="Bearer key-one"), "authorization")
    assert (await edge.get(authorization="Bearer key-two")).status == 200
    assert (await edge.get(authorization="Basic key-one")).status == 200  # not an API key
    assert (await edge.get()).status == 200
    assert len(set(fake.keys)) == 2 and not any("key-" in key for key in fake.keys)


async def test_both_limits_apply_and_the_client_one_first() -> None:
    client, key = FakeRateLimit(1), FakeRateLimit(5)
    edge = Edge(client=client, key=key)
    await edge.get(cf_connecting_ip="203.0.113.7", authorization="Bearer k")
    limited = await edge.get(cf_connecting_ip="203.0.113.7", authorization="Bearer k")
    assert_rate_limited(limited, None)
    assert len(key.keys) == 1  # the rejected request spent nothing of the key's budget


async def test_a_failing_binding_lets_requests_through() -> None:
    edge = Edge(client=FakeRateLimit(0, broken=True), key=FakeRateLimit(0, broken=True))
    response = await edge.get(cf_connecting_ip="203.0.113.7", authorization="Bearer k")
    assert response.status == 200


async def test_without_bindings_nothing_is_limited() -> None:
    edge = Edge()
    for _ in range(5):
        assert (await edge.get(cf_connecting_ip="203.0.113.7")).status == 200
