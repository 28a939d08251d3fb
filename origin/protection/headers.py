"""Response headers: security headers on every response (a strict CSP on HTML), and CORS on the
shopper search only, so a browser on another site can never call an admin route."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from origin.settings import Settings

SHOPPER_PATHS = frozenset({"/search", "/v1/search"})
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # Dashboard URLs may carry a token: never send them on as a Referer.
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# Our HTML pages (the dashboard, the shopper page) load their scripts and styles from our own
# paths and talk to a same-origin WebSocket: nothing inline, nothing from elsewhere.
HTML_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
EXPOSED = ["X-Cache", "X-Cache-Layer", "X-Cache-Key", "X-Popular", "Retry-After"]


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if headers.get("content-type", "").startswith("text/html"):
                    headers["Content-Security-Policy"] = HTML_CSP
            await send(message)

        await self.app(scope, receive, with_headers)


class ShopperCorsMiddleware:
    """Starlette's CORS handling, applied to the shopper search paths and nothing else."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["GET"],
            allow_headers=["Accept", "Accept-Encoding"],
            expose_headers=EXPOSED,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in SHOPPER_PATHS:
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
