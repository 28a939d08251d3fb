"""A tiny stand-in for the origin's GET /search contract, counting calls (integration tests).

STUB: the lead swaps it for the real origin through the `origin_url` fixture in conftest.py.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import vsearch_query


@dataclass
class StubBehaviour:
    """Knobs a test turns: freshness windows, popularity, failures, delay."""

    ttl: int = 60
    swr: int = 0
    sie: int = 300
    popular: bool = False
    status: int = 200
    delay_s: float = 0.0
    extra_tags: tuple[str, ...] = ()
    calls: list[str] = field(default_factory=list)


class StubOrigin:
    """Serves /search and /v1/search like the origin: same key, Cache-Control, Cache-Tag."""

    def __init__(self, port: int = 0) -> None:
        self.behaviour = StubBehaviour()
        behaviour = self.behaviour

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                behaviour.calls.append(self.path)
                if behaviour.delay_s:
                    time.sleep(behaviour.delay_s)
                if parts.path not in ("/search", "/v1/search"):
                    return self._send(
                        404, {"error": {"code": "not_found", "message": "no", "field": None}}
                    )
                if behaviour.status >= 400:
                    error = {"code": "stub_error", "message": "stub failure", "field": None}
                    return self._send(behaviour.status, {"error": error})
                try:
                    query = vsearch_query.parse_search(
                        parse_qsl(parts.query, keep_blank_values=True)
                    )
                except vsearch_query.QueryError as exc:
                    error = {"code": exc.code, "message": exc.message, "field": exc.field}
                    return self._send(400, {"error": error})
                key = vsearch_query.cache_key(query)
                body = {
                    "results": [{"id": 12, "title": "stub"}, {"id": 99, "title": "stub"}],
                    "facets": {},
                    "next_cursor": None,
                    "query": {"text": query.text},
                    "strategy": "stub",
                    "took_ms": 0.1,
                    "served": len(behaviour.calls),
                }
                headers = {
                    "Cache-Control": f"public, max-age={behaviour.ttl}, "
                    f"stale-while-revalidate={behaviour.swr}, stale-if-error={behaviour.sie}",
                    "Cache-Tag": ",".join(
                        ["v:12", "v:99", *vsearch_query.query_tags(query), *behaviour.extra_tags]
                    ),
                    "X-Cache-Key": key,
                }
                if behaviour.popular:
                    headers["X-Popular"] = "1"
                self._send(200, body, headers)

            def _send(
                self, status: int, body: object, headers: dict[str, str] | None = None
            ) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._handler = Handler
        self._server = self._bind(port)
        self._thread: threading.Thread | None = None

    def _bind(self, port: int) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(("127.0.0.1", port), self._handler)
        server.daemon_threads = True
        return server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> StubOrigin:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def restart(self) -> StubOrigin:
        """Serve again on the same port after `stop` (same behaviour and call log)."""
        self._server = self._bind(self.port)
        return self.start()
