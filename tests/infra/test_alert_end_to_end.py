"""One alert for real: Prometheus (Debian's) scrapes a real `vsearch serve` with our rules and
configs, the origin stops, and VsearchInstanceDown reaches a local webhook through Alertmanager
on the `page` route."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from servers import OriginProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"


class Webhook:
    """Records what Alertmanager posts, by path (`/page`, `/ticket`)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.received.append((self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@contextlib.contextmanager
def _daemon(args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.terminate()
            process.wait(timeout=10)


def _wait(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def monitoring(tmp_path: Path) -> Iterator[tuple[str, Webhook, Path]]:
    """Alertmanager with our routing (webhooks pointed here, short waits) and a Prometheus config
    built from ours (1 s intervals, `for` of 0 s); Prometheus starts in the test."""
    for binary in ("prometheus", "prometheus-alertmanager"):
        assert shutil.which(binary), f"{binary} is missing: run scripts/setup"
    hook = Webhook()
    am_config = yaml.safe_load((INFRA / "alertmanager" / "alertmanager.yml").read_text())
    am_config["route"]["group_wait"] = "0s"
    for route in am_config["route"]["routes"]:
        route["group_wait"] = "0s"
    for receiver in am_config["receivers"]:
        for webhook in receiver["webhook_configs"]:
            webhook["url"] = webhook["url"].replace("http://127.0.0.1:9095", hook.url)
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(am_config))
    am_port = free_port()
    with _daemon(
        [
            "prometheus-alertmanager",
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",
        ],
        tmp_path / "alertmanager.log",
    ):
        try:
            yield f"127.0.0.1:{am_port}", hook, tmp_path
        finally:
            hook.server.shutdown()
            hook.server.server_close()


def prometheus_config(target: str, alertmanager: str, work: Path) -> Path:
    config = yaml.safe_load((INFRA / "prometheus" / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [alertmanager]
    config["scrape_configs"][0]["static_configs"][0]["targets"] = [target]
    alerts = yaml.safe_load((INFRA / "prometheus" / "alerts.yml").read_text())
    for group in alerts["groups"]:
        for rule in group["rules"]:
            rule["for"] = "0s"  # the rule as written, without its patience
    (work / "alerts.yml").write_text(yaml.safe_dump(alerts))
    shutil.copy(INFRA / "prometheus" / "recording.yml", work / "recording.yml")
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    return work / "prometheus.yml"


def test_instance_down_pages_through_alertmanager(
    monitoring: tuple[str, Webhook, Path], database_url: str, inventory: Any
) -> None:
    alertmanager, hook, work = monitoring
    origin = OriginProcess(database_url, work)
    prom_port = free_port()
    api = f"http://127.0.0.1:{prom_port}/api/v1"
    config = prometheus_config(origin.url.removeprefix("http://"), alertmanager, work)
    args = [
        "prometheus",
        f"--config.file={config}",
        f"--storage.tsdb.path={work / 'prom-data'}",
        f"--web.listen-address=127.0.0.1:{prom_port}",
    ]
    try:
        with _daemon(args, work / "prometheus.log"):

            def scraped() -> bool:
                reply = httpx.get(f"{api}/query", params={"query": "up"})
                if reply.status_code != 200:  # 503 "Service Unavailable" until it is ready
                    return False
                result = reply.json()["data"]["result"]
                return bool(result) and result[0]["value"][1] == "1"

            _wait(scraped, 30, "Prometheus to scrape the origin")
            build = httpx.get(f"{api}/query", params={"query": "vsearch_build_info"}).json()
            assert build["data"]["result"], "the origin's metrics reached Prometheus"
            assert hook.received == []
            origin.stop()
            _wait(lambda: hook.received, 45, "the page at the webhook")
    finally:
        origin.stop()
    path, payload = hook.received[0]
    assert path == "/page"
    assert payload["status"] == "firing"
    assert [a["labels"]["alertname"] for a in payload["alerts"]] == ["VsearchInstanceDown"]
