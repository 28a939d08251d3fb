"""A small app behind the origin's real protection middleware, so the limits are tested without
the database or the model; and the error-shape assertion."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from origin.errors import ApiError
from origin.protection import protection_middleware
from origin.settings import load_settings


async def _ok(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def _echo_body(request: Request) -> Response:
    return JSONResponse({"bytes": len(await request.body())})


async def _html(request: Request) -> Response:
    return HTMLResponse("<p>dashboard</p>")


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.to_dict(), status_code=exc.status_code)


def protected_app(**overrides: Any) -> Starlette:
    settings = load_settings({}, **overrides)
    routes = [
        Route("/v1/search", _ok),
        Route("/search", _ok),
        Route("/v1/vehicles/{vehicle_id}", _echo_body, methods=["PUT", "PATCH"]),
        Route("/v1/purge", _echo_body, methods=["POST"]),
        Route("/healthz", _ok),
        Route("/dashboard", _html),
    ]
    middleware = [*protection_middleware(settings)]
    return Starlette(
        routes=routes, middleware=middleware, exception_handlers={ApiError: _api_error}
    )


def assert_error_shape(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "field"}
    assert body["error"]["code"] == code
    return body
