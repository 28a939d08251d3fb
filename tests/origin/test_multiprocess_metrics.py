"""`vsearch serve` with VSEARCH_WORKERS=2: prometheus-client's multiprocess mode makes every scrape
report the sum over both workers, whichever worker answers it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families
from servers import ROOT, OriginProcess

POOL_MAX = 3
SEARCHES = 40


def _samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def _scrape(url: str) -> str:
    # A fresh connection each time, so the kernel may hand it to either worker.
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200
    return response.text


def _searches(text: str) -> float:
    samples = _samples(text, "vsearch_http_requests_total")
    return sum(value for labels, value in samples if labels["route"] == "/v1/search")


def _per_worker(metrics_dir: Path, route: str) -> dict[str, float]:
    """vsearch_http_requests_total{route} as each worker (pid) wrote it to its own file."""
    counts: dict[str, float] = {}
    for path in metrics_dir.glob("counter_*.db"):
        pid = path.stem.removeprefix("counter_")
        for key, value, _, _ in MmapedDict.read_all_values_from_file(str(path)):
            _, name, labels, _ = json.loads(key)
            if name == "vsearch_http_requests_total" and labels["route"] == route:
                counts[pid] = counts.get(pid, 0.0) + value
    return counts


def _wait_for_both_pools(url: str, timeout_s: float = 60) -> None:
    # Each worker adds its pool's bound to the livesum gauge once its lifespan has started.
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _samples(_scrape(url), "vsearch_db_pool_max") == [({}, 2.0 * POOL_MAX)]:
            return
        time.sleep(0.2)
    raise AssertionError(f"both workers' pools never showed up: {_scrape(url)[-2000:]}")


def test_two_workers_scrapes_sum_both(database_url: str, inventory: object, tmp_path: Path) -> None:
    origin = OriginProcess(
        database_url,
        tmp_path,
        VSEARCH_WORKERS="2",
        VSEARCH_DATA_DIR=str(tmp_path / "data"),
        VSEARCH_POOL_MAX=str(POOL_MAX),
        VSEARCH_POOL_MIN="1",
    )
    metrics_dir = tmp_path / "data" / "prom-multiproc" / str(origin.port)
    try:
        _wait_for_both_pools(origin.url)

        def search(i: int) -> int:
            params = {"q": f"suv under {20 + i % 7}k", "zip": "80202"}
            return httpx.get(f"{origin.url}/v1/search", params=params, timeout=30).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(search, range(SEARCHES)))
        assert statuses == [200] * SEARCHES

        assert sum(_per_worker(metrics_dir, "/v1/search").values()) == SEARCHES
        # Scrape until both workers have answered scrapes: every one reports all 40 searches.
        scrapes = [_scrape(origin.url) for _ in range(10)]
        while len(_per_worker(metrics_dir, "/metrics")) < 2 and len(scrapes) < 300:
            scrapes.append(_scrape(origin.url))
        assert len(_per_worker(metrics_dir, "/metrics")) == 2
        assert {_searches(text) for text in scrapes} == {float(SEARCHES)}
        # Levels are summed over live workers; process_* series exist per process only: gone.
        text = scrapes[-1]
        assert _samples(text, "vsearch_db_pool_max") == [({}, 2.0 * POOL_MAX)]
        assert _samples(text, "vsearch_build_info")[0][1] == 1.0
        assert "process_resident_memory_bytes" not in text

        # A worker killed outright: uvicorn starts another; the dead one's levels are dropped
        # (else the pools would count 3 workers), its counts stay.
        workers = psutil.Process(origin.process.pid).children(recursive=True)
        victim = next(w.pid for w in workers if "spawn_main" in " ".join(w.cmdline()))
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            alive = {p.name for p in metrics_dir.glob("gauge_livesum_*.db")}
            if f"gauge_livesum_{victim}.db" not in alive and len(alive) == 2:
                break
            _scrape(origin.url)  # a scrape drops the dead worker's files
            time.sleep(0.2)
        _wait_for_both_pools(origin.url)
        assert _searches(_scrape(origin.url)) == SEARCHES
    finally:
        origin.stop()
    assert not metrics_dir.exists()  # removed on a clean shutdown


def test_the_command_module_does_not_import_prometheus_client() -> None:
    # Multiprocess mode must be switched on before prometheus_client's first import.
    code = "import sys, origin.cli; sys.exit('prometheus_client' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
