"""`vsearch bench load` (scripts/loadtest): the same seeded workload, normal -> 10x
spike -> normal, against each target in turn; raw results to bench/results/, report to docs/load.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from origin.bench import procs, scenario, stack, workload
from origin.bench.load_report import summarise, write_report
from origin.bench.stats import machine
from origin.bench.workload import Request
from origin.purger import plan
from origin.settings import REPO_ROOT, Settings, load_settings

_METRIC = re.compile(r"^(vsearch_[a-z_]+(?:\{[^}]*\})?) ([0-9.eE+-]+)$")
LOCUSTFILE = REPO_ROOT / "origin" / "bench" / "locustfile.py"


def scrape(origin: str) -> dict[str, float]:
    """The origin's vsearch_* counters and gauges from /metrics."""
    text = httpx.get(f"{origin}/metrics", timeout=5).text
    out: dict[str, float] = {}
    for line in text.splitlines():
        match = _METRIC.match(line)
        if match:
            out[match.group(1)] = float(match.group(2))
    return out


def writes_supported(origin: str) -> bool:
    """True when the inventory API answers (401 without a token), not 404/405."""
    reply = httpx.patch(f"{origin}/v1/vehicles/1", json={}, timeout=5)
    return reply.status_code in (400, 401, 403)


def fetch_vehicles(origin: str, vehicles: list[int]) -> dict[int, dict[str, Any]]:
    """The inventory API's view of `vehicles` (those it knows)."""
    out: dict[int, dict[str, Any]] = {}
    with httpx.Client(base_url=origin, timeout=10) as client:
        for vehicle in vehicles:
            reply = client.get(f"/v1/vehicles/{vehicle}")
            if reply.status_code == 200:
                out[vehicle] = reply.json()
    return out


def snapshot(origin: str, vehicles: list[int]) -> dict[int, dict[str, Any]]:
    """Price and status of the vehicles the workload writes to (to put back after each target)."""
    found = fetch_vehicles(origin, vehicles)
    return {v: {"price": body["price"], "status": body["status"]} for v, body in found.items()}


def restore(
    origin: str, token: str, saved: dict[int, dict[str, Any]], created: Sequence[int] = ()
) -> int:
    """Put the written vehicles back and delete the new listings; how many of those failed."""
    failed = 0
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=origin, timeout=30, headers=headers) as client:
        for vehicle, fields in saved.items():
            failed += _status(client, "PATCH", f"/v1/vehicles/{vehicle}", fields) != 200
        for vehicle in created:
            failed += _status(client, "DELETE", f"/v1/vehicles/{vehicle}") not in (200, 404)
    return failed


def _status(client: httpx.Client, method: str, path: str, body: Any = None) -> int:
    """The answer's status, 0 when there was none (a failed restore is counted, not fatal)."""
    try:
        return client.request(method, path, json=body).status_code
    except httpx.HTTPError:
        return 0


def write_tags(requests: Sequence[Request], vehicles: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Per write key ("price:<id>", ...), the coarse tags it purges, as the purger decides them
    (origin.purger.plan.write_tags: none for a sale, price-scoped ones for a price change): what
    the report matches against the query tags of later misses."""
    out: dict[str, Any] = {}
    for r in requests:
        if r.kind != "write":
            continue
        listing = vehicles.get(r.template if r.write == "new" else r.vehicle)
        tags: list[str] = []
        if listing:
            old = None if r.write == "new" else listing
            new = {**listing, **(r.patch or {})}
            tags = list(plan.write_tags(r.vehicle, old, new).coarse)
        out[f"{r.write}:{r.vehicle}"] = tags
    return out


@dataclass(frozen=True)
class RunFiles:
    """What every target's run shares: the workload, where records go, the admin token."""

    workload: Path
    records: Path
    token_file: Path
    requests: list[Request]
    write_tags: dict[str, Any] = field(default_factory=dict)


def _locust(
    target: stack.Stack, args: argparse.Namespace, files: RunFiles, *, writes: bool
) -> None:
    total = sum(seconds for _, seconds in _stages(args))
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless"]
    command += ["--host", target.base, "--only-summary", "--loglevel", "WARNING"]
    command += ["--stop-timeout", "5"]  # the shape ends the run; the timeout below bounds it
    command += ["--workload", str(files.workload), "--search-path", target.search_path]
    command += ["--stages", ",".join(f"{u}:{s}" for u, s in _stages(args))]
    command += ["--records", str(files.records), "--max-requests", str(args.max_requests)]
    command += ["--seed", str(args.seed)]
    if writes:
        command += ["--write-base", target.origin, "--admin-token-file", str(files.token_file)]
    subprocess.run(  # noqa: S603 (fixed arguments, no shell)
        command, check=False, timeout=total + 90, stdout=subprocess.DEVNULL
    )


def _stages(args: argparse.Namespace) -> list[tuple[int, float]]:
    text = scenario.stages(
        args.users, args.spike_factor, args.warm_s, args.normal_s, args.spike_s, args.warm_users
    )
    return scenario.parse_stages(text)


def run_target(
    name: str, args: argparse.Namespace, settings: Settings, redis_url: str, files: RunFiles
) -> dict[str, Any]:
    """One target under the whole scenario: records, metric deltas, CPU per process."""
    token = files.token_file.read_text()
    with stack.running(name, redis_url, token) as target:
        writes = not args.no_writes and writes_supported(target.origin)
        saved = {}
        if writes:
            saved = snapshot(target.origin, workload.written_vehicles(files.requests))
            _prepare_writes(target.origin, files)
        target.pids["postgres"] = stack.postgres_pids(settings.pgdata)
        before_metrics = scrape(target.origin)
        before_cpu = {role: stack.cpu_seconds(p) for role, p in target.pids.items()}
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        load_before = os.getloadavg()
        machine_before = psutil.cpu_times()
        started = time.monotonic()
        _locust(target, args, files, writes=writes)
        wall = time.monotonic() - started
        after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
        target.pids["postgres"] = stack.postgres_pids(settings.pgdata)
        after_cpu = {role: stack.cpu_seconds(p) for role, p in target.pids.items()}
        after_metrics = scrape(target.origin)
        load_after = os.getloadavg()
        machine_after = psutil.cpu_times()
        created = workload.new_listings(files.requests) if writes else []
        restore_failed = restore(target.origin, token, saved, created)
    cpu = {
        role: round(sum(v - before_cpu[role].get(pid, 0.0) for pid, v in after.items()), 2)
        for role, after in after_cpu.items()
    }
    cpu["locust"] = round(
        after_children.ru_utime + after_children.ru_stime - children.ru_utime - children.ru_stime,
        2,
    )
    raw = json.loads(files.records.read_text())
    return {
        "target": name,
        "description": stack.DESCRIPTIONS[name],
        "wall_s": round(wall, 1),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
        "cpu_s": cpu,
        "machine_busy_pct": _busy(machine_before, machine_after),
        "metrics_delta": {
            k: round(after_metrics[k] - before_metrics.get(k, 0.0), 3)
            for k in after_metrics
            if after_metrics[k] != before_metrics.get(k, 0.0) and "_created" not in k
        },
        "writes": _writes_mode(files.requests) if writes else "skipped (no inventory API)",
        "write_tags": files.write_tags,
        "writes_skipped": raw["writes_skipped"],
        "restore_failed": restore_failed,
        "records": raw["records"],
    }


def _prepare_writes(origin: str, files: RunFiles) -> None:
    """Once per run: new listings get their templates' fields, and every write its coarse tags
    (from the vehicles as they were before any target wrote)."""
    if files.write_tags:
        return
    templates = [r.template for r in files.requests if r.write == "new"]
    wanted = sorted({*workload.written_vehicles(files.requests), *templates})
    vehicles = fetch_vehicles(origin, wanted)
    files.requests[:] = workload.with_listings(files.requests, vehicles)
    workload.write_jsonl(files.requests, files.workload)
    files.write_tags.update(write_tags(files.requests, vehicles))


def _writes_mode(requests: Sequence[Request]) -> str:
    kinds = Counter(r.write for r in requests if r.kind == "write")
    return (
        f"PATCH price ({kinds['price']} in the stream), PATCH status=sold ({kinds['sale']}), "
        f"PUT new listing ({kinds['new']})"
    )


def _busy(before: Any, after: Any) -> float:
    """Share of both cores busy (anyone's processes) between two psutil.cpu_times()."""
    total = sum(after) - sum(before)
    idle = (after.idle + after.iowait) - (before.idle + before.iowait)
    return round(100 * (1 - idle / total), 1) if total > 0 else 0.0


def build_parser(prog: str = "python -m origin.bench.load") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("--targets", default=",".join(stack.TARGETS))
    parser.add_argument(
        "--users", type=int, default=6, help="normal-load shoppers (1 step/s each, Poisson)"
    )
    parser.add_argument("--spike-factor", type=int, default=10)
    parser.add_argument(
        "--warm-s", type=float, default=60, help="warm-up before the scored phases (seconds)"
    )
    parser.add_argument(
        "--warm-users",
        type=int,
        default=18,
        help="shoppers during the warm-up (default 18, 3x normal: ~1,000 steps, so the popular "
        "intents' first misses fall in the warm-up and the scored phases see a steady state)",
    )
    parser.add_argument("--normal-s", type=float, default=15)
    parser.add_argument("--spike-s", type=float, default=15)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--intents", type=int, default=3_000)
    parser.add_argument("--max-requests", type=int, default=50_000)
    parser.add_argument("--no-writes", action="store_true")
    parser.add_argument("--out", default="bench/results")
    parser.add_argument("--doc", default="docs/load.md")
    parser.add_argument("--plot", default="docs/img/spike.png")
    return parser


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """The load test; `vsearch bench load` and scripts/loadtest both land here."""
    args = (build_parser(prog) if prog else build_parser()).parse_args(argv)
    settings = load_settings()
    steps = int(sum(u * s for u, s in _stages(args)) * 1.1) + 100
    requests = workload.generate(args.seed, min(steps, args.max_requests), args.intents)
    redis_process, redis_url = stack.start_redis()
    result: dict[str, Any] = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    result |= {"machine": machine(), "args": vars(args), "targets": []}
    try:
        with tempfile.TemporaryDirectory(prefix="vsearch-load-") as tmp:
            files = RunFiles(
                Path(tmp) / "workload.jsonl",
                Path(tmp) / "records.json",
                Path(tmp) / "token",
                requests,
            )
            workload.write_jsonl(requests, files.workload)
            files.token_file.write_text(secrets.token_hex(16))
            files.token_file.chmod(0o600)
            for name in args.targets.split(","):
                print(f"[loadtest] {name}: {stack.DESCRIPTIONS[name]}", file=sys.stderr)
                result["targets"].append(run_target(name, args, settings, redis_url, files))
    finally:
        procs.stop(redis_process, timeout_s=10)
    return _write(result, args)


def _write(result: dict[str, Any], args: argparse.Namespace) -> int:
    out = REPO_ROOT / args.out
    out.mkdir(parents=True, exist_ok=True)
    stamp = result["when"].replace(":", "")
    (out / f"load-{stamp}.json").write_text(json.dumps(result, separators=(",", ":")) + "\n")
    summary = summarise(result)
    (out / "load-latest-summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    write_report(summary, REPO_ROOT / args.doc, REPO_ROOT / args.plot, result)
    print(json.dumps(summary, indent=2))
    print(f"written to {out}, {args.doc} and {args.plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
