"""The Worker's entry point (wrangler `main`): adapts fetch to EdgeService; no decisions here."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit

from edge_http import EdgeError, error_response
from edge_service import EdgeService
from js_bindings import build_service, write_analytics
from workers import Response, WorkerEntrypoint

log = logging.getLogger("vsearch.edge")

# One service per isolate: single flight and origin health must outlive a request.
_service: EdgeService | None = None


class Default(WorkerEntrypoint):
    """Serves GET /search, /v1/search and the shopper page (/); everything else is a JSON 4xx."""

    async def fetch(self, request: Any) -> Response:
        global _service
        started = time.perf_counter()
        ctx = self.ctx

        def schedule(work: Coroutine[Any, Any, None]) -> None:
            ctx.waitUntil(asyncio.ensure_future(work))

        try:
            if _service is None:
                _service = build_service(self.env)
            result = await _service.handle(
                str(request.method), str(request.url), lambda name: _header(request, name), schedule
            )
        except Exception:  # the outermost layer: a bug still answers in the JSON error shape
            log.exception("edge failure")
            result = error_response(EdgeError("internal edge error"))
        elapsed_ms = (time.perf_counter() - started) * 1000
        write_analytics(self.env, result, urlsplit(str(request.url)).path, elapsed_ms)
        return Response(result.body, status=result.status, headers=result.headers)


def _header(request: Any, name: str) -> str | None:
    value = request.headers.get(name)
    return value if isinstance(value, str) else None
