"""The short fault drill (docs/reliability.md): two origins behind haproxy, each reaching
PostgreSQL through the fault proxy, under a bounded load (searches, a share never seen, and purge
requests), one fault at a time: kill -9, SIGSTOP, Redis down, a slow database. Zero failed
searches and zero lost purges; then every origin stopped behind the edge: cached searches are
served STALE, unseen ones get a JSON 502/504."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from edge_host import require_node_runtime

from origin.devstack.drill.faults import SLOW_DATABASE_S, row, run_fault, standard_faults
from origin.devstack.drill.load import QUERIES, Load
from origin.devstack.drill.purges import PurgeWriter, lost_by_phase
from origin.devstack.drill.stack import ADMIN_TOKEN, Stack, drill_stack

FAULT_S = 2.0  # how long each fault lasts under load


@pytest.fixture
def stack(database_url: str, inventory: object, tmp_path: Path) -> Iterator[Stack]:
    require_node_runtime()
    with drill_stack(database_url, tmp_path, edge=True) as running:
        yield running


def test_faults_one_at_a_time_fail_no_search_lose_no_purge_and_the_edge_serves_stale(
    stack: Stack, database_url: str
) -> None:
    load = Load(stack.haproxy.url, limit=1_500, miss_every=5)
    writer = PurgeWriter(stack.haproxy.url, ADMIN_TOKEN, interval_s=0.25)
    threads = [load.start(), writer.start()]
    time.sleep(1.0)
    recoveries = {"baseline": 0.0}
    for fault in standard_faults(stack):
        if fault.name != "every origin down":  # below, with exact expectations per query
            recoveries[fault.name] = run_fault(fault, load, writer, FAULT_S, settle_s=0.5)
    time.sleep(0.5)
    load.stop.set()
    writer.stop.set()
    for thread in threads:
        thread.join(30)
    lost = lost_by_phase(database_url, writer.accepted, wait_s=30)

    rows = {name: row(name, load, lost, recovery) for name, recovery in recoveries.items()}
    print("\nfault drill (short):\n" + json.dumps(rows, indent=1))
    assert list(rows) == [
        "baseline", "kill -9 one origin", "SIGSTOP one origin", "Redis down", "slow database"
    ]  # fmt: skip
    assert all(figures["requests"] >= 5 for figures, _ in rows.values()), rows
    assert [s for s in load.samples if s.status != 200] == [], rows
    # The database really was slow (two round trips at least for an unseen search); answers of
    # the keyword fallback (flagged "degraded") are allowed, errors are not.
    slowest = max(s.latency_s for s in load.of("slow database"))
    assert slowest >= 2 * SLOW_DATABASE_S, rows
    assert len(writer.accepted) >= 20 and sum(lost.values()) == 0, (lost, writer.refused)

    # Every origin gone behind the edge: what it cached is served stale, the rest a JSON error.
    edge = stack.edge
    assert edge is not None
    for q in QUERIES[:3]:
        assert edge.get(f"/v1/search?q={q}").status_code == 200
    edge.idle()
    for origin in stack.origins:
        origin.stop()
    time.sleep(1.5)  # past max-age: only stale-if-error may answer now
    for q in QUERIES[:3]:
        cached = edge.get(f"/v1/search?q={q}")
        assert (cached.status_code, cached.headers.get("x-cache")) == (200, "STALE")
    unseen = edge.get("/v1/search?q=purple+hearse+with+fins")
    assert unseen.status_code in (502, 504)
    assert "error" in unseen.json()
