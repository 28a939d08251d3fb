"""The dashboard in a real browser (Debian's chromium driven by Playwright) against a real
`vsearch serve` with Redis and the real local edge (Pyodide host) in front: its numbers and the
edge's layer rates move under a short bounded load, an alert shows up (a fake Alertmanager), it
says when alerts or the origin are gone, and its history survives an origin restart."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from json_fake import JsonFake, am_alert
from playwright.sync_api import Browser, Page, sync_playwright
from servers import OriginProcess, free_port

from origin.devstack.drill.edge import ADMIN_TOKEN, EdgeHost, missing_prerequisites

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "browser-dash-token"  # the read token, as scripts/run's dashboard URL uses
CHROMIUM = "/usr/bin/chromium"
# RESEARCH.md: Playwright cannot download its browser here; Debian's runs with these. The
# background-networking flags keep the browser from calling out: loopback traffic only.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--headless",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
QUERIES = ["red suv", "cheap reliable sedan", "electric pickup", "honda civic low miles"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert shutil.which("chromium") == CHROMIUM, "chromium is missing: run scripts/setup"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def start_origin(database_url: str, redis_url: str, logs: Path, **env: str) -> OriginProcess:
    return OriginProcess(database_url, logs, VSEARCH_READ_TOKEN=TOKEN, REDIS_URL=redis_url, **env)


@pytest.fixture
def alertmanager() -> Iterator[JsonFake]:
    """Alertmanager's v2 alerts API (a fake) with one page firing for three minutes."""
    since = (datetime.now(UTC) - timedelta(minutes=3)).isoformat().replace("+00:00", "Z")
    down = am_alert("VsearchInstanceDown", "page", since, "an origin instance is down")
    fake = JsonFake({"/api/v2/alerts": (200, [down])})
    yield fake
    fake.stop()


class Load:
    """At most ~40 requests a second from one thread, for as long as the test needs; with
    `fresh_every` n, every nth search is one not asked before (an edge miss)."""

    def __init__(
        self, url: str, path: str = "/v1/search", pause_s: float = 0.025, fresh_every: int = 0
    ) -> None:
        self.url, self.path, self.pause_s, self.fresh_every = url, path, pause_s, fresh_every
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while not self._stop.is_set():
                q = QUERIES[self.sent % len(QUERIES)]
                if self.fresh_every and self.sent % self.fresh_every == 0:
                    q = f"{q} under {self.sent + 10}k"
                client.get(self.path, params={"q": q})
                self.sent += 1
                time.sleep(self.pause_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def rps_readings(page: Page, seconds: float) -> list[str]:
    readings = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        readings.append(page.text_content("#rps") or "")
        time.sleep(0.5)
    return readings


def test_dashboard_moves_under_load_and_says_when_the_origin_is_gone(
    browser: Browser,
    database_url: str,
    inventory: Any,
    redis_url: str,
    alertmanager: JsonFake,
    tmp_path: Path,
) -> None:
    assert missing_prerequisites() == [], "the local edge needs `npm ci` and the workers SDK"
    edge_url = f"http://127.0.0.1:{free_port()}"
    origin = start_origin(
        database_url, redis_url, tmp_path, VSEARCH_ALERTMANAGER_URL=alertmanager.url,
        VSEARCH_EDGE_ADMIN_URL=edge_url, VSEARCH_EDGE_ADMIN_TOKEN=ADMIN_TOKEN,
    )  # fmt: skip
    edge = EdgeHost(tmp_path / "edge", origin.url, port=int(edge_url.rsplit(":", 1)[1]))
    loads: list[Load] = []
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.goto(f"{origin.url}/dashboard?token={TOKEN}")
        assert "token" not in page.url  # stripped from the address bar
        page.wait_for_selector("#status.live", timeout=20_000)
        idle = page.text_content("#rps")
        # The alert is on the page, worst first, with its severity and since when.
        page.wait_for_selector("#alert-list li.alert.page", timeout=10_000)
        alert = page.text_content("#alert-list li.alert.page") or ""
        assert "VsearchInstanceDown" in alert and "page" in alert and "for 3m" in alert, alert
        assert page.text_content("#alerts-status") == "1 firing"
        loads = [Load(origin.url), Load(edge.url, "/search", pause_s=0.1, fresh_every=5)]
        page.wait_for_function(
            "() => window.vsearchDashboard.seconds.slice(-3).some(p => p.rps > 5)", timeout=20_000
        )
        # The edge's layers, counted by the Worker's Analytics Engine points in the local host.
        # The origin's load makes these queries popular, so the edge's hits come from KV or cache.
        page.wait_for_function(
            """() => { const s = window.vsearchDashboard.seconds.slice(-5);
              return s.some(p => p.hit_edge_kv + p.hit_edge_cache > 0)
                && s.some(p => p.edge_miss > 0); }""",
            timeout=20_000,
        )
        first_t = page.evaluate("() => window.vsearchDashboard.lastPoint.t")
        readings = rps_readings(page, 2.5)
        assert idle not in readings, (idle, readings)  # it moved with the load
        assert all(float(r) > 0 for r in readings), readings
        assert page.evaluate("() => window.vsearchDashboard.lastPoint.t") >= first_t + 2
        assert (page.text_content("#p95") or "").endswith(" ms")
        assert (page.text_content("#instances") or "") == "1.0"
        assert float(page.text_content("#edge-rps") or "0") > 0
        for tile in ("#hit-edge-kv", "#hit-edge-cache", "#edge-stale", "#edge-miss"):
            assert (page.text_content(tile) or "").endswith("%"), tile
        shot = tmp_path / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        if os.environ.get("VSEARCH_UPDATE_SCREENSHOTS"):
            (ROOT / "docs" / "img").mkdir(exist_ok=True)
            shutil.copy(shot, ROOT / "docs" / "img" / "dashboard.png")
        for load in loads:
            load.stop()
        # Alertmanager gone: the page says so and stays live.
        alertmanager.stop()
        page.wait_for_selector("#alerts-status.warn", timeout=10_000)
        assert "alerts unavailable" in (page.text_content("#alerts-status") or "")
        assert page.query_selector("#alert-list li") is None
        assert page.query_selector("#status.live") is not None
        origin.stop()
        page.wait_for_selector("#status.down", timeout=20_000)
        assert "reconnecting" in (page.text_content("#status") or "")
    finally:
        for load in loads:
            load.stop()
        edge.stop()
        origin.stop()

    # A new origin (a restart) shows the history the first one wrote to Redis.
    restarted = start_origin(database_url, redis_url, tmp_path)
    try:
        page = browser.new_page()
        page.goto(f"{restarted.url}/dashboard?token={TOKEN}")
        page.wait_for_function("() => window.vsearchDashboard.seconds.length > 0", timeout=20_000)
        busy = page.evaluate("() => window.vsearchDashboard.seconds.filter(p => p.rps > 5).length")
        assert busy >= 3
    finally:
        restarted.stop()
