"""The slow-search log: one line with the strategy and stage timings of a search that took longer
than `VSEARCH_SLOW_SEARCH_MS` at the origin. Wraps the search endpoint; costs nothing when fast."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgpack
import orjson
from starlette.requests import Request
from starlette.responses import Response

from origin.api.render import MSGPACK

log = logging.getLogger("vsearch.slow")
Endpoint = Callable[[Request], Awaitable[Response]]
_TIMING = re.compile(r"(\w+);(?:desc=\w+;)?dur=([\d.]+)")


def log_slow_searches(endpoint: Endpoint) -> Endpoint:
    async def timed(request: Request) -> Response:
        started = time.perf_counter()
        response = await endpoint(request)
        took_ms = (time.perf_counter() - started) * 1000
        if took_ms >= request.app.state.settings.slow_search_ms:
            log.warning("slow search", extra=slow_search_fields(response, took_ms))
        return response

    return timed


def slow_search_fields(response: Response, took_ms: float) -> dict[str, Any]:
    """What a slow search did, read back from its response (only paid for slow ones)."""
    body = _decode(response)
    stages = {
        f"{name}_ms": float(value)
        for name, value in _TIMING.findall(response.headers.get("server-timing", ""))
    }
    return {
        "took_ms": round(took_ms, 2),
        "strategy": body.get("strategy"),
        "layer": response.headers.get("x-cache-layer"),
        "search_ms": body.get("search_ms"),
        "stages": stages,
        "cache_key": response.headers.get("x-cache-key"),
        "status": response.status_code,
    }


def _decode(response: Response) -> dict[str, Any]:
    try:
        if response.media_type == MSGPACK:
            body = msgpack.unpackb(response.body, raw=False)
        else:
            body = orjson.loads(response.body)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
