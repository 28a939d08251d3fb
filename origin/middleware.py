"""Pure ASGI middleware: RED metrics by route template, and the request id (`X-Request-Id`) that the
edge creates, echoed on the response and put on every log record of the request."""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from origin.metrics import HTTP_REQUESTS, HTTP_SECONDS

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
# An id from outside is logged and echoed, so it is held to a short, plain shape.
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Paths that matched no route share one label: raw paths would make the label set unbounded.
UNMATCHED = "unmatched"


def request_id_from(header: bytes | None) -> str:
    """The edge's id when it is well formed, else a new one."""
    if header:
        text = header.decode("latin-1")
        if _VALID_ID.fullmatch(text):
            return text
    return uuid.uuid4().hex


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class ObservabilityMiddleware:
    """Counts and times every HTTP request; binds and echoes its request id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _header(scope, b"x-request-id")
        rid = request_id_from(request_id)
        token = REQUEST_ID.set(rid)
        started = time.perf_counter()
        status = 500  # what the server error handler answers when the app raises

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            HTTP_REQUESTS.labels(route=route, method=method, status=str(status)).inc()
            HTTP_SECONDS.labels(route=route).observe(elapsed)
            REQUEST_ID.reset(token)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


_base_factory = logging.getLogRecordFactory()


def _record_with_request_id(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    rid = REQUEST_ID.get()
    if rid is not None:
        record.request_id = rid
    return record


def install_log_context() -> None:
    """Every log record made while a request is served carries its `request_id` (idempotent)."""
    if logging.getLogRecordFactory() is not _record_with_request_id:
        logging.setLogRecordFactory(_record_with_request_id)
