"""The sequential client counts responses by a header and, when asked, times a baseline path
after each request on the same connection."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import ClassVar

import pytest
from servers import serve_in_thread

from origin.bench import http


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    asked: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Handler.asked.append(self.path)
        self.send_response(200)
        if self.path.startswith("/search"):
            self.send_header("x-cache-layer", "redis" if "2" in self.path else "database")
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def base() -> Iterator[str]:
    _Handler.asked.clear()
    with serve_in_thread(_Handler) as url:
        yield url


def test_each_once_asks_the_baseline_after_each_path(base: str) -> None:
    result = http.each_once(
        base, ["/search?q=1", "/search?q=2"], label_header="x-cache-layer", baseline="/healthz"
    )
    assert _Handler.asked == ["/search?q=1", "/healthz", "/search?q=2", "/healthz"]
    assert result["responses"] == {"database": 1, "redis": 1}
    assert result["requests"] == 2 and set(result["baseline_ms"]) >= {"p50", "p95"}


def test_each_once_without_a_baseline_asks_only_the_paths(base: str) -> None:
    result = http.each_once(base, ["/search?q=1"])
    assert _Handler.asked == ["/search?q=1"] and "baseline_ms" not in result
    assert result["responses"] == {"200": 1}  # no x-cache header: counted by status
