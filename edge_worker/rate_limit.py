"""Cheap rejects at the edge: per client address (CF-Connecting-IP) and per API key (a bearer
token), counted by Workers Rate Limiting bindings (js_bindings adapts them). No binding: no limit.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from edge_http import RequestRejected

log = logging.getLogger("vsearch.edge")

CLIENT_BINDING = "RATE_LIMIT_CLIENT"
KEY_BINDING = "RATE_LIMIT_KEY"
# wrangler.toml's `simple.period` of both bindings (Cloudflare allows 10 or 60; a test keeps them
# equal). The binding never says when a key frees up, so Retry-After is the whole period.
PERIOD_S = 60


class Limiter(Protocol):
    """One rate-limit binding: True while `key` is within its budget (this call counted)."""

    async def allow(self, key: str) -> bool: ...


@dataclass(frozen=True)
class RateLimits:
    """The edge's two limits; either may be absent (its binding is not configured)."""

    client: Limiter | None = None
    api_key: Limiter | None = None

    async def check(self, header: Callable[[str], str | None]) -> RequestRejected | None:
        """None if the request may go on, else the 429 to answer."""
        # Cloudflare always sets CF-Connecting-IP; without it (a local host) no client is known.
        address = (header("cf-connecting-ip") or "").strip()
        if self.client is not None and address and not await _allowed(self.client, address):
            return _too_many("too many requests from this client", None)
        token = _bearer_token(header("authorization"))
        if self.api_key is not None and token:
            # Counted under a digest: the key itself never leaves the request.
            digest = hashlib.sha256(token.encode()).hexdigest()[:24]
            if not await _allowed(self.api_key, digest):
                return _too_many("too many requests with this API key", "authorization")
        return None


async def _allowed(limiter: Limiter, key: str) -> bool:
    try:
        return await limiter.allow(key)
    except Exception:  # a failing limiter must never turn shoppers away
        log.exception("rate limit binding failed; letting the request through")
        return True


def _too_many(message: str, field: str | None) -> RequestRejected:
    # The origin's code and header for the same rejection (origin/protection/rejections.py).
    return RequestRejected(
        429, "rate_limited", message, field=field, headers={"retry-after": str(PERIOD_S)}
    )


def _bearer_token(value: str | None) -> str:
    scheme, _, token = (value or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""
