"""A circuit breaker: after N consecutive failures skip a dependency for a cooldown, then let one
probe through; success closes it. Redis's (the read path goes straight to the database while it
is open) and the database's (searches fail fast with a 503 the edge answers stale for)."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import Gauge

from origin.metrics import REDIS_CIRCUIT_OPEN


class CircuitBreaker:
    """closed -> (failures >= threshold) -> open -> (cooldown) -> half-open -> closed | open."""

    def __init__(
        self,
        threshold: int = 3,
        cooldown_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        gauge: Gauge = REDIS_CIRCUIT_OPEN,
    ) -> None:
        self.threshold = threshold
        self.gauge = gauge
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.cooldown_s:
            return "half-open"
        return "open"

    def allow(self) -> bool:
        """May a call go to the dependency now? In half-open, only one probe at a time."""
        state = self.state
        if state == "closed":
            return True
        if state == "half-open" and not self._probing:
            self._probing = True
            return True
        return False

    def success(self) -> None:
        self._failures = 0
        self._probing = False
        if self._opened_at is not None:
            self._opened_at = None
            self.gauge.set(0)

    def failure(self) -> None:
        self._failures += 1
        self._probing = False
        if self._opened_at is not None or self._failures >= self.threshold:
            # A failed probe re-opens for a full cooldown.
            self._opened_at = self._clock()
            self.gauge.set(1)
