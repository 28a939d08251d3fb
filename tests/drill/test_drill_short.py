"""The short fault drill (docs/reliability.md): two origins behind haproxy under a bounded load,
one fault at a time (kill -9, SIGSTOP, Redis down): zero failed searches; then every origin
stopped behind the edge: cached searches are served STALE, unseen ones get a JSON 502/504."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from drill_kit import QUERIES, DrillOrigin, Haproxy, Load, p99, ready, wait_until
from edge_host import EdgeHost, require_node_runtime
from servers import RedisProcess

FAULT_S = 2.0  # how long each fault lasts under load
ORIGIN_ENV = {
    # A 1 s max-age and no stale-while-revalidate: once the origins are gone, the edge's copies
    # are expired and only stale-if-error can answer.
    "VSEARCH_CACHE_MAX_AGE_S": "1", "VSEARCH_CACHE_SWR_S": "0", "VSEARCH_SHUTDOWN_DRAIN_S": "0.3",
}  # fmt: skip


@pytest.fixture
def stack(
    database_url: str, inventory: object, tmp_path: Path
) -> Iterator[tuple[list[DrillOrigin], RedisProcess, Haproxy]]:
    redis = RedisProcess(tmp_path)
    origins: list[DrillOrigin] = []
    proxy = None
    try:
        for _ in range(2):
            origins.append(DrillOrigin(database_url, tmp_path, REDIS_URL=redis.url, **ORIGIN_ENV))
        proxy = Haproxy([o.port for o in origins], tmp_path)
        wait_until(lambda: ready(proxy.url), 10)
        time.sleep(1.0)  # both servers seen up by haproxy's checks (rise 2 x 300 ms)
        yield origins, redis, proxy
    finally:
        for origin in origins:
            if origin.process.poll() is None:
                origin.process.send_signal(signal.SIGCONT)
            origin.stop()
        if proxy is not None:
            proxy.stop()
        redis.stop()


def _fault(
    load: Load, name: str, inject: Callable[[], None], restore: Callable[[], float]
) -> float:
    load.phase = name
    inject()
    time.sleep(FAULT_S)
    recovery = restore()
    time.sleep(0.5)
    load.phase = f"after {name}"
    return recovery


def _kill_and_restart(origin: DrillOrigin) -> float:
    started = time.monotonic()
    origin.restart()
    return time.monotonic() - started


def test_faults_one_at_a_time_fail_no_search_and_the_edge_serves_stale(
    stack: tuple[list[DrillOrigin], RedisProcess, Haproxy], tmp_path: Path
) -> None:
    require_node_runtime()
    (first, second), redis, proxy = stack
    load = Load(proxy.url, limit=1_500)
    thread = load.start()
    time.sleep(1.0)

    def resume_second() -> float:
        second.process.send_signal(signal.SIGCONT)
        return wait_until(lambda: ready(second.url), 10)

    def restart_redis() -> float:
        redis.start()
        return wait_until(lambda: ready(first.url, redis=True), 15)

    recovery = {
        "kill -9": _fault(
            load, "kill -9", lambda: first.process.send_signal(signal.SIGKILL),
            lambda: _kill_and_restart(first),
        ),
        "SIGSTOP": _fault(
            load, "SIGSTOP", lambda: second.process.send_signal(signal.SIGSTOP), resume_second
        ),
        "redis down": _fault(load, "redis down", redis.stop, restart_redis),
    }  # fmt: skip
    time.sleep(0.5)
    load.stop.set()
    thread.join(30)

    report = {}
    for phase in ["baseline", *recovery]:
        samples = [s for s in load.samples if s.phase in (phase, f"after {phase}")]
        report[phase] = {
            "requests": len(samples),
            "errors": sum(1 for s in samples if s.status != 200),
            "p99_ms": round(1000 * p99([s.latency_s for s in samples]), 1),
            "recovery_s": round(recovery.get(phase, 0.0), 2),
        }
    print("\nfault drill (short):\n" + json.dumps(report, indent=1))
    assert all(report[p]["requests"] >= 5 for p in report), report
    assert [s for s in load.samples if s.status != 200] == [], report

    # Every origin gone behind the edge: what it cached is served stale, the rest a JSON error.
    edge = EdgeHost(tmp_path / "edge-persist", proxy.url)
    try:
        for q in QUERIES[:3]:
            assert edge.get(f"/v1/search?q={q}").status_code == 200
        edge.idle()
        for origin in (first, second):
            origin.stop()
        time.sleep(1.5)  # past max-age: only stale-if-error may answer now
        for q in QUERIES[:3]:
            cached = edge.get(f"/v1/search?q={q}")
            assert (cached.status_code, cached.headers.get("x-cache")) == (200, "STALE")
        unseen = edge.get("/v1/search?q=purple+hearse+with+fins")
        assert unseen.status_code in (502, 504)
        assert "error" in unseen.json()
    finally:
        edge.stop()
