"""The edge's response value and its one error tree, rendered as `{"error": {...}}` JSON.

EdgeError (status on the error)
 +-- RequestRejected   4xx decided from the request alone, the origin is never called
 +-- OriginFailure     502: every origin refused, failed or answered 5xx
      +-- OriginTimeout  504: the last attempt ran past its deadline
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

JSON_TYPE = "application/json"


class EdgeError(Exception):
    """An error the edge answers itself; `status` and `code` are what the shopper sees."""

    status = 500
    code = "edge_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class RequestRejected(EdgeError):
    """A bad request (method, path, size, query): answered without touching the origin."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, field=field)
        self.status = status
        self.code = code
        self.headers = headers or {}


class OriginFailure(EdgeError):
    """No origin produced a usable answer (refused, reset, or 5xx)."""

    status = 502
    code = "origin_unavailable"


class OriginTimeout(OriginFailure):
    """An origin did not answer within the per-attempt deadline."""

    status = 504
    code = "origin_timeout"


@dataclass(frozen=True)
class EdgeResponse:
    """What the worker sends back; the JS shell turns it into a `Response`."""

    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)


def error_body(code: str, message: str, field: str | None = None) -> str:
    """The shared error shape (SPEC: API contract)."""
    return json.dumps({"error": {"code": code, "message": message, "field": field}})


def error_response(error: EdgeError, headers: dict[str, str] | None = None) -> EdgeResponse:
    """Render any EdgeError as JSON; errors are never cached by a browser or CDN."""
    merged = {"content-type": JSON_TYPE, "cache-control": "no-store"}
    if isinstance(error, RequestRejected):
        merged.update(error.headers)
    merged.update(headers or {})
    return EdgeResponse(error.status, error_body(error.code, error.message, error.field), merged)
