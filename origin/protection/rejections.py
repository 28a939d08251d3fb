"""The errors protection answers with, in the API's one error shape."""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from origin.errors import ApiError, BadRequest


class PayloadTooLarge(ApiError):
    status_code = 413
    default_code = "body_too_large"


class UriTooLong(ApiError):
    status_code = 414
    default_code = "query_string_too_long"


class TooManyParameters(BadRequest):
    default_code = "too_many_parameters"


class TooManyRequests(ApiError):
    status_code = 429
    default_code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after_s = retry_after_s


async def reject(error: ApiError, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer `error` directly from a middleware (outside the app's exception handlers)."""
    headers = {"Cache-Control": "no-store"}
    if isinstance(error, TooManyRequests):
        headers["Retry-After"] = str(error.retry_after_s)
    response = JSONResponse(error.to_dict(), status_code=error.status_code, headers=headers)
    await response(scope, receive, send)
