"""Request bounds: query-string length and parameter count (every path), and the body size of
the write API, checked from Content-Length and again while the body streams in."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from origin.protection.rejections import (
    PayloadTooLarge,
    TooManyParameters,
    UriTooLong,
    reject,
)
from origin.settings import Settings


class RequestBoundsMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.max_body = settings.max_body_bytes
        self.max_query = settings.max_query_bytes
        self.max_params = settings.max_query_params

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query: bytes = scope.get("query_string", b"")
        if len(query) > self.max_query:
            message = f"the query string is over {self.max_query} bytes"
            await reject(UriTooLong(message, field="query"), scope, receive, send)
            return
        if sum(1 for part in query.split(b"&") if part) > self.max_params:
            message = f"more than {self.max_params} query parameters"
            await reject(TooManyParameters(message, field="query"), scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body:
            await reject(self._too_large(), scope, receive, send)
            return
        await self.app(scope, self._counting(receive), send)

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"the request body is over {self.max_body} bytes", field="body")

    def _counting(self, receive: Receive) -> Receive:
        # A chunked body has no Content-Length: count what arrives. The error is an ApiError,
        # so the app's handler renders it where the endpoint reads the body.
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise self._too_large()
            return message

        return counted


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
