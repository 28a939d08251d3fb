"""Sequential and concurrent HTTP load against a running server, with latency percentiles."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from origin.bench.stats import summary


async def _load(base: str, paths: list[str], clients: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    counter = iter(range(10**9))

    async def worker(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            path = paths[next(counter) % len(paths)]
            started = time.perf_counter()
            response = await client.get(path)
            latencies.append((time.perf_counter() - started) * 1000)
            label = response.headers.get("x-cache", str(response.status_code))
            statuses[label] = statuses.get(label, 0) + 1

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        started = time.monotonic()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        elapsed = time.monotonic() - started
    return {
        "clients": clients,
        "requests": len(latencies),
        "qps": round(len(latencies) / elapsed, 1),
        "latency_ms": summary(latencies),
        "responses": statuses,
    }


def load(base: str, paths: list[str], clients: int, seconds: float) -> dict[str, Any]:
    return asyncio.run(_load(base, paths, clients, seconds))


def each_once(
    base: str, paths: list[str], label_header: str = "x-cache", baseline: str | None = None
) -> dict[str, Any]:
    """One request per path, in order (the first of its kind: a miss, unless asked before);
    responses are counted by `label_header`. With `baseline`, that path is asked after each one,
    on the same connection: the machine's noise in the same seconds ("baseline_ms")."""
    latencies: list[float] = []
    beside: list[float] = []
    labels: dict[str, int] = {}
    with httpx.Client(base_url=base, timeout=30) as client:
        for path in paths:
            started = time.perf_counter()
            response = client.get(path)
            latencies.append((time.perf_counter() - started) * 1000)
            label = response.headers.get(label_header, str(response.status_code))
            labels[label] = labels.get(label, 0) + 1
            if baseline is not None:
                started = time.perf_counter()
                client.get(baseline).raise_for_status()
                beside.append((time.perf_counter() - started) * 1000)
    result = {"requests": len(paths), "latency_ms": summary(latencies), "responses": labels}
    if beside:
        result["baseline_ms"] = summary(beside)
    return result
