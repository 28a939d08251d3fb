"""The dashboard's background work as the app's lifespan runs it: each second's sample carries the
edge's per-layer counts, and the alert watcher holds Alertmanager's active alerts (both fakes
here; the browser test runs the real edge host)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from json_fake import JsonFake, am_alert

from origin.dashboard.live import live_dashboard
from origin.dashboard.sample import point
from origin.settings import load_settings

TOKEN = "edge-admin-secret"


@pytest.fixture
def fakes() -> Iterator[tuple[JsonFake, JsonFake]]:
    edge = JsonFake({"/__local/counts": (200, {"counts": {"HIT/kv": 10, "MISS/origin": 3}})})
    alertmanager = JsonFake(
        {"/api/v2/alerts": (200, [am_alert("VsearchInstanceDown", "page", "2026-01-01T00:00:00Z")])}
    )
    yield edge, alertmanager
    edge.stop()
    alertmanager.stop()


async def test_samples_carry_edge_counts_and_the_watcher_the_alerts(
    fakes: tuple[JsonFake, JsonFake],
) -> None:
    edge, alertmanager = fakes
    settings = load_settings(
        {}, edge_admin_url=edge.url, edge_admin_token=TOKEN, alertmanager_url=alertmanager.url
    )
    async with live_dashboard(settings) as dash:
        await asyncio.sleep(1.2)
        edge.answers["/__local/counts"] = (
            200,
            {"counts": {"HIT/kv": 16, "HIT/cache": 2, "STALE/cache": 1, "MISS/origin": 4}},
        )
        await asyncio.sleep(2.2)
        now = int(time.time())
        seconds = await dash.history.seconds(now - 5, now)
        alerts = dash.alerts.view
    moved = [fields for _, fields in seconds if fields.get("edge_kv")]
    assert len(moved) == 1, seconds
    assert moved[0]["edge_kv"] == 6 and moved[0]["edge_cache"] == 2 and moved[0]["edge_miss"] == 1
    read = [fields for _, fields in seconds if fields.get("edge_seconds")]
    assert len(read) >= 2  # every second with two readings counts one reading
    p = point(0, moved[0], 1)
    assert p["edge_rps"] == 10 and p["hit_edge_kv"] == 0.6 and p["edge_stale"] == 0.1
    assert alerts["status"] == "ok"
    assert [a["name"] for a in alerts["alerts"]] == ["VsearchInstanceDown"]
    assert all(h["authorization"] == f"Bearer {TOKEN}" for _, h in edge.requests)


async def test_without_edge_or_alertmanager_nothing_is_read() -> None:
    async with live_dashboard(load_settings({})) as dash:
        await asyncio.sleep(1.1)
        now = int(time.time())
        seconds = await dash.history.seconds(now - 3, now)
    assert not any("edge_seconds" in fields for _, fields in seconds)
    assert dash.alerts.view == {"status": "off", "alerts": []}
