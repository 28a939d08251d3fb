"""`scripts/drill`: the long fault drill on the loaded inventory, through the local edge.

Two origins behind haproxy, Redis, the local edge in front, a bounded load (searches, a share
unseen, and purge requests) while each fault is injected and restored in turn; then the purge
faults (`origin.devstack.purge_drill`). Writes bench/results/drill-*.json and the figures of
docs/reliability.md (only when every fault ran)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from origin.app import database_dsn
from origin.db.migrate import migrate_database
from origin.devstack.drill import report
from origin.devstack.drill.faults import row, run_fault, standard_faults
from origin.devstack.drill.load import Load
from origin.devstack.drill.purges import PurgeWriter, lost_by_phase
from origin.devstack.drill.stack import ADMIN_TOKEN, drill_stack
from origin.logs import configure_logging
from origin.settings import REPO_ROOT, load_settings

log = logging.getLogger("vsearch.drill")
# --only keys -> fault names; "purge" runs both purge faults (one standalone purger).
KEYS = {
    "kill9": "kill -9 one origin", "sigstop": "SIGSTOP one origin", "redis": "Redis down",
    "slowdb": "slow database", "alldown": "every origin down", "purge": "purge faults",
}  # fmt: skip
PURGE_DATABASE = "vsearch_drill_purge"
LOST_WAIT_S = 60.0  # at the end, how long accepted purges may take to finish (retry backoff)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/drill", description=__doc__)
    parser.add_argument("--fault-seconds", type=float, default=8.0, help="how long each lasts")
    parser.add_argument("--only", default="", help=f"comma-separated, of: {', '.join(KEYS)}")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--origins", type=int, default=2, help="origin instances (2 or more)")
    args = parser.parse_args(argv)
    only = {k for k in args.only.split(",") if k}
    if only - set(KEYS) or args.origins < 2:
        parser.error(f"--only takes {', '.join(KEYS)}; --origins at least 2")
    configure_logging()
    wanted = {KEYS[k] for k in only} or set(KEYS.values())
    result = drill(args, wanted)
    path = report.write_json(result, REPO_ROOT / args.out)
    log.info("drill: written", extra={"path": str(path)})
    if not only:
        report.update_doc(REPO_ROOT / "docs/reliability.md", report.table(result))
        log.info("drill: docs/reliability.md updated")
    print(report.table(result))
    return 0


def drill(args: argparse.Namespace, wanted: set[str]) -> dict[str, Any]:
    started = time.monotonic()
    settings = load_settings()
    # This process holds the embedded server: it outlives every origin the drill kills.
    dsn = database_dsn(settings)
    result: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": report.machine_now(), "args": vars(args) | {"out": str(args.out)},
        "vehicles": _vehicles(dsn), "rows": [], "details": {},
    }  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="vsearch-drill-"))
    log.info("drill: starting", extra={"work_dir": str(work), "faults": sorted(wanted)})
    with drill_stack(dsn, work, origins=args.origins, edge=True) as stack:
        assert stack.edge is not None
        load = Load(stack.front, limit=1_000_000, path="/search", miss_every=5)
        writer = PurgeWriter(stack.haproxy.url, ADMIN_TOKEN)
        threads = [load.start(), writer.start()]
        time.sleep(args.fault_seconds)  # the baseline
        recoveries = {"baseline": 0.0}
        for fault in standard_faults(stack):
            if fault.name in wanted:
                recoveries[fault.name] = run_fault(fault, load, writer, args.fault_seconds)
                time.sleep(1.0)
        load.stop.set()
        writer.stop.set()
        for thread in threads:
            thread.join(30)
        log.info("drill: waiting for the drill's purges", extra={"accepted": len(writer.accepted)})
        lost = lost_by_phase(dsn, writer.accepted, LOST_WAIT_S)
    for name, recovery in recoveries.items():
        figures, details = row(name, load, lost, recovery)
        result["rows"].append(figures)
        result["details"][name] = details | {"purges_refused": writer.refused[name]}
    if "purge faults" in wanted:
        result["rows"] += _purge_faults(dsn, work / "purge", args.fault_seconds)
    result["seconds"] = round(time.monotonic() - started, 1)
    result["loadavg_after"] = report.machine_now()["loadavg"]
    return result


def _purge_faults(dsn: str, work: Path, fault_s: float) -> list[dict[str, Any]]:
    """The other half of the drill, on a private, migrated database: no purger but the drill's
    may drain its outbox (purge_drill's condition), and others' may run on the main one."""
    from origin.devstack.purge_drill import run_purge_faults

    log.info("drill: purge faults (purger killed mid-batch, Cloudflare 429 then 5xx)")
    private = asyncio.run(_database(dsn, PURGE_DATABASE, create=True))
    try:
        return run_purge_faults(private, work, fault_s=fault_s / 2)
    finally:
        asyncio.run(_database(dsn, PURGE_DATABASE, create=False))


async def _database(dsn: str, name: str, *, create: bool) -> str:
    """Drop database `name` on `dsn`'s server, then (`create`) create and migrate it afresh."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = urlunsplit(urlsplit(dsn)._replace(path=f"/{name}"))
    if create:
        await migrate_database(url)
    return url


def _vehicles(dsn: str) -> int:
    async def count() -> int:
        conn = await asyncpg.connect(dsn)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM vehicles"))
        finally:
            await conn.close()

    return asyncio.run(count())


if __name__ == "__main__":
    raise SystemExit(main())
