"""The dashboard in a real browser (Debian's chromium driven by Playwright) against a real
`vsearch serve` with Redis: its numbers move under a short bounded load, it says when the origin
is gone, and its history survives an origin restart."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from servers import OriginProcess

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "browser-dash-token"
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


def start_origin(database_url: str, redis_url: str, logs: Path) -> OriginProcess:
    return OriginProcess(database_url, logs, VSEARCH_ADMIN_TOKEN=TOKEN, REDIS_URL=redis_url)


class Load:
    """At most ~40 requests a second from one thread, for as long as the test needs."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while not self._stop.is_set():
                client.get("/v1/search", params={"q": QUERIES[self.sent % len(QUERIES)]})
                self.sent += 1
                time.sleep(0.025)

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
    browser: Browser, database_url: str, inventory: Any, redis_url: str, tmp_path: Path
) -> None:
    origin = start_origin(database_url, redis_url, tmp_path)
    load: Load | None = None
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.goto(f"{origin.url}/dashboard?token={TOKEN}")
        assert "token" not in page.url  # stripped from the address bar
        page.wait_for_selector("#status.live", timeout=20_000)
        idle = page.text_content("#rps")
        load = Load(origin.url)
        page.wait_for_function(
            "() => window.vsearchDashboard.seconds.slice(-3).some(p => p.rps > 5)", timeout=20_000
        )
        first_t = page.evaluate("() => window.vsearchDashboard.lastPoint.t")
        readings = rps_readings(page, 2.5)
        assert idle not in readings, (idle, readings)  # it moved with the load
        assert all(float(r) > 0 for r in readings), readings
        assert page.evaluate("() => window.vsearchDashboard.lastPoint.t") >= first_t + 2
        assert (page.text_content("#p95") or "").endswith(" ms")
        assert (page.text_content("#instances") or "") == "1.0"
        shot = tmp_path / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        if os.environ.get("VSEARCH_UPDATE_SCREENSHOTS"):
            (ROOT / "docs" / "img").mkdir(exist_ok=True)
            shutil.copy(shot, ROOT / "docs" / "img" / "dashboard.png")
        load.stop()
        load = None
        origin.stop()
        page.wait_for_selector("#status.down", timeout=20_000)
        assert "reconnecting" in (page.text_content("#status") or "")
    finally:
        if load is not None:
            load.stop()
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
