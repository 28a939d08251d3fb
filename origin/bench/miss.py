"""`vsearch bench`: the origin miss path measured on the loaded inventory.

Per stage (parse, embed, database, serialize) latency percentiles, recall@10 of the planner
against exact search by filter selectivity band, and queries/s over HTTP at 1 and 8 clients,
each beside a baseline measured in the same run (this machine is noisy: compare ratios).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from vsearch_query import parse_search

from origin.api.render import encode
from origin.app import database_dsn
from origin.db.pool import create_pool
from origin.search.service import SearchService
from origin.settings import REPO_ROOT, Settings

PHRASES = [
    "reliable family car",
    "cheap commuter",
    "sporty fun to drive",
    "luxury comfortable cruiser",
    "off road adventure",
    "fuel efficient city car",
    "tow a boat",
    "room for seven",
    "first car for a teenager",
    "quiet smooth highway",
    "winter ready",
    "weekend track toy",
    "work truck",
    "road trip",
    "good on gas",
    "practical hauler",
    "premium interior",
    "classic muscle",
    "compact easy to park",
    "safe family hauler",
    "eco friendly",
    "camping rig",
    "executive sedan",
    "college student budget",
    "spacious cargo",
]
FILTERS = [
    "",
    "body=suv",
    "body=sedan",
    "fuel=electric",
    "fuel=hybrid",
    "body=pickup&drivetrain=4wd",
    "price_max=15000",
    "year_min=2022",
    "make=toyota",
    "make=bmw&body=suv",
    "color=red",
    "make=honda&model=civic",
    "fuel=diesel&body=pickup",
    "body=convertible&price_max=30000",
    "mileage_max=20000&body=suv",
    "make=ford&model=f-150",
    "fuel=electric&body=suv",
]


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 2)


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": _pct(values, 50),
        "p95": _pct(values, 95),
        "p99": _pct(values, 99),
        "mean": round(statistics.fmean(values), 2),
    }


def recall_at_k(got: list[dict[str, Any]], exact: list[dict[str, Any]]) -> float:
    """Share of the exact top k that was found, where a result as close as the exact k-th
    counts as found: listings with the same embedded text tie, and any of them is right."""
    if not exact:
        return 1.0
    kth = min(r["score"] for r in exact)
    ids = {r["id"] for r in exact}
    found = sum(1 for r in got if r["id"] in ids or r["score"] >= kth - 1e-4)
    return min(found, len(exact)) / len(exact)


def _queries(n: int, rng: random.Random) -> list[str]:
    out = []
    for i in range(n):
        phrase = PHRASES[i % len(PHRASES)]
        filt = FILTERS[rng.randrange(len(FILTERS))]
        # A distinct suffix word makes each text a true miss (nothing cached anywhere).
        text = f"{phrase} {rng.choice(['nice', 'great', 'solid', 'clean', 'tidy'])} {i}"
        out.append(f"q={text.replace(' ', '+')}" + (f"&{filt}" if filt else ""))
    return out


async def _stage_bench(settings: Settings, queries: list[str]) -> dict[str, Any]:
    from origin.search.embedder import Embedder

    embedder = Embedder(threads=settings.embed_threads)
    dsn = database_dsn(settings)
    pool = await create_pool(dsn, settings)
    exact_settings = replace(settings, exact_max_rows=10**9, vector_budget_ms=60_000)
    planned = SearchService(pool, embedder.embed_query, replace(settings, vector_budget_ms=60_000))
    exact = SearchService(pool, embedder.embed_query, exact_settings)
    stages: dict[str, list[float]] = {
        "parse": [],
        "embed": [],
        "database": [],
        "serialize": [],
        "total": [],
    }
    by_band: dict[str, list[float]] = {}
    strategies: dict[str, int] = {}
    async with pool.acquire() as conn:
        active = await conn.fetchval("SELECT count(*) FROM vehicles WHERE status = 'active'")
        baseline = []
        for _ in range(200):
            started = time.perf_counter()
            await conn.fetchval("SELECT 1")
            baseline.append((time.perf_counter() - started) * 1000)
    for raw in queries:
        t0 = time.perf_counter()
        query = parse_search(raw)
        t1 = time.perf_counter()
        outcome = await planned.search(query)
        t2 = time.perf_counter()
        encode(outcome.body, as_msgpack=False)
        t3 = time.perf_counter()
        planned._vectors.data.clear()
        stages["parse"].append((t1 - t0) * 1000)
        stages["embed"].append(outcome.timings.embed_ms)
        stages["database"].append(outcome.timings.db_ms)
        stages["serialize"].append((t3 - t2) * 1000)
        stages["total"].append((t3 - t0) * 1000)
        strategies[outcome.body["strategy"]] = strategies.get(outcome.body["strategy"], 0) + 1
        truth = await exact.search(replace(query, limit=10))
        recall = recall_at_k(outcome.body["results"][:10], truth.body["results"])
        share = outcome.body["facets"]["total"] / max(active, 1)
        band = (
            "<1%"
            if share < 0.01
            else "1-10%"
            if share < 0.1
            else "10-50%"
            if share < 0.5
            else ">=50%"
        )
        by_band.setdefault(band, []).append(recall)
    await pool.close()
    return {
        "vehicles": active,
        "stages_ms": {name: _summary(values) for name, values in stages.items()},
        "baseline_select1_ms": _summary(baseline),
        "recall_at_10": {
            b: {"queries": len(v), "mean": round(statistics.fmean(v), 4), "min": round(min(v), 2)}
            for b, v in sorted(by_band.items())
        },
        "strategies": strategies,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _throughput(base: str, paths: list[str], clients: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    counter = iter(range(10**9))

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.monotonic() < deadline:
            path = paths[next(counter) % len(paths)]
            started = time.perf_counter()
            response = await client.get(path)
            latencies.append((time.perf_counter() - started) * 1000)
            errors += response.status_code >= 400

    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        started = time.monotonic()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        elapsed = time.monotonic() - started
    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": errors,
        "qps": round(len(latencies) / elapsed, 1),
        "latency_ms": _summary(latencies),
    }


def _http_bench(settings: Settings, queries: list[str], seconds: float) -> dict[str, Any]:
    port = _free_port()
    env = dict(os.environ, VSEARCH_PORT=str(port), VSEARCH_HOST="127.0.0.1")
    server = subprocess.Popen(
        [sys.executable, "-m", "origin.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("origin did not become ready")
        paths = [f"/v1/search?{q}" for q in queries]
        out: dict[str, Any] = {}
        for clients in (1, 8):
            out[f"healthz_{clients}"] = asyncio.run(
                _throughput(base, ["/healthz"], clients, seconds / 2)
            )
            out[f"search_{clients}"] = asyncio.run(_throughput(base, paths, clients, seconds))
        return out
    finally:
        server.terminate()
        server.wait(timeout=30)


def machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo")
    mem = meminfo.read_text().split("\n")[0] if meminfo.exists() else "?"
    cpu = "?"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem.split(":")[-1].strip(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def run_bench(settings: Settings, *, queries: int, out_dir: str, seconds: float = 10) -> int:
    rng = random.Random(1234)
    query_set = _queries(queries, rng)
    result: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "settings": {
            "exact_max_rows": settings.exact_max_rows,
            "hnsw_ef_search": settings.hnsw_ef_search,
        },
        "miss_path": asyncio.run(_stage_bench(settings, query_set)),
        "http": _http_bench(settings, query_set, seconds),
    }
    out = REPO_ROOT / out_dir
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"origin-{result['when'].replace(':', '')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    (out / "origin-latest.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {path}", file=sys.stderr)
    return 0


__all__ = ["run_bench"]
