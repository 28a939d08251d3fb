"""Protection of the origin (every path): request bounds, rate limits, security headers, and CORS
for the shopper search only. `protection_middleware` gives them in the order they must run."""

from __future__ import annotations

from starlette.middleware import Middleware

from origin.protection.bounds import RequestBoundsMiddleware
from origin.protection.headers import SecurityHeadersMiddleware, ShopperCorsMiddleware
from origin.protection.ratelimit import RateLimitMiddleware
from origin.settings import Settings

__all__ = ["protection_middleware"]


def protection_middleware(settings: Settings) -> list[Middleware]:
    """Outermost first: every rejection below still carries the security and CORS headers (a
    browser can read a 429), and cheap bounds run before a rate-limit counter is touched."""
    return [
        Middleware(SecurityHeadersMiddleware),
        Middleware(ShopperCorsMiddleware, settings=settings),
        Middleware(RequestBoundsMiddleware, settings=settings),
        Middleware(RateLimitMiddleware, settings=settings),
    ]
