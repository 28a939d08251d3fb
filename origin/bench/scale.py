"""The scale run (`vsearch bench --scale N`): load N vehicles into their own embedded server, with
the time of each load stage and the peak memory, then the miss path and recall on them.

The server lives in `<data dir>/scale-<N>` (never DATABASE_URL: the run truncates and reloads),
and is reused by a later run of the same size, which then measures only the searches.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import asyncpg
import psutil

from origin.app import database_dsn
from origin.bench.miss import miss_path, miss_queries, planner_settings
from origin.bench.stats import machine
from origin.db.vehicles import HNSW_INDEXES
from origin.inventory.demo import seed_demo
from origin.settings import REPO_ROOT, Settings

DOC = REPO_ROOT / "docs" / "scale.md"
# What follows this line in the doc is written by hand (the reading of the figures) and kept.
NOTES_MARKER = "<!-- notes below: written by hand, kept when the figures are regenerated -->"
MIB = 1024**2


class PeakMemory:
    """Samples, once a second, the memory of this process with its children (the embedding
    workers) and of the PostgreSQL server's processes; keeps each peak. Proportional set size
    (PSS), not RSS: every PostgreSQL process maps the shared buffers, and a sum of RSS would
    count them once per process."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self.peak = {"loader": 0, "postgres": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            me = psutil.Process()
            self._keep("loader", [me, *me.children(recursive=True)])
            self._keep("postgres", _postgres_processes(self.pgdata))
            self._stop.wait(1.0)

    def _keep(self, name: str, processes: list[psutil.Process]) -> None:
        total = 0
        for process in processes:
            try:
                total += process.memory_full_info().pss
            except psutil.Error:  # gone between listing and reading
                continue
        self.peak[name] = max(self.peak[name], total)


def _postgres_processes(pgdata: Path) -> list[psutil.Process]:
    pid_file = pgdata / "postmaster.pid"
    try:
        postmaster = psutil.Process(int(pid_file.read_text().split("\n", 1)[0]))
        return [postmaster, *postmaster.children()]
    except (OSError, ValueError, psutil.Error):
        return []


async def _sizes(dsn: str) -> dict[str, float]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT pg_table_size('vehicles') AS heap, (SELECT sum(pg_relation_size(i::regclass))"
            "::bigint FROM unnest($1::text[]) i) AS hnsw,"
            " pg_indexes_size('vehicles') AS indexes, pg_database_size(current_database()) AS db",
            list(HNSW_INDEXES),
        )
    finally:
        await conn.close()
    assert row is not None
    return {name: round(row[name] / MIB, 1) for name in ("heap", "hnsw", "indexes", "db")}


def run_scale(
    settings: Settings, *, vehicles: int, queries: int, out_dir: str, doc: Path = DOC
) -> dict[str, Any]:
    scaled = replace(settings, data_dir=settings.data_dir / f"scale-{vehicles}", database_url=None)
    with PeakMemory(scaled.pgdata) as memory:
        report = seed_demo(scaled, vehicles, settings.seed)
    # A later run reuses the inventory: it reports the load as measured by the run that did it.
    loaded = scaled.data_dir / "load.json"
    if not report.reused:
        fresh = {"seed": asdict(report), "peak_pss_mib": _mib(memory.peak), "when": _now()}
        loaded.write_text(json.dumps(fresh, indent=2) + "\n")
    load: dict[str, Any] | None = json.loads(loaded.read_text()) if loaded.exists() else None
    dsn = database_dsn(scaled)
    result: dict[str, Any] = {
        "when": _now(),
        "machine": machine(),
        "load_average": [round(x, 2) for x in psutil.getloadavg()],
        "vehicles": vehicles,
        "seed": asdict(report),
        "load": load,
        "sizes_mib": asyncio.run(_sizes(dsn)),
        "settings": planner_settings(settings),
        "miss_path": asyncio.run(miss_path(scaled, miss_queries(queries))),
    }
    out = REPO_ROOT / out_dir
    out.mkdir(parents=True, exist_ok=True)
    stamp = result["when"].replace(":", "")
    text = json.dumps(result, indent=2) + "\n"
    (out / f"scale-{vehicles}-{stamp}.json").write_text(text)
    notes = doc.read_text().partition(NOTES_MARKER)[2] if doc.exists() else ""
    doc.write_text(render_scale(result) + "\n" + NOTES_MARKER + (notes or "\n"))
    print(text)
    print(f"written to {out} and {doc}", file=sys.stderr)
    return result


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _mib(peak: dict[str, int]) -> dict[str, float]:
    return {name: round(b / MIB, 1) for name, b in peak.items()}


def render_scale(result: dict[str, Any]) -> str:
    m, seed, miss = result["machine"], result["seed"], result["miss_path"]
    stages = miss["stages_ms"]
    lines = [
        f"# Scale: {result['vehicles']:,} vehicles\n",
        "Generated by `vsearch bench --scale N` (`scripts/bench --scale 1000000`) from one run; "
        "raw results in `bench/results/scale-*.json`. Measured, never asserted. The loader, its "
        "embedding workers and PostgreSQL share the machine's cores.\n",
        f"Run: {result['when']}. Machine: {m['cpu']}, {m['cores']} cores, {m['memory']} memory, "
        f"Python {m['python']}; load average {result['load_average']}.\n",
        "## Load\n",
    ]
    load = result["load"]
    if load is None:
        lines.append("Loaded before load figures were kept: none to show.\n")
    else:
        loaded, stage = load["seed"], load["seed"]["stage_seconds"]
        if seed["reused"]:
            lines.append(f"Reused the inventory loaded at {load['when']}; its load figures:\n")
        lines += [
            "| stage | seconds |",
            "| --- | --- |",
            f"| embedding ({loaded['distinct_texts']:,} distinct texts, "
            f"{loaded['embedded_now']:,} new) | {stage['embedding']} |",
            f"| loading (COPY) | {stage['loading']} |",
            f"| HNSW index build + VACUUM ANALYZE | {stage['index']} |",
            f"| total, with generation | {round(loaded['seconds'], 1)} |",
            "",
        ]
    size = result["sizes_mib"]
    peak = load["peak_pss_mib"] if load else {"loader": "?", "postgres": "?"}
    lines += [
        "## Memory and disk (MiB)\n",
        "| peak PSS while loading: loader + embedding workers | PostgreSQL | vehicles heap "
        "| HNSW indexes (every graph) | all indexes | database |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| {peak['loader']} | {peak['postgres']} | {size['heap']} | {size['hnsw']} "
        f"| {size['indexes']} | {size['db']} |",
        "",
        f"## Miss path ({miss['queries']} distinct searches, one client, in-process)\n",
        "| stage | p50 ms | p95 ms | p99 ms |",
        "| --- | --- | --- | --- |",
    ]
    for name in ("embed", "database", "facets", "total"):
        s = stages[name]
        lines.append(f"| {name} | {s['p50']} | {s['p95']} | {s['p99']} |")
    lines += [
        "",
        f"Strategies: {', '.join(f'{k} {v}' for k, v in sorted(miss['strategies'].items()))}; "
        f"planner settings {result['settings']}.\n",
        "| matching share | queries | mean recall@10 | min |",
        "| --- | --- | --- | --- |",
    ]
    for band, r in miss["recall_at_10"].items():
        lines.append(f"| {band} | {r['queries']} | {r['mean']} | {r['min']} |")
    return "\n".join(lines) + "\n"
