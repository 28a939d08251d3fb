"""Liveness and readiness for load balancers and the platform, and the Prometheus metrics."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from origin.metrics import render as render_metrics


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    if request.app.state.drain.draining:  # SIGTERM: out of rotation while in-flight work ends
        return JSONResponse({"status": "draining", "checks": {}}, status_code=503)
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(1.0):
            async with request.app.state.pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # readiness reports any failure; it never raises
        checks["database"] = f"error: {type(exc).__name__}"
    # Redis is a cache: without it the origin answers from the database, so it is reported
    # (degraded) but never makes the instance unready.
    redis = request.app.state.tiers.redis
    checks["redis"] = "not configured" if redis is None else await redis.status()
    ready = checks["database"] == "ok"
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


async def metrics(request: Request) -> Response:
    body, content_type = render_metrics()
    return Response(body, media_type=content_type)
