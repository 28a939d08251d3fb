"""The origin miss path in-process: stage latencies (parse, embed, database, serialize) and
recall@10 of the planner against exact search, by filter selectivity band."""

from __future__ import annotations

import itertools
import random
import statistics
import time
from dataclasses import replace
from typing import Any

from vsearch_query import parse_search

from origin.api.render import encode
from origin.app import database_dsn
from origin.bench.stats import summary
from origin.db.migrate import migrate_database
from origin.db.pool import create_pool
from origin.search.service import SearchService
from origin.settings import Settings

PHRASES = [
    "reliable family car", "cheap commuter", "sporty fun to drive", "luxury comfortable cruiser",
    "off road adventure", "fuel efficient city car", "tow a boat", "room for seven",
    "first car for a teenager", "quiet smooth highway", "winter ready", "weekend track toy",
    "work truck", "road trip", "good on gas", "practical hauler", "premium interior",
    "classic muscle", "compact easy to park", "safe family hauler", "eco friendly",
    "camping rig", "executive sedan", "college student budget", "spacious cargo",
]  # fmt: skip
FILTERS = [
    "", "body=suv", "body=sedan", "fuel=electric", "fuel=hybrid", "body=pickup&drivetrain=4wd",
    "price_max=15000", "year_min=2022", "make=toyota", "make=bmw&body=suv", "color=red",
    "make=honda&model=civic", "fuel=diesel&body=pickup", "body=convertible&price_max=30000",
    "mileage_max=20000&body=suv", "make=ford&model=f-150", "fuel=electric&body=suv",
]  # fmt: skip
FILLER = ["nice", "great", "solid", "clean", "tidy", "sharp", "honest", "smart", "fresh", "neat"]
FILLER_SETS = list(itertools.combinations(FILLER, 3))


def miss_queries(n: int, seed: int = 1234) -> list[str]:
    """n distinct searches (n <= 3,000): a need, a filter set, and filler words that make each
    text new, so nothing is cached anywhere (not even the query embedding)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        # The parser keeps a text's distinct words, sorted: each search gets its own set of three
        # filler words (120 sets x 25 needs), so no two texts, and no two embeddings, are equal.
        extra = " ".join(FILLER_SETS[(i // len(PHRASES)) % len(FILLER_SETS)])
        text = f"{PHRASES[i % len(PHRASES)]} {extra}".replace(" ", "+")
        filters = FILTERS[rng.randrange(len(FILTERS))]
        out.append(f"q={text}" + (f"&{filters}" if filters else ""))
    return out


def recall_at_k(got: list[dict[str, Any]], exact: list[dict[str, Any]]) -> float:
    """Share of the exact top k that was found, where a result as close as the exact k-th
    counts as found: listings with the same embedded text tie, and any of them is right."""
    if not exact:
        return 1.0
    kth = min(r["score"] for r in exact)
    ids = {r["id"] for r in exact}
    found = sum(1 for r in got if r["id"] in ids or r["score"] >= kth - 1e-4)
    return min(found, len(exact)) / len(exact)


def planner_settings(settings: Settings) -> dict[str, Any]:
    """The settings that decide the miss path's strategy and recall, reported beside its figures."""
    return {
        "exact_max_rows": settings.exact_max_rows,
        "exact_max_texts": settings.exact_max_texts,
        "hnsw_ef_search": settings.hnsw_ef_search,
    }


def _band(share: float) -> str:
    if share < 0.01:
        return "<1%"
    if share < 0.1:
        return "1-10%"
    return "10-50%" if share < 0.5 else ">=50%"


async def miss_path(settings: Settings, queries: list[str]) -> dict[str, Any]:
    from origin.search.embedder import Embedder

    embedder = Embedder(threads=settings.embed_threads)
    # The ground truth scans every match exactly: over 1M vehicles that takes seconds, past the
    # serving statement timeout, and a truth that fell back to keywords would be no truth.
    unbounded = replace(settings, vector_budget_ms=600_000, statement_timeout_ms=600_000)
    dsn = database_dsn(settings)
    # As the origin does at start: a checkout with a new migration benchmarks its schema.
    await migrate_database(settings.direct_database_url or dsn)
    pool = await create_pool(dsn, unbounded)
    planned = SearchService(pool, embedder.embed_query, unbounded)
    exact = SearchService(pool, embedder.embed_query, replace(unbounded, exact_max_rows=10**9))
    stages: dict[str, list[float]] = {
        name: [] for name in ("parse", "embed", "database", "facets", "serialize", "total")
    }
    by_band: dict[str, list[float]] = {}
    strategies: dict[str, int] = {}
    async with pool.acquire() as conn:
        active = int(await conn.fetchval("SELECT count(*) FROM vehicles WHERE status = 'active'"))
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
        stages["parse"].append((t1 - t0) * 1000)
        stages["embed"].append(outcome.timings.embed_ms)
        stages["database"].append(outcome.timings.db_ms)
        stages["facets"].append(outcome.timings.facets_ms)
        stages["serialize"].append((t3 - t2) * 1000)
        stages["total"].append((t3 - t0) * 1000)
        strategy = outcome.body["strategy"]
        strategies[strategy] = strategies.get(strategy, 0) + 1
        truth = await exact.search(replace(query, limit=10))
        if truth.body["strategy"] != "exact_subset":
            raise RuntimeError(f"the exact ground truth fell back for {raw}")
        recall = recall_at_k(outcome.body["results"][:10], truth.body["results"])
        by_band.setdefault(_band(outcome.body["facets"]["total"] / max(active, 1)), []).append(
            recall
        )
    await pool.close()
    return {
        "vehicles": active,
        "queries": len(queries),
        "stages_ms": {name: summary(values) for name, values in stages.items()},
        "baseline_select1_ms": summary(baseline),
        "recall_at_10": {
            band: {
                "queries": len(values),
                "mean": round(statistics.fmean(values), 4),
                "min": round(min(values), 2),
            }
            for band, values in sorted(by_band.items())
        },
        "strategies": strategies,
    }
