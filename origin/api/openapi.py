"""GET /openapi.json: the origin's HTTP API as OpenAPI 3.1, written by hand beside the routes (a
test checks that every route is here, and schemathesis fuzzes the running origin against it)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from vsearch_query import BODIES, COLORS, DRIVETRAINS, FUELS, MAX_LIMIT, SORTS, TRANSMISSIONS

from origin.inventory.payload import CONDITIONS, STATUSES

JSON = "application/json"
MSGPACK = "application/msgpack"
Schema = dict[str, Any]

ERROR: Schema = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "field"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": ["string", "null"]},
            },
        }
    },
}
VEHICLE: Schema = {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}
SEARCH: Schema = {
    "type": "object",
    "required": ["results", "facets", "next_cursor", "query", "strategy", "took_ms"],
    "properties": {
        "results": {"type": "array", "items": VEHICLE},
        "facets": {"type": "object"},
        "next_cursor": {"type": ["string", "null"]},
        "query": {"type": "object"},
        "strategy": {"type": "string"},
        "took_ms": {"type": "number"},
    },
}
_SLUG = {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,63}$"}
WRITABLE: Schema = {
    "make": _SLUG,
    "model": _SLUG,
    "make_name": {"type": "string", "maxLength": 100},
    "model_name": {"type": "string", "maxLength": 100},
    "year": {"type": "integer", "minimum": 1900, "maximum": 2100},
    "price": {"type": "integer", "minimum": 0, "maximum": 10_000_000},
    "mileage": {"type": "integer", "minimum": 0, "maximum": 2_000_000},
    "body": {"enum": list(BODIES)},
    "fuel": {"enum": list(FUELS)},
    "drivetrain": {"enum": list(DRIVETRAINS)},
    "transmission": {"enum": list(TRANSMISSIONS)},
    "color": {"enum": list(COLORS)},
    "condition": {"enum": list(CONDITIONS)},
    "zip": {"type": "string", "pattern": "^[0-9]{5}$"},
    "dealer": _SLUG,
    "title": {"type": "string", "maxLength": 200},
    "description": {"type": "string", "maxLength": 2_000},
    "status": {"enum": list(STATUSES)},
}
REQUIRED = ["make", "model", "year", "price", "mileage", "body", "fuel", "drivetrain",
            "transmission", "color", "zip", "dealer"]  # fmt: skip
WRITE_RESULT: Schema = {
    "type": "object",
    "required": ["vehicle", "changed", "purge_event"],
    "properties": {
        "vehicle": {"type": ["object", "null"]},
        "changed": {"type": "boolean"},
        "purge_event": {"type": ["integer", "null"]},
    },
}
_ID = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}


def _content(schema: Schema, *types: str) -> dict[str, Any]:
    return {"content": {t: {"schema": schema} for t in (types or (JSON,))}}


def _errors(*statuses: int) -> dict[str, Any]:
    # Every operation can meet the protection layer: query bounds and rate limits.
    every = {400, 414, 429, *statuses}
    return {str(s): {"description": "error", **_content(ERROR)} for s in sorted(every)}


def _op(summary: str, ok: dict[str, Any], *errors: int, **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "responses": {**ok, **_errors(*errors)}, **extra}


def _search_parameters() -> list[dict[str, Any]]:
    def query(name: str, schema: Schema) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "schema": schema}

    text = {"type": "string", "maxLength": 100}
    count = {"type": "integer", "minimum": 0, "maximum": 10_000_000}
    year = {"type": "integer", "minimum": 1900, "maximum": 2100}
    return [
        query("q", {"type": "string", "maxLength": 256}),
        *(query(n, text) for n in ("make", "model", "body", "fuel", "drivetrain")),
        *(query(n, text) for n in ("transmission", "color", "dealer", "fields", "cursor")),
        *(query(n, year) for n in ("year_min", "year_max")),
        *(query(n, count) for n in ("price_min", "price_max", "mileage_max")),
        query("zip", {"type": "string", "pattern": "^[0-9]{5}$"}),
        query("radius_mi", {"type": "integer", "minimum": 1, "maximum": 500}),
        query("sort", {"enum": list(SORTS)}),
        query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
    ]


def _admin(operation: dict[str, Any]) -> dict[str, Any]:
    return {**operation, "security": [{"bearer": []}]}


def _ok(status: str, description: str, schema: Schema, *types: str) -> dict[str, Any]:
    return {status: {"description": description, **_content(schema, *types)}}


def _obj(*required: str, **properties: Schema) -> Schema:
    schema: Schema = {"type": "object", "required": list(required)}
    if properties:
        schema |= {"properties": properties, "additionalProperties": False}
    return schema


def _vehicle_paths() -> dict[str, Any]:
    """The vehicle read and the admin writes (inventory, purge)."""
    vehicle_body = {"type": "object", "properties": WRITABLE, "additionalProperties": False}
    bulk_item = {**vehicle_body, "properties": {"id": _ID, **WRITABLE}, "required": ["id"]}
    bulk = _obj(
        "vehicles", vehicles={"type": "array", "minItems": 1, "maxItems": 1_000, "items": bulk_item}
    )
    purge = _obj(
        vehicle_ids={"type": "array", "items": _ID},
        tags={"type": "array", "items": {"type": "string"}},
    )
    written = {"description": "written", **_content(WRITE_RESULT, JSON, MSGPACK)}
    deleted = _ok("200", "deleted", _obj("deleted", "purge_event"), JSON, MSGPACK)
    counts = _obj("created", "updated", "unchanged", "purge_event")

    def body(schema: Schema) -> dict[str, Any]:
        return {"requestBody": {"required": True, **_content(schema)}}

    return {
        "/v1/vehicles/{vehicle_id}": {
            "parameters": [{"name": "vehicle_id", "in": "path", "required": True, "schema": _ID}],
            "get": _op("One vehicle", _ok("200", "the vehicle", VEHICLE, JSON, MSGPACK), 404),
            "put": _admin(_op("Create or replace a vehicle", {"200": written, "201": written},
                              401, 413, **body({**vehicle_body, "required": REQUIRED}))),
            "patch": _admin(_op("Change some fields", {"200": written}, 401, 404, 413,
                                **body(vehicle_body))),
            "delete": _admin(_op("Delete a vehicle", deleted, 401, 404)),
        },
        "/v1/vehicles/bulk": {
            "post": _admin(_op("Upsert up to 1,000 vehicles in one transaction",
                               _ok("200", "counts", counts, JSON, MSGPACK),
                               401, 413, **body(bulk))),
        },
        "/v1/purge": {
            "post": _admin(_op("Purge vehicles or tags from every cache tier",
                               _ok("202", "queued", _obj("purge_event"), JSON, MSGPACK),
                               401, 413, **body(purge))),
        },
    }  # fmt: skip


def _ops_paths() -> dict[str, Any]:
    """Health, metrics, this document, the dashboard and the shopper page."""
    ready = _obj("status", "checks")
    asset = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]
    text = {"type": "string"}
    return {
        "/healthz": {"get": {"summary": "Liveness", "responses": _ok("200", "alive", _obj())}},
        "/readyz": {"get": {
            "summary": "Readiness: the database (Redis is reported, never required)",
            "responses": {**_ok("200", "ready", ready), **_ok("503", "not ready", ready)},
        }},
        "/metrics": {"get": _op("Prometheus metrics", _ok("200", "metrics", text, "text/plain"))},
        "/openapi.json": {"get": _op("This document", _ok("200", "OpenAPI 3.1", _obj()))},
        "/dashboard": {"get": _admin(_op("The live dashboard page (read or admin token)",
                                         _ok("200", "the page", text, "text/html"), 401))},
        "/dashboard/static/{name}": {"get": _op(
            "The dashboard's scripts and styles",
            _ok("200", "a file", text, "text/javascript", "text/css"), 404, parameters=asset,
        )},
        "/": {"get": _op("The shopper page (the edge serves the same page)",
                         _ok("200", "the page", text, "text/html"))},
        "/static/{name}": {"get": _op(
            "The shopper page's script and styles",
            _ok("200", "a file", text, "text/javascript", "text/css"), 404, parameters=asset,
        )},
    }  # fmt: skip


def build_spec() -> dict[str, Any]:
    """The whole document; pure, so tests can read it without an app."""
    search_op = _op(
        "Semantic vehicle search (the shopper path; CORS allowed)",
        _ok("200", "a page of results", SEARCH, JSON, MSGPACK),
        503,
        parameters=_search_parameters(),
    )
    edge_op = {**search_op, "summary": "The same search, on the path the edge forwards"}
    paths = {"/v1/search": {"get": search_op}, "/search": {"get": edge_op}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "vsearch origin", "version": "1"},
        "paths": paths | _vehicle_paths() | _ops_paths(),
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        # OpenAPI has no WebSockets; listed here so the route check covers them too.
        "x-websockets": {"/dashboard/ws": "the dashboard's live series (read token or cookie)"},
    }


_SPEC = build_spec()


async def openapi(request: Request) -> Response:
    return JSONResponse(_SPEC)
