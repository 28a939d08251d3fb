"""/openapi.json describes every route the app serves, and nothing it does not."""

from __future__ import annotations

from typing import Any

import schemathesis
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient

from origin.api.openapi import build_spec
from origin.app import create_app
from origin.settings import load_settings


def _app_routes() -> tuple[set[tuple[str, str]], set[str]]:
    app = create_app(load_settings({}, database_url="postgresql://unused"))
    http: set[tuple[str, str]] = set()
    sockets: set[str] = set()
    for route in app.routes:
        if isinstance(route, Route):
            http |= {(route.path, m.lower()) for m in route.methods or () if m != "HEAD"}
        elif isinstance(route, WebSocketRoute):
            sockets.add(route.path)
    return http, sockets


def _spec_operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    verbs = {"get", "put", "post", "patch", "delete", "options", "head"}
    return {(p, m) for p, item in spec["paths"].items() for m in item if m in verbs}


def test_every_route_is_in_the_spec_and_every_operation_is_served() -> None:
    http, sockets = _app_routes()
    spec = build_spec()
    assert http == _spec_operations(spec)
    assert sockets == set(spec["x-websockets"])


def test_admin_operations_declare_the_bearer_token() -> None:
    spec = build_spec()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            admin = path.startswith(("/v1/purge", "/dashboard")) and "static" not in path
            admin = admin or (path.startswith("/v1/vehicles") and method != "get")
            if method != "parameters" and admin:
                assert operation.get("security") == [{"bearer": []}], (path, method)


def test_the_spec_is_served_and_loads_in_schemathesis(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json() == build_spec()
    schema = schemathesis.openapi.from_dict(response.json())
    assert len(list(schema.get_all_operations())) == len(_spec_operations(build_spec()))
