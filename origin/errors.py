"""The origin's one error tree; each error carries its HTTP status and renders as the JSON shape

{"error": {"code": ..., "message": ..., "field": ...}}

ApiError
├── BadRequest (400)        invalid input, names the field
├── Unauthorized (401)
├── NotFound (404)
└── ServiceUnavailable (503) a dependency is down and no degraded answer exists
"""

from __future__ import annotations

from typing import ClassVar


class ApiError(Exception):
    status_code: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.field = field

    def to_dict(self) -> dict[str, dict[str, str | None]]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


class BadRequest(ApiError):
    status_code = 400
    default_code = "invalid_parameter"


class Unauthorized(ApiError):
    status_code = 401
    default_code = "unauthorized"


class NotFound(ApiError):
    status_code = 404
    default_code = "not_found"


class ServiceUnavailable(ApiError):
    status_code = 503
    default_code = "unavailable"
