"""Active alerts on the dashboard: Alertmanager's v2 answer parsed (pages first), every failure a
view that says "unavailable", and the real Alertmanager (Debian's, our routing and inhibition)
read through the same code."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from json_fake import JsonFake, am_alert
from servers import ROOT, free_port

from origin.dashboard.alerts import MAX_SHOWN, AlertWatcher, parse_alerts, read_alerts


def test_alerts_are_listed_pages_first_then_oldest_first() -> None:
    body = [
        am_alert("VsearchOutboxGrowing", "ticket", "2026-01-01T10:00:00Z", "outbox grows"),
        am_alert("VsearchInstanceDown", "page", "2026-01-01T10:05:00Z", "an origin is down"),
        am_alert("VsearchLatencyBurnPage", "page", "2026-01-01T09:00:00Z"),
    ]
    assert parse_alerts(body) == [
        {"name": "VsearchLatencyBurnPage", "severity": "page", "since": "2026-01-01T09:00:00Z",
         "summary": ""},
        {"name": "VsearchInstanceDown", "severity": "page", "since": "2026-01-01T10:05:00Z",
         "summary": "an origin is down"},
        {"name": "VsearchOutboxGrowing", "severity": "ticket", "since": "2026-01-01T10:00:00Z",
         "summary": "outbox grows"},
    ]  # fmt: skip
    assert parse_alerts([{"labels": {}}]) == [
        {"name": "?", "severity": "", "since": "", "summary": ""}
    ]
    storm = [am_alert(f"A{i}", "ticket", "2026-01-01T10:00:00Z") for i in range(MAX_SHOWN + 5)]
    assert len(parse_alerts(storm)) == MAX_SHOWN


@pytest.mark.parametrize("body", [{}, [1], [{"labels": "x"}], None])
def test_another_shape_is_refused(body: object) -> None:
    with pytest.raises(ValueError):
        parse_alerts(body)


async def test_every_failure_is_a_view_that_says_unavailable() -> None:
    fake = JsonFake({"/api/v2/alerts": (200, [am_alert("X", "page", "2026-01-01T00:00:00Z")])})
    async with httpx.AsyncClient() as client:
        view = await read_alerts(client, fake.url)
        assert view["status"] == "ok" and [a["name"] for a in view["alerts"]] == ["X"]
        path, _ = fake.requests[-1]
        assert path == "/api/v2/alerts?active=true&silenced=false&inhibited=false"
        fake.answers["/api/v2/alerts"] = (503, {})
        assert await read_alerts(client, fake.url) == {
            "status": "unavailable",
            "detail": "Alertmanager answered 503",
            "alerts": [],
        }
        fake.answers["/api/v2/alerts"] = (200, {"not": "a list"})
        assert "unexpected answer" in (await read_alerts(client, fake.url))["detail"]
        fake.delay_s = 1.0
        assert "did not answer" in (await read_alerts(client, fake.url))["detail"]
        fake.delay_s = 0.0
        fake.stop()
        assert "unreachable" in (await read_alerts(client, fake.url))["detail"]
        assert "unreachable" in (await read_alerts(client, "127.0.0.1:9093"))["detail"]  # no scheme
        assert "unreachable" in (await read_alerts(client, "http://[::1"))["detail"]


async def test_without_a_url_the_view_is_off() -> None:
    watcher = AlertWatcher(None, None)
    await watcher.refresh()
    assert watcher.view == {"status": "off", "alerts": []}


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    """Debian's Alertmanager with our routing and inhibition; its webhooks lead nowhere."""
    binary = shutil.which("prometheus-alertmanager")
    assert binary, "prometheus-alertmanager is missing: run scripts/setup"
    config = yaml.safe_load((ROOT / "infra/alertmanager/alertmanager.yml").read_text())
    for receiver in config["receivers"]:
        for webhook in receiver["webhook_configs"]:
            webhook["url"] = "http://127.0.0.1:9/"  # discard: this test reads the API only
    (tmp_path / "am.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    args = [binary, f"--config.file={tmp_path / 'am.yml'}", f"--storage.path={tmp_path / 'am'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with (tmp_path / "am.log").open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


async def test_the_real_alertmanager_lists_firing_alerts_minus_inhibited(alertmanager: str) -> None:
    def alert(name: str, severity: str, slo: str) -> dict[str, object]:
        labels = {"alertname": name, "severity": severity, "slo": slo}
        return {"labels": labels, "annotations": {"summary": f"{name} fires"}}

    posted = [
        alert("VsearchAvailabilityBurnPage", "page", "availability"),
        alert("VsearchAvailabilityBurnTicket", "ticket", "availability"),  # inhibited
        alert("VsearchLatencyBurnTicket", "ticket", "latency"),
    ]
    async with httpx.AsyncClient() as client:
        (await client.post(f"{alertmanager}/api/v2/alerts", json=posted)).raise_for_status()
        watcher = AlertWatcher(client, alertmanager)
        await watcher.refresh()
    view = watcher.view
    assert view["status"] == "ok", view
    assert [(a["name"], a["severity"]) for a in view["alerts"]] == [
        ("VsearchAvailabilityBurnPage", "page"),
        ("VsearchLatencyBurnTicket", "ticket"),
    ]
    assert view["alerts"][0]["summary"] == "VsearchAvailabilityBurnPage fires"
    assert view["alerts"][0]["since"].startswith(time.strftime("%Y-", time.gmtime()))
