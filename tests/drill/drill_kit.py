"""Pieces of the fault drill: restartable origins on fixed ports, haproxy, and a bounded load."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from servers import ROOT, OriginProcess, free_port

from origin.devstack import haproxy

QUERIES = [
    "cheap reliable family suv under 30k", "electric pickup", "2019 honda civic low miles",
    "awd wagon", "red convertible", "hybrid sedan under 25k", "diesel truck 4x4",
    "luxury coupe", "minivan with low mileage", "compact car for commuting",
]  # fmt: skip


class DrillOrigin(OriginProcess):
    """An origin that can be killed and restarted on the same port (haproxy's backend list)."""

    def __init__(self, database_url: str, log_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log_dir / f"origin-{self.port}.log"
        self.env = {
            **os.environ, "DATABASE_URL": database_url, "VSEARCH_HOST": "127.0.0.1",
            "VSEARCH_PORT": str(self.port), **env,
        }  # fmt: skip
        self.start()

    def start(self) -> None:
        self._log_file = self.log.open("a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "origin.cli", "serve"], cwd=ROOT, env=self.env,
            stdout=self._log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self._wait_ready()

    def restart(self) -> None:
        """After a kill -9: reap the dead process, start again on the same port."""
        self.process.wait(10)
        self._log_file.close()
        self.start()


class Haproxy:
    """haproxy from the project's template in front of the given origin ports."""

    def __init__(self, ports: list[int], work_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = work_dir / "haproxy.cfg"
        config.write_text(haproxy.render(self.port, ports))
        self.process = haproxy.start(config, work_dir / "haproxy.log")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@dataclass
class Sample:
    at: float
    phase: str
    status: int  # 0 = no response (a connection error or a timeout)
    latency_s: float


@dataclass
class Load:
    """Searches from one thread, one after another, until `stop` or `limit`; tagged by phase."""

    url: str
    limit: int
    phase: str = "baseline"
    samples: list[Sample] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            for i in range(self.limit):
                if self.stop.is_set():
                    return
                params = {"q": QUERIES[i % len(QUERIES)], "limit": str(10 + 5 * (i // 40 % 3))}
                started = time.monotonic()
                try:
                    status = client.get("/v1/search", params=params).status_code
                except httpx.HTTPError:
                    status = 0
                done = time.monotonic()
                self.samples.append(Sample(done, self.phase, status, done - started))
                time.sleep(0.01)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        return thread


def p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0


def wait_until(predicate: object, timeout_s: float) -> float:
    """Seconds until `predicate()` is true; raises past the timeout."""
    assert callable(predicate)
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"not recovered within {timeout_s} s")
        time.sleep(0.05)
    return time.monotonic() - started


def ready(url: str, redis: bool = False) -> bool:
    """The instance answers /readyz 200 (and, with `redis`, its Redis is back)."""
    try:
        response = httpx.get(f"{url}/readyz", timeout=0.5)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and (not redis or response.json()["checks"]["redis"] == "ok")
