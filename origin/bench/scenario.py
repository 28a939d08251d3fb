"""The load test's scenario: stages of shoppers (warm-up, normal, 10x spike, normal)."""

from __future__ import annotations

import random


def stages(
    users: int,
    factor: int,
    warm_s: float,
    normal_s: float,
    spike_s: float,
    warm_users: int | None = None,
) -> str:
    """The stages as locust's `--stages` text: 'users:seconds,...'. The warm-up (not scored)
    runs `warm_users` shoppers (default: `users`) to bring the caches to a steady state."""
    spike = [(users, normal_s), (users * factor, spike_s), (users, normal_s)]
    parts = [(warm_users or users, warm_s), *spike] if warm_s > 0 else spike
    return ",".join(f"{u}:{s:g}" for u, s in parts)


def parse_stages(text: str) -> list[tuple[int, float]]:
    """'10:15,100:15,10:15' -> [(users, seconds), ...]."""
    out = []
    for part in text.split(","):
        users, seconds = part.split(":")
        out.append((int(users), float(seconds)))
    if not out or any(u < 1 or s <= 0 for u, s in out):
        raise ValueError(f"bad stages {text!r}")
    return out


def next_step_at(previous: float, now: float, rng: random.Random, rate: float = 1.0) -> float:
    """When a shopper's next step starts: an exponential gap (mean 1/rate) after the previous
    planned start, or now if that moment has passed. Independent shoppers so paced make Poisson
    arrivals at the target; a fixed pace (locust's constant_throughput) phase-locks every
    shopper spawned in the same instant, and the target meets all of them at once each second."""
    return max(previous + rng.expovariate(rate), now)
