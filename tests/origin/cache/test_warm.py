"""`vsearch warm`: the most asked queries are replayed into Redis and through the edge."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
import redis
from servers import serve_in_thread
from starlette.testclient import TestClient
from vsearch_query import cache_key, parse_search

from origin.cache.warm import warm


class _EdgeStub(BaseHTTPRequestHandler):
    seen: list[str] = []  # noqa: RUF012 (one stub per test run, read by the test)

    def do_GET(self) -> None:
        _EdgeStub.seen.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def edge_stub() -> Iterator[str]:
    _EdgeStub.seen = []
    with serve_in_thread(_EdgeStub) as base:
        yield base


def test_warm_refills_redis_and_the_edge_with_popular_queries(
    cached_client: TestClient, redis_clean: Any, edge_stub: str
) -> None:
    popular = "/v1/search?q=quiet+family+minivan"
    answers = [cached_client.get(popular) for _ in range(3)]
    assert answers[-1].headers["x-popular"] == "1"  # asked popular_threshold (3) times
    cached_client.get("/v1/search?q=asked+only+once")
    key = cache_key(parse_search("q=quiet+family+minivan"))
    with redis.Redis.from_url(redis_clean.url) as r:
        r.delete(*r.keys("vs:r:*"))  # the cached results are gone; the ask counts stay
        assert not r.exists(f"vs:r:{key}")
        app: Any = cached_client.app
        app.state.tiers.l1.clear()  # as in a fresh `vsearch warm` process

        assert cached_client.portal is not None
        report = cached_client.portal.call(warm, app, 1, f"{edge_stub}/__local/purge")

        assert r.exists(f"vs:r:{key}")
    # --top 1: only the most asked query, not the one asked once.
    assert report.queries == 1 and report.origin_filled == 1
    assert report.edge_filled == report.queries and report.edge_errors == 0
    assert any(path.startswith("/search?") and "minivan" in path for path in _EdgeStub.seen)
    assert not any("once" in path for path in _EdgeStub.seen)
