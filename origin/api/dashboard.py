"""GET /dashboard (internal: the read or admin token), its static files, and /dashboard/ws, which
sends the history once, then one point a second and the active alerts whenever they change."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from pathlib import Path

from redis.exceptions import RedisError
from starlette.requests import HTTPConnection, Request
from starlette.responses import FileResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from origin.auth import Scope, bearer_token, matches_any, scope_tokens
from origin.dashboard.alerts import AlertsView, AlertWatcher
from origin.dashboard.history import DAY_S, HOUR_S, History
from origin.dashboard.sample import point
from origin.errors import NotFound, Unauthorized

STATIC = Path(__file__).resolve().parent.parent / "static"
ASSETS = {
    "dashboard.js": "text/javascript",
    "dashboard.css": "text/css",
    "uPlot.iife.min.js": "text/javascript",
    "uPlot.min.css": "text/css",
}
COOKIE = "vsearch_dashboard"
log = logging.getLogger(__name__)


def _cookie_value(token: str) -> str:
    # The cookie proves the token was shown without holding the token itself.
    return hmac.new(token.encode(), b"vsearch-dashboard", hashlib.sha256).hexdigest()


def _proof(conn: HTTPConnection) -> str | None:
    """The cookie value for a read-scope token (bearer header or `?token=`) or the cookie the
    page set; None without either."""
    readers = scope_tokens(conn.app.state.settings, Scope.READ)
    given = bearer_token(conn)
    given = conn.query_params.get("token", "") if given is None else given
    cookie = conn.cookies.get(COOKIE, "")
    token_ok = matches_any(given, readers)
    cookie_ok = matches_any(cookie, [t and _cookie_value(t) for t in readers])
    if token_ok:
        return _cookie_value(given)
    return cookie if cookie_ok else None


def authorized(conn: HTTPConnection) -> bool:
    """The read (or admin) token as a bearer header or `?token=`, or the cookie the page set."""
    return _proof(conn) is not None


async def page(request: Request) -> Response:
    proof = _proof(request)
    if proof is None:
        raise Unauthorized("the dashboard needs the read token", field="token")
    response = FileResponse(STATIC / "dashboard.html", media_type="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(
        COOKIE,
        proof,
        path="/dashboard",
        httponly=True,
        samesite="strict",
    )
    return response


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in ASSETS:
        raise NotFound(f"no dashboard file {name}", field="name")
    return FileResponse(STATIC / name, media_type=ASSETS[name])


async def history_message(history: History, now: int) -> dict[str, object]:
    seconds = await history.seconds(now - HOUR_S, now)
    minutes = await history.minutes(now - DAY_S, now)
    return {
        "type": "history",
        "seconds": [point(t, fields, 1) for t, fields in seconds],
        "minutes": [point(t, fields, 60) for t, fields in minutes],
    }


async def _push(websocket: WebSocket, history: History, alerts: AlertWatcher) -> None:
    last = int(time.time()) - 1
    await websocket.send_json(await history_message(history, last))
    shown: AlertsView | None = None
    while True:
        if alerts.view != shown:  # the watcher replaces its view each second; send changes only
            shown = alerts.view
            await websocket.send_json({"type": "alerts", **shown})
        now = time.time()
        # Half a second past the second: every instance has written the one before.
        await asyncio.sleep(max(0.0, int(now) + 1.5 - now))
        second = int(time.time()) - 1
        for t, fields in await history.seconds(last + 1, second):
            await websocket.send_json({"type": "second", "point": point(t, fields, 1)})
        if second // 60 != last // 60:
            minute = second - second % 60 - 60  # the minute that just ended
            for t, fields in await history.minutes(minute, minute):
                await websocket.send_json({"type": "minute", "point": point(t, fields, 60)})
        last = second


async def _push_or_close(websocket: WebSocket, history: History, alerts: AlertWatcher) -> None:
    try:
        await _push(websocket, history, alerts)
    except (RedisError, OSError) as exc:
        # History unreadable (Redis down): close, so the page says so and reconnects.
        log.warning("dashboard stream ended", extra={"error": repr(exc)})
        with contextlib.suppress(RuntimeError, OSError):
            await websocket.close(code=1011)
    except (WebSocketDisconnect, RuntimeError):
        pass  # the page went away mid-send


async def stream(websocket: WebSocket) -> None:
    if not authorized(websocket):
        await websocket.close(code=1008)
        return
    await websocket.accept()
    state = websocket.app.state
    pusher = asyncio.create_task(_push_or_close(websocket, state.history, state.alerts))
    try:
        while True:  # the page sends nothing; this notices when it goes away
            await websocket.receive_text()
    except WebSocketDisconnect:
        pass
    finally:
        pusher.cancel()
