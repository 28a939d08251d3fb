"""entry.py and js_bindings.py under CPython, through small fakes of `js`, `workers`, `pyodide`."""

from __future__ import annotations

import asyncio
import importlib
import json
import types
from collections.abc import AsyncIterator
from typing import Any

import pytest
from edge_fakes import (
    FakeHeaders,
    FakeKV,
    FakeOrigin,
    FakeRateLimit,
    FakeResponse,
    Runtime,
    workers_runtime,
)
from edge_http import OriginFailure

A, B = "http://a", "http://b"


class Client:
    """Calls `entry.Default(ctx, env).fetch(request)` like the runtime: an instance a request."""

    def __init__(self, runtime: Runtime, origin: FakeOrigin, **vars: str) -> None:
        self.runtime = runtime
        self.origin = origin
        self.kv = FakeKV()
        self.analytics: list[dict[str, Any]] = []
        self.env = types.SimpleNamespace(
            SEARCH_KV=self.kv,
            EDGE_ANALYTICS=types.SimpleNamespace(writeDataPoint=self.analytics.append),
            ORIGIN_URLS=vars.pop("ORIGIN_URLS", A),
            **vars,
        )
        self.entry = importlib.import_module("entry")
        self.pending: list[asyncio.Future[Any]] = []

    async def get(self, target: str, method: str = "GET", **headers: str) -> FakeResponse:
        ctx = types.SimpleNamespace(waitUntil=self.pending.append)
        request = types.SimpleNamespace(
            method=method, url=f"https://edge{target}", headers=FakeHeaders(headers)
        )
        response: FakeResponse = await self.entry.Default(ctx, self.env).fetch(request)
        while self.pending:
            await self.pending.pop(0)
        return response


@pytest.fixture
async def make_client() -> AsyncIterator[Any]:
    def build(origin: FakeOrigin | None = None, **vars: str) -> Client:
        fake = origin or FakeOrigin()

        async def serve(url: str, headers: dict[str, str]) -> FakeResponse:
            # The fake origin speaks OriginReply; the runtime's fetch speaks Response.
            try:
                reply = await fake(url, headers, 10.0)
            except OriginFailure as exc:
                raise OSError(str(exc)) from None
            return FakeResponse(reply.body, reply.status, dict(reply.headers))

        stack.append(workers_runtime(serve))
        return Client(stack[-1].__enter__(), fake, **vars)

    stack: list[Any] = []
    yield build
    for runtime in reversed(stack):
        runtime.__exit__(None, None, None)


async def test_miss_then_hit_through_the_cache_api(make_client: Any) -> None:
    client = make_client()
    first = await client.get("/search?q=red+suv")
    second = await client.get("/search?q=RED%20SUV")
    assert (first.status, first.raw_headers["x-cache"]) == (200, "MISS")
    assert (second.raw_headers["x-cache"], second.raw_headers["x-cache-layer"]) == ("HIT", "cache")
    assert second.raw_headers["x-cache-key"] == first.raw_headers["x-cache-key"]
    stored = client.runtime.cache.store[
        "https://vsearch-cache.internal/" + first.raw_headers["x-cache-key"]
    ]
    assert stored.raw_headers["cache-tag"].startswith("v:12,v:99")
    assert len(client.origin.calls) == 1


async def test_popular_answers_are_written_to_kv_with_a_legal_ttl(make_client: Any) -> None:
    client = make_client(FakeOrigin(popular=True, ttl=5, sie=0))
    first = await client.get("/search?q=suv")
    key = first.raw_headers["x-cache-key"]
    assert client.kv.ttls[key] == 60
    assert json.loads(client.kv.store[key])["ttl"] == 5
    # The Cache API is read first; KV answers where this data centre's cache lacks the entry.
    assert (await client.get("/search?q=suv")).raw_headers["x-cache-layer"] == "cache"
    del client.runtime.cache.store["https://vsearch-cache.internal/" + key]
    assert (await client.get("/search?q=suv")).raw_headers["x-cache-layer"] == "kv"
    assert len(client.origin.calls) == 1


async def test_stale_served_when_the_origin_raises(make_client: Any) -> None:
    client = make_client(FakeOrigin(ttl=1, sie=300))
    first = await client.get("/search?q=suv")
    client.origin.down.add(A)
    await asyncio.sleep(1.05)  # the real clock: past ttl=1, inside stale-if-error
    stale = await client.get("/search?q=suv")
    assert (stale.status, stale.raw_headers["x-cache"]) == (200, "STALE")
    assert stale.body == first.body


async def test_timeout_without_stale_copy_is_504(make_client: Any) -> None:
    client = make_client(FakeOrigin(slow={A}), ORIGIN_TIMEOUT_MS="50")
    response = await client.get("/search?q=suv")
    assert response.status == 504
    assert json.loads(response.body)["error"]["code"] == "origin_timeout"


async def test_failover_to_the_second_origin(make_client: Any) -> None:
    client = make_client(FakeOrigin(down={A}), ORIGIN_URLS=f"{A},{B}")
    response = await client.get("/search?q=suv")
    assert response.status == 200
    assert [url.split("/search")[0] for url, _ in client.runtime.fetched] == [A, B]


@pytest.mark.parametrize(
    ("method", "target", "status"),
    [("DELETE", "/search?q=suv", 405), ("GET", "/v1/purge", 404), ("GET", "/search?limit=0", 400)],
)
async def test_rejections_without_origin_calls(
    make_client: Any, method: str, target: str, status: int
) -> None:
    client = make_client()
    response = await client.get(target, method=method)
    assert response.status == status
    assert response.raw_headers["content-type"] == "application/json"
    assert client.runtime.fetched == []


async def test_single_flight_across_requests_of_one_isolate(make_client: Any) -> None:
    client = make_client(FakeOrigin(delay_s=0.05))
    responses = await asyncio.gather(*(client.get("/search?q=red+suv") for _ in range(8)))
    assert {r.status for r in responses} == {200}
    assert len(client.runtime.fetched) == 1


async def test_forwarded_headers_and_analytics(make_client: Any) -> None:
    client = make_client()
    response = await client.get("/search?q=suv", **{"x-request-id": "req-1"})
    url, headers = client.runtime.fetched[0]
    assert headers["x-request-id"] == response.raw_headers["x-request-id"] == "req-1"
    assert headers["x-cache-key"] == response.raw_headers["x-cache-key"]
    assert "q=suv" in url or "body=suv" in url
    assert client.analytics[0]["blobs"][:2] == ["MISS", "origin"]


async def test_a_bug_still_answers_in_the_json_error_shape(
    make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client()

    async def broken(*_: Any) -> None:
        raise RuntimeError("bug")

    await client.get("/search?q=suv")  # builds the per-isolate service
    monkeypatch.setattr(client.entry._service, "handle", broken)
    response = await client.get("/search?q=suv")
    assert response.status == 500
    assert json.loads(response.body)["error"]["code"] == "edge_error"


async def test_the_rate_limit_bindings_reject_at_the_edge(make_client: Any) -> None:
    client_limit, key_limit = FakeRateLimit(1), FakeRateLimit(1)
    client = make_client(RATE_LIMIT_CLIENT=client_limit, RATE_LIMIT_KEY=key_limit)
    ip = {"cf-connecting-ip": "203.0.113.7"}
    assert (await client.get("/search?q=suv", **ip)).status == 200
    limited = await client.get("/search?q=suv", **ip)
    assert limited.status == 429 and limited.raw_headers["retry-after"] == "60"
    assert json.loads(limited.body)["error"]["code"] == "rate_limited"
    assert client_limit.keys == ["203.0.113.7"] * 2
    await client.get("/search?q=suv", authorization="Bearer k")
    by_key = await client.get("/search?q=suv", authorization="Bearer k")
    assert (by_key.status, json.loads(by_key.body)["error"]["field"]) == (429, "authorization")
    assert len(client.runtime.fetched) == 1
