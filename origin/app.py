"""The app factory: routes, error rendering, and a lifespan that owns the database pool and the
embedding model. Endpoints never build clients; they use `request.app.state`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import numpy as np
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from vsearch_query import QueryError

from origin.api import dashboard, inventory, ops, purge, search, shopper, vehicles
from origin.api.openapi import openapi
from origin.api.slowlog import log_slow_searches
from origin.dashboard.live import live_dashboard
from origin.db.embedded import release_embedded, start_embedded
from origin.db.migrate import migrate_database
from origin.db.pool import create_pool
from origin.db.pool_metrics import watch_pool
from origin.drain import Drain, install_drain
from origin.errors import ApiError
from origin.inventory.service import InventoryService
from origin.middleware import ObservabilityMiddleware, install_log_context
from origin.protection import protection_middleware
from origin.purger.runner import background_purger
from origin.search.service import SearchService
from origin.search.tiers import open_tiers
from origin.settings import Settings, load_settings

log = logging.getLogger(__name__)
EmbedFn = Callable[[str], np.ndarray]


def database_dsn(settings: Settings) -> str:
    return settings.database_url or start_embedded(settings.pgdata)


def _error(
    status: int, code: str, message: str, field: str | None = None, **headers: str
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "field": field}}
    return JSONResponse(body, status_code=status, headers=headers or None)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if exc.status_code == 503:  # a dependency is down: clients and the edge retry after this
        return _error(503, exc.code, exc.message, exc.field, **{"Retry-After": "1"})
    return _error(exc.status_code, exc.code, exc.message, exc.field)


async def _query_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, QueryError)
    return _error(400, exc.code, exc.message, exc.field)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    return _error(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))


async def _unexpected(request: Request, exc: Exception) -> Response:
    # The outermost layer: log the traceback, never show it.
    log.exception("unhandled error", extra={"path": request.url.path})
    return _error(500, "internal_error", "internal error")


def create_app(settings: Settings | None = None, *, embed: EmbedFn | None = None) -> Starlette:
    settings = settings or load_settings()
    install_log_context()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        dsn = database_dsn(settings)
        # Session state (the migration lock, LISTEN) needs a real session, not a pooler's.
        direct_dsn = settings.direct_database_url or dsn
        await migrate_database(direct_dsn)
        pool = watch_pool(await create_pool(dsn, settings), settings.pool_acquire_timeout_s)
        embed_fn = embed
        if embed_fn is None:
            from origin.search.embedder import Embedder

            embed_fn = Embedder(threads=settings.embed_threads).embed_query
        from origin.search.embedder import MODEL_ID

        app.state.settings = settings
        app.state.pool = pool
        app.state.drain = drain = Drain()
        undo_drain = install_drain(drain, settings.shutdown_drain_s)
        app.state.search = SearchService(pool, embed_fn, settings)
        try:
            async with open_tiers(settings, app.state.search) as tiers:
                app.state.tiers = tiers
                app.state.inventory = InventoryService(pool, embed_fn, MODEL_ID)
                # Without Redis, this instance's L1 is the only origin tier to purge.
                tag_purger = tiers.redis if tiers.redis is not None else tiers.l1
                async with (
                    background_purger(settings, pool, tag_purger, direct_dsn, drain.stopping),
                    live_dashboard(settings) as dash,
                ):
                    app.state.history, app.state.alerts = dash.history, dash.alerts
                    yield
        finally:
            undo_drain()
            try:
                # Bounded: pool.close() waits for every connection to come back.
                await asyncio.wait_for(pool.close(), 10)
            except TimeoutError:
                log.warning("database pool did not close in 10 s; terminating it")
                pool.terminate()
            if settings.database_url is None:
                release_embedded(settings.pgdata)

    routes = [
        Route("/v1/search", log_slow_searches(search.search), methods=["GET"]),
        Route("/search", log_slow_searches(search.search), methods=["GET"]),
        Route("/v1/vehicles/bulk", inventory.bulk_vehicles, methods=["POST"]),
        Route("/v1/vehicles/{vehicle_id}", vehicles.get_vehicle, methods=["GET"]),
        Route("/v1/vehicles/{vehicle_id}", inventory.put_vehicle, methods=["PUT"]),
        Route("/v1/vehicles/{vehicle_id}", inventory.patch_vehicle, methods=["PATCH"]),
        Route("/v1/vehicles/{vehicle_id}", inventory.delete_vehicle, methods=["DELETE"]),
        Route("/v1/purge", purge.purge, methods=["POST"]),
        Route("/healthz", ops.healthz, methods=["GET"]),
        Route("/readyz", ops.readyz, methods=["GET"]),
        Route("/metrics", ops.metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/", shopper.page, methods=["GET"]),
        Route("/static/{name}", shopper.asset, methods=["GET"]),
        Route("/dashboard", dashboard.page, methods=["GET"]),
        Route("/dashboard/static/{name}", dashboard.asset, methods=["GET"]),
        WebSocketRoute("/dashboard/ws", dashboard.stream),
    ]
    return Starlette(
        routes=routes,
        # Outermost first: the metrics time the whole request, compression included.
        middleware=[
            Middleware(ObservabilityMiddleware),
            *protection_middleware(settings),
            Middleware(GZipMiddleware, minimum_size=1024),
        ],
        exception_handlers={
            ApiError: _api_error,
            QueryError: _query_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
        lifespan=lifespan,
    )
