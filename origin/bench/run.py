"""Runs every benchmark part in one process tree and writes the results and the report."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from origin.bench import http, procs, stack
from origin.bench.miss import miss_path, miss_queries, planner_settings
from origin.bench.report import write_report
from origin.bench.stats import machine
from origin.settings import REPO_ROOT, Settings


def _origin_http(base: str, queries: list[str], seconds: float) -> dict[str, Any]:
    paths = [f"/v1/search?{q}" for q in queries]
    return {
        "miss_1": http.each_once(base, paths),
        "healthz_1": http.load(base, ["/healthz"], 1, seconds / 2),
        "repeat_1": http.load(base, paths, 1, seconds),
        "healthz_8": http.load(base, ["/healthz"], 8, seconds / 2),
        "repeat_8": http.load(base, paths, 8, seconds),
    }


def _redis_hits(queries: list[str]) -> dict[str, Any]:
    """Searches answered by Redis: an origin with Redis and no L1, every path asked twice."""
    redis_process, redis_url = stack.start_redis()
    try:
        origin, base = procs.start_origin({"REDIS_URL": redis_url, "VSEARCH_L1_MAX_ENTRIES": "0"})
        try:
            paths = [f"/v1/search?{q}" for q in queries]
            http.each_once(base, paths)  # misses: each answer is stored in Redis
            return http.each_once(base, paths, label_header="x-cache-layer", baseline="/healthz")
        finally:
            procs.stop(origin)
    finally:
        procs.stop(redis_process, timeout_s=10)


def _edge(origin: str, queries: list[str], seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as persist:
        process, base, ready = procs.start_edge(origin, Path(persist))
        try:
            paths = [f"/search?{q}" for q in queries]
            return {
                "runtime": ready.get("runtime"),
                "startup_ms": ready.get("startup_ms"),
                "miss_1": http.each_once(base, paths),
                "hit_1": http.each_once(base, paths),
                "hit_8": http.load(base, paths, 8, seconds),
            }
        finally:
            procs.stop(process)


def run_bench(settings: Settings, *, queries: int, out_dir: str, seconds: float = 10) -> int:
    query_set = miss_queries(queries)
    result: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "settings": planner_settings(settings),
        "miss_path": asyncio.run(miss_path(settings, query_set)),
    }
    # Fresh texts for the HTTP parts, so their first requests are true misses too.
    http_queries = miss_queries(min(queries, 100), seed=99)[::-1]
    http_queries = [q.replace("q=", "q=fresh+", 1) for q in http_queries]
    origin, base = procs.start_origin()
    try:
        result["origin_http"] = _origin_http(base, http_queries, seconds)
        edge_queries = [q.replace("q=fresh+", "q=edge+", 1) for q in http_queries]
        result["edge"] = _edge(base, edge_queries, seconds)
    finally:
        procs.stop(origin)
    redis_queries = [q.replace("q=fresh+", "q=redis+", 1) for q in http_queries]
    result["origin_http"]["redis_1"] = _redis_hits(redis_queries)
    out = REPO_ROOT / out_dir
    out.mkdir(parents=True, exist_ok=True)
    stamp = result["when"].replace(":", "")
    text = json.dumps(result, indent=2) + "\n"
    (out / f"bench-{stamp}.json").write_text(text)
    (out / "latest.json").write_text(text)
    write_report(result, REPO_ROOT / "docs" / "benchmarks.md")
    print(text)
    print(f"written to {out} and docs/benchmarks.md", file=sys.stderr)
    return 0
