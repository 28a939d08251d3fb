"""Call the origin(s) for GET /search with a per-attempt deadline and failover between them.

The transport (the JS `fetch` with an AbortSignal in the worker, a fake in tests) is injected;
this module owns the order of attempts, what counts as a failure, and the cool-down of bad origins.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol
from urllib.parse import urlencode

from edge_http import OriginFailure, OriginTimeout

# Only these origin headers matter to the edge; the transport copies no others.
ORIGIN_HEADERS = ("cache-control", "cache-tag", "content-type", "x-cache-key", "x-popular")
SEARCH_PATH = "/search"


@dataclass(frozen=True)
class OriginReply:
    """An origin answer below 500: status, the headers in ORIGIN_HEADERS (lowercase), body."""

    status: int
    headers: Mapping[str, str]
    body: str
    origin: str = ""

    @property
    def popular(self) -> bool:
        """The origin marks queries popular enough for KV with `X-Popular: 1`."""
        return self.headers.get("x-popular", "").strip() == "1"


class Transport(Protocol):
    """One HTTP GET; raises OriginTimeout past `timeout_s`, OriginFailure if unreachable."""

    async def __call__(
        self, url: str, headers: Mapping[str, str], timeout_s: float
    ) -> OriginReply: ...


def search_url(origin: str, params: tuple[tuple[str, str], ...]) -> str:
    """The origin URL of a canonical search (the origin re-derives the same key from it)."""
    query = urlencode(params)
    return f"{origin}{SEARCH_PATH}" + (f"?{query}" if query else "")


@dataclass
class OriginPool:
    """The configured origins, tried in order; one that fails sits out a cool-down."""

    origins: tuple[str, ...]
    transport: Transport
    timeout_s: float
    budget_s: float
    cooldown_s: float = 10.0
    clock: Callable[[], float] = time.monotonic
    _down_until: dict[str, float] = field(default_factory=dict)
    attempts: int = 0

    def order(self) -> list[str]:
        """Healthy origins first (config order), cooling ones last: never none to try."""
        now = self.clock()
        healthy = [o for o in self.origins if self._down_until.get(o, 0.0) <= now]
        cooling = [o for o in self.origins if o not in healthy]
        return healthy + cooling

    async def get(
        self, params: tuple[tuple[str, str], ...], headers: Mapping[str, str]
    ) -> OriginReply:
        """First 2xx-4xx answer wins; 5xx, refusals and timeouts fail over to the next origin."""
        started = self.clock()
        last: OriginFailure | None = None
        for origin in self.order():
            left = self.budget_s - (self.clock() - started)
            if left <= 0:
                break
            self.attempts += 1
            try:
                reply = await self.transport(
                    search_url(origin, params), headers, min(self.timeout_s, left)
                )
            except OriginFailure as exc:
                last = exc
            else:
                if reply.status < 500:
                    self._down_until.pop(origin, None)
                    return replace(reply, origin=origin)
                last = OriginFailure(f"origin {origin} answered {reply.status}")
            self._down_until[origin] = self.clock() + self.cooldown_s
        if last is None:
            raise OriginTimeout("origin time budget spent before any attempt")
        raise last
