"""A loopback HTTP server answering GET paths with the JSON a test sets (a fake Alertmanager v2
API, a fake edge's /__local/counts); it records each request's path and headers."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


class JsonFake:
    """`answers[path] = (status, body)`; other paths answer 404. `delay_s` stalls every answer."""

    def __init__(self, answers: dict[str, tuple[int, Any]] | None = None) -> None:
        self.answers: dict[str, tuple[int, Any]] = dict(answers or {})
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.delay_s = 0.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                time.sleep(fake.delay_s)
                status, body = fake.answers.get(urlsplit(self.path).path, (404, {}))
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the timeout tests): nothing to answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def am_alert(name: str, severity: str, since: str, summary: str = "") -> dict[str, Any]:
    """One alert as Alertmanager's `GET /api/v2/alerts` lists it."""
    return {
        "labels": {"alertname": name, "severity": severity, "instance": "127.0.0.1:8000"},
        "annotations": {"summary": summary, "runbook": f"docs/operations.md#{name.lower()}"},
        "startsAt": since,
        "endsAt": "2099-01-01T00:00:00.000Z",
        "updatedAt": since,
        "fingerprint": f"{abs(hash(name)):016x}",
        "receivers": [{"name": severity or "ticket"}],
        "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
        "generatorURL": "http://127.0.0.1:9090/graph",
    }
