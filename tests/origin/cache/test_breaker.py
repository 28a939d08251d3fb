"""The Redis circuit breaker: opens after consecutive failures, probes once after the cooldown."""

from __future__ import annotations

from origin.cache.breaker import CircuitBreaker
from origin.metrics import REDIS_CIRCUIT_OPEN


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_threshold_failures_and_closes_after_a_good_probe() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=3, cooldown_s=2, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.failure()
    assert breaker.state == "closed"
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    assert REDIS_CIRCUIT_OPEN._value.get() == 1
    clock.now += 2
    assert breaker.allow()  # the one probe
    assert not breaker.allow()  # no second probe while the first is out
    breaker.success()
    assert breaker.state == "closed" and breaker.allow()
    assert REDIS_CIRCUIT_OPEN._value.get() == 0


def test_a_failed_probe_reopens_for_a_full_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, cooldown_s=2, clock=clock)
    breaker.failure()
    clock.now += 2
    assert breaker.allow()
    breaker.failure()
    clock.now += 1
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()


def test_a_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker(threshold=2)
    breaker.failure()
    breaker.success()
    breaker.failure()
    assert breaker.state == "closed"
