"""Load-test figures from the raw records: per phase latency and throughput, hit rate per tier,
CPU per process, purge lag and pool wait; the latency-over-time plot across the spike."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from origin.bench.stats import percentile
from origin.bench.workload import POPULAR_RANKS

# Record fields, as written by locustfile.py (KEY, TAGS, URL since the miss analysis).
T, MS, STATUS, XCACHE, LAYER, NGINX, NAME, RANK, FAILED, KEY, TAGS, URL = range(12)
NGINX_HITS = {"HIT", "STALE", "UPDATING", "REVALIDATED"}
# The edge's STALE is a stale-while-revalidate answer from its cache (the origin is refreshed in
# the background; no origin fails in a load test): served from the cache, as nginx's STALE is.
EDGE_HITS = {"HIT", "STALE"}
PHASES = ("normal", "spike", "after")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def phase_of(t: float, warm_s: float, normal_s: float, spike_s: float) -> str:
    """Which stage a request started in (warm-up is left out of the phase tables)."""
    if t < warm_s:
        return "warm"
    t -= warm_s
    if t < normal_s:
        return "normal"
    return "spike" if t < normal_s + spike_s else "after"


def is_hit(target: str, record: list[Any]) -> bool:
    """Did a cache in front of the database answer (at the tier the target exposes)?"""
    if target == "nginx":
        return bool(record[NGINX] in NGINX_HITS)
    return bool(record[XCACHE] in EDGE_HITS)


def layer(target: str, record: list[Any]) -> str:
    if target == "nginx":
        return f"nginx {record[NGINX] or '-'}"
    return str(record[LAYER] or record[STATUS])


# Why a read missed its target's front tier, in the order the causes are decided.
CAUSES = {
    "compulsory": "first ask of its canonical key in the run (warm-up included)",
    "in_flight": "an earlier ask of the key was still being answered",
    "new_spelling": "URL never seen, key seen (only a URL-keyed cache misses it)",
    "coarse_purge": "a write since the last answer purges one of its query tags",
    "other_write": "a write since the last answer (its listing may have been on the page)",
    "no_write": "no write since: expired, evicted or never stored (e.g. a degraded answer)",
}
# A coarse tag is purged at most once per this window (origin/purger/plan.py COARSE_WINDOW_S),
# so a write's coarse purge lands up to this long after it; plus a second of purge lag.
_COARSE_DELAY_S = 31.0


def miss_causes(
    target: str, records: list[list[Any]], warm_s: float, write_tags: dict[str, list[str]]
) -> dict[str, Any] | None:
    """Misses of the scored reads by cause (CAUSES), over all reads and the popular ones, and
    the hit rate on keys asked before. None for records without keys (older runs)."""
    if not records or any(len(r) <= URL for r in records):
        return None
    ordered = sorted(records, key=lambda r: r[T])
    writes = [(r[T], set(write_tags.get(str(r[KEY]), ()))) for r in ordered if r[NAME] == "write"]
    done_at: dict[str, float] = {}  # key -> when its latest answer so far arrived
    urls: set[str] = set()
    counts = {scope: dict.fromkeys(CAUSES, 0) for scope in ("all", "popular")}
    reads = {"all": [0, 0], "popular": [0, 0]}  # [reads, hits]
    for r in ordered:
        if r[NAME] not in ("search", "page") or r[KEY] is None:
            continue
        key, t = str(r[KEY]), r[T]
        last = done_at.get(key)
        if t >= warm_s:
            scopes = ["all", "popular"] if 0 <= r[RANK] < POPULAR_RANKS else ["all"]
            hit = is_hit(target, r)
            for scope in scopes:
                reads[scope][0] += 1
                reads[scope][1] += hit
            if not hit:
                cause = _cause(target, r, last, writes, urls)
                for scope in scopes:
                    counts[scope][cause] += 1
        done_at[key] = max(last or 0.0, t + r[MS] / 1000)
        urls.add(str(r[URL]))
    out: dict[str, Any] = {"misses": counts}
    for scope, (n, hits) in reads.items():
        repeat = n - counts[scope]["compulsory"]
        out[scope] = {
            "reads": n,
            "hit_rate": round(hits / max(n, 1), 4),
            "compulsory_share": round(counts[scope]["compulsory"] / max(n, 1), 4),
            # Hits among asks of keys asked before: what the tiers' design decides.
            "repeat_hit_rate": round(hits / repeat, 4) if repeat else None,
        }
    return out


def _cause(
    target: str,
    record: list[Any],
    last: float | None,
    writes: list[tuple[float, set[str]]],
    urls: set[str],
) -> str:
    t = record[T]
    if last is None:
        return "compulsory"
    if t < last:
        return "in_flight"
    if target == "nginx" and str(record[URL]) not in urls:
        return "new_spelling"
    query_tags = set(str(record[TAGS] or "").split(",")) - {"q:all", ""}
    if any(last - _COARSE_DELAY_S < w < t and tags & query_tags for w, tags in writes):
        return "coarse_purge"
    if any(last - 1.0 < w < t for w, _ in writes):
        return "other_write"
    return "no_write"


def latency(records: list[list[Any]], seconds: float) -> dict[str, Any]:
    values = [r[MS] for r in records]
    errors = sum(1 for r in records if r[FAILED] or not 200 <= r[STATUS] < 300)
    if not values:
        return {"requests": 0, "rps": 0.0, "errors": 0}
    return {
        "requests": len(values),
        "rps": round(len(values) / seconds, 1),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": round(max(values), 2),
        "errors": errors,
    }


def _tiers(delta: dict[str, float]) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, value in delta.items():
        if key.startswith("vsearch_cache_requests_total{"):
            labels = dict(_LABEL.findall(key))
            out[f"{labels.get('tier')} {labels.get('result')}"] = int(value)
    return dict(sorted(out.items()))


def _stage_means(delta: dict[str, float]) -> dict[str, float]:
    """Mean ms of each search stage the origin timed (vsearch_search_stage_seconds)."""
    out = {}
    for stage in ("embed", "database", "facets"):
        labels = f'{{stage="{stage}"}}'
        n = delta.get(f"vsearch_search_stage_seconds_count{labels}", 0.0)
        if n:
            total = delta.get(f"vsearch_search_stage_seconds_sum{labels}", 0.0)
            out[stage] = round(1000 * total / n, 1)
    return out


def summarise_target(target: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    """Figures of one target; hit rates and totals cover the measured phases (not warm-up)."""
    name = target["target"]
    warm_s, normal_s, spike_s = args["warm_s"], args["normal_s"], args["spike_s"]
    records = [r for r in target["records"] if r[T] >= warm_s]
    reads = [r for r in records if r[NAME] in ("search", "page")]
    writes = [r for r in records if r[NAME] == "write"]
    durations = {"normal": normal_s, "spike": spike_s, "after": normal_s}
    phases = {
        phase: latency([r for r in reads if phase_of(r[T], warm_s, normal_s, spike_s) == phase], s)
        for phase, s in durations.items()
    }
    popular = [r for r in reads if 0 <= r[RANK] < POPULAR_RANKS]
    # The /metrics deltas cover the warm-up too: compare them with every read of the run.
    all_reads = sum(1 for r in target["records"] if r[NAME] in ("search", "page"))
    delta = target["metrics_delta"]
    db = delta.get("vsearch_db_searches_total", 0.0)
    lag_n = delta.get("vsearch_purge_lag_seconds_count", 0.0)
    pool_n = delta.get("vsearch_db_pool_acquire_seconds_count", 0.0)
    pool_s = delta.get("vsearch_db_pool_acquire_seconds_sum", 0.0)
    wall = max(target["wall_s"], 1e-9)
    return {
        "target": name,
        "description": target["description"],
        "phases": phases,
        "all": latency(reads, 2 * normal_s + spike_s),
        "writes": {"requests": len(writes), "errors": latency(writes, 1).get("errors", 0)},
        "writes_mode": target.get("writes", ""),
        "hit_rate": round(sum(is_hit(name, r) for r in reads) / max(len(reads), 1), 4),
        "popular_hit_rate": round(sum(is_hit(name, r) for r in popular) / max(len(popular), 1), 4),
        "popular_reads": len(popular),
        "miss_causes": miss_causes(name, target["records"], warm_s, target.get("write_tags", {})),
        "no_db_share": round(1 - db / max(all_reads, 1), 4),
        "db_searches": int(db),
        "layers": dict(Counter(layer(name, r) for r in reads).most_common()),
        "origin_tiers": _tiers(delta),
        "purge_events": int(sum(v for k, v in delta.items() if "purge_events_total" in k)),
        "purge_lag_mean_s": round(delta.get("vsearch_purge_lag_seconds_sum", 0.0) / lag_n, 3)
        if lag_n
        else None,
        "pool_wait_mean_ms": round(1000 * pool_s / pool_n, 2) if pool_n else None,
        "stage_mean_ms": _stage_means(delta),
        "cpu_pct": {role: round(100 * s / wall, 1) for role, s in target["cpu_s"].items()},
        "loadavg": [target["loadavg_before"][0], target["loadavg_after"][0]],
        "machine_busy_pct": target.get("machine_busy_pct"),
    }


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    args = result["args"]
    return {
        "when": result["when"],
        "machine": result["machine"],
        "args": args,
        "targets": [summarise_target(t, args) for t in result["targets"]],
    }


def series(records: list[list[Any]], bucket_s: float = 1.0) -> list[tuple[float, float, float]]:
    """(second, p50, p95) of the reads in each time bucket."""
    buckets: dict[int, list[float]] = {}
    for r in records:
        if r[NAME] in ("search", "page"):
            buckets.setdefault(int(r[T] // bucket_s), []).append(r[MS])
    return [
        (b * bucket_s, percentile(v, 50), percentile(v, 95)) for b, v in sorted(buckets.items())
    ]


def plot(result: dict[str, Any], path: Path) -> None:
    """p95 latency per second of each target across the spike (log scale), spike shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    args = result["args"]
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    for target in result["targets"]:
        points = series(target["records"])
        if points:
            ax.plot([p[0] for p in points], [p[2] for p in points], label=target["target"])
    start = args["warm_s"] + args["normal_s"]
    ax.axvspan(args["warm_s"], start, color="0.96", label="normal")
    ax.axvspan(start, start + args["spike_s"], color="0.85", label="10x spike")
    ax.set_yscale("log")
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("p95 latency per second (ms)")
    ax.set_title("Search latency across a 10x spike (same workload, same run)")
    ax.legend(loc="upper left", fontsize="small")
    ax.grid(True, which="both", alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_report(summary: dict[str, Any], doc: Path, png: Path, result: dict[str, Any]) -> None:
    from origin.bench.load_markdown import render

    plot(result, png)
    doc.write_text(render(summary, png.relative_to(doc.parent)))
