"""Real server processes for tests that cross a process boundary (edge -> origin): one copy,
shared with the fault drill (`origin/devstack/drill/processes.py`)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from origin.devstack.drill.processes import ROOT, OriginProcess, RedisProcess, free_port

__all__ = ["ROOT", "OriginProcess", "RedisProcess", "free_port", "serve_in_thread"]


@contextlib.contextmanager
def serve_in_thread(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """An HTTP server for `handler` on a free loopback port, in a thread; its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
