"""A circuit breaker for Redis: after N consecutive failures skip it for a cooldown, then let one
probe through; success closes it. While open, the read path goes straight to the database."""

from __future__ import annotations

import time
from collections.abc import Callable

from origin.metrics import REDIS_CIRCUIT_OPEN


class CircuitBreaker:
    """closed -> (failures >= threshold) -> open -> (cooldown) -> half-open -> closed | open."""

    def __init__(
        self,
        threshold: int = 3,
        cooldown_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
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
        """May a call go to Redis now? In half-open, only one probe at a time."""
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
            REDIS_CIRCUIT_OPEN.set(0)

    def failure(self) -> None:
        self._failures += 1
        self._probing = False
        if self._opened_at is not None or self._failures >= self.threshold:
            # A failed probe re-opens for a full cooldown.
            self._opened_at = self._clock()
            REDIS_CIRCUIT_OPEN.set(1)
