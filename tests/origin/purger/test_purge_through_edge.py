"""End to end on one laptop: the real worker (Pyodide + miniflare) in front of a real origin whose
in-process purger posts to the edge's admin path; a sold vehicle leaves the edge's cached page."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from servers import OriginProcess, free_port
from write_db import wait_done

# The edge host driver lives beside the edge tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "edge_worker"))
import edge_host
from edge_host import EdgeHost, require_node_runtime

TOKEN = "e2e-admin-token"


@pytest.fixture(scope="module")
def stack(
    write_database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[OriginProcess, EdgeHost]]:
    require_node_runtime()
    edge_port = free_port()  # the origin must know where the edge will listen
    logs = tmp_path_factory.mktemp("e2e")
    origin = OriginProcess(
        write_database_url, logs, VSEARCH_ADMIN_TOKEN=TOKEN, REDIS_URL=redis_url,
        VSEARCH_EDGE_ADMIN_URL=f"http://127.0.0.1:{edge_port}",
        VSEARCH_EDGE_ADMIN_TOKEN=edge_host.ADMIN_TOKEN, VSEARCH_PURGER_POLL_S="0.5",
    )  # fmt: skip
    try:
        edge = EdgeHost(Path(logs) / "edge-persist", origin.url, port=edge_port)
        try:
            yield origin, edge
        finally:
            edge.stop()
    finally:
        origin.stop()


def test_a_sold_vehicle_leaves_the_edge_cache_after_its_purge(
    stack: tuple[OriginProcess, EdgeHost], write_database_url: str
) -> None:
    origin, edge = stack
    target = "/search?q=reliable+commuter+sedan&body=sedan&limit=10"
    first = edge.get(target)
    assert first.status_code == 200, first.text
    edge.idle()
    cached = edge.get(target)
    assert cached.headers["x-cache"] == "HIT"
    sold = cached.json()["results"][0]["id"]

    response = httpx.patch(
        f"{origin.url}/v1/vehicles/{sold}", json={"status": "sold"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    lag = wait_done(write_database_url, [response.json()["purge_event"]])
    print(f"\npurge lag through Redis and the local edge: {lag * 1000:.0f} ms")

    after = edge.get(target)
    assert after.headers["x-cache"] == "MISS"
    assert sold not in [r["id"] for r in after.json()["results"]]
