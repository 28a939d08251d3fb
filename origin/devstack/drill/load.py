"""The drill's bounded load: shopper searches from one thread, one after another, each tagged
with the phase (fault) it ran in; a share of never-seen queries so the database is reached."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from origin.bench.stats import percentile

QUERIES = [
    "cheap reliable family suv under 30k", "electric pickup", "2019 honda civic low miles",
    "awd wagon", "red convertible", "hybrid sedan under 25k", "diesel truck 4x4",
    "luxury coupe", "minivan with low mileage", "compact car for commuting",
]  # fmt: skip


@dataclass
class Sample:
    at: float
    phase: str
    status: int  # 0 = no response (a connection error or a timeout)
    latency_s: float
    stale: bool = False  # the edge answered X-Cache: STALE
    degraded: bool = False  # the origin's keyword fallback answered


@dataclass
class Load:
    """Searches until `stop` or `limit`: QUERIES x 3 limits (hits once warm), and every
    `miss_every`-th one unseen (0 = none); with `seen_only`, only searches already answered 200.
    `phase` and `seen_only` may change while it runs."""

    url: str
    limit: int
    path: str = "/v1/search"
    miss_every: int = 0
    phase: str = "baseline"
    run_id: int = field(default_factory=lambda: int(time.time()))
    seen_only: bool = False
    seen: list[dict[str, str]] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def query(self, i: int) -> dict[str, str]:
        if self.seen_only and self.seen:
            return self.seen[i % len(self.seen)]
        text = QUERIES[i % len(QUERIES)]
        if self.miss_every and i % self.miss_every == 0:
            # One word no cache has seen (letters around the digits: never read as a price).
            text += f" drill{self.run_id}x{i}"
        return {"q": text, "limit": str(10 + 5 * (i // 40 % 3))}

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            for i in range(self.limit):
                if self.stop.is_set():
                    return
                phase, params, started = self.phase, self.query(i), time.monotonic()
                try:
                    response = client.get(self.path, params=params)
                    status = response.status_code
                    stale = response.headers.get("x-cache") == "STALE"
                    degraded = status == 200 and b'"degraded"' in response.content
                except httpx.HTTPError:
                    status, stale, degraded = 0, False, False
                done = time.monotonic()
                if status == 200 and params["q"] in QUERIES and params not in self.seen:
                    self.seen.append(params)
                self.samples.append(Sample(done, phase, status, done - started, stale, degraded))
                time.sleep(0.01)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        return thread

    def of(self, phase: str) -> list[Sample]:
        """The samples of a fault: its window and the settling time after its restore."""
        return [s for s in self.samples if s.phase in (phase, f"after {phase}")]


def p99_ms(samples: list[Sample]) -> float:
    return percentile([1000 * s.latency_s for s in samples], 99) if samples else 0.0


def wait_until(predicate: Callable[[], bool], timeout_s: float) -> float:
    """Seconds until `predicate()` is true; raises past the timeout."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"not recovered within {timeout_s} s")
        time.sleep(0.05)
    return time.monotonic() - started
