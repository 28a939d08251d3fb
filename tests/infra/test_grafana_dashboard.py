"""The Grafana dashboard: the committed `infra/grafana/vsearch.json` is what `dashboard.py`
generates, and every panel's query is accepted and evaluated by a real Prometheus (Debian's) that
scrapes a real `vsearch serve` (with Redis) and runs our recording rules."""

from __future__ import annotations

import importlib.util
import json
import re
import urllib.parse
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import yaml
from servers import OriginProcess, free_port
from test_alert_end_to_end import _daemon, _wait, prometheus_config

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "infra" / "grafana"
RULES = ROOT / "infra" / "prometheus"
# Grafana replaces its macros before the query reaches Prometheus; these are the values it would
# pick for a short range at a 1 s scrape interval.
MACROS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "5m"}
# Empty while nothing has gone wrong: no Cloudflare calls (no credentials here), so that counter
# has no label set yet.
EMPTY_HERE = {"Cloudflare API calls"}


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("grafana_dashboard", GRAFANA / "dashboard.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _committed() -> dict[str, Any]:
    return json.loads((GRAFANA / "vsearch.json").read_text())  # type: ignore[no-any-return]


def _queries(board: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, PromQL with Grafana's macros replaced) for every target of every panel."""
    found = []
    for panel in board["panels"]:
        for target in panel.get("targets") or []:
            expr = target["expr"]
            for macro, value in MACROS.items():
                expr = expr.replace(macro, value)
            assert "$" not in expr, f"unknown Grafana variable in {panel['title']}: {expr}"
            found.append((panel["title"], expr))
    return found


def test_committed_json_is_the_generators_output() -> None:
    assert (GRAFANA / "vsearch.json").read_text() == _generator().render(), (
        "infra/grafana/vsearch.json is stale: run .venv/bin/python infra/grafana/dashboard.py"
    )


def test_dashboard_covers_the_operators_questions() -> None:
    board = _committed()
    titles = {panel["title"] for panel in board["panels"] if panel["type"] != "row"}
    for wanted in (
        "Request rate by route",
        "API error ratio (5xx)",
        "Search latency at the origin (/v1/search)",
        "Hit rate per tier",
        "Search strategy mix",
        "Facets computed by source",
        "DB pool connections",
        "DB pool acquire wait",
        "Redis circuit",
        "Outbox depth",
        "Purge lag",
        "Cloudflare API calls",
        "Availability burn rate (99.9%)",
        "Latency burn rate (99% within 100 ms)",
    ):
        assert wanted in titles
    assert len({panel["id"] for panel in board["panels"]}) == len(board["panels"])


def test_every_metric_a_panel_reads_exists(client: Any) -> None:
    """Names are checked against the origin's own exposition and the recording rules, so a typo
    fails here even when a query would merely come back empty."""
    families = set(re.findall(r"^# TYPE (\S+) ", client.get("/metrics").text, re.M))
    histograms = {f"{name}_{part}" for name in families for part in ("bucket", "count", "sum")}
    records = {
        rule["record"]
        for group in yaml.safe_load((RULES / "recording.yml").read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    }
    known = families | histograms | records | {"up"}
    for title, expr in _queries(_committed()):
        for name in re.findall(r"\b(vsearch[_:][A-Za-z0-9_:]+|up)\b", expr):
            assert name in known, f"{title}: {name} is neither exposed nor recorded"


def test_every_panel_query_runs_on_a_real_prometheus(
    tmp_path: Path, database_url: str, inventory: Any, redis_url: str
) -> None:
    origin = OriginProcess(database_url, tmp_path, REDIS_URL=redis_url)
    prom_port = free_port()
    api = f"http://127.0.0.1:{prom_port}/api/v1"
    # Our configs as the alert test runs them (1 s scrapes); recording rules every second too,
    # and no Alertmanager: nothing listens on that port, which Prometheus only logs.
    config = prometheus_config(
        origin.url.removeprefix("http://"), f"127.0.0.1:{free_port()}", tmp_path
    )
    rules = yaml.safe_load((tmp_path / "recording.yml").read_text())
    for group in rules["groups"]:
        group["interval"] = "1s"
    (tmp_path / "recording.yml").write_text(yaml.safe_dump(rules))
    args = [
        "prometheus",
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'prom-data'}",
        f"--web.listen-address=127.0.0.1:{prom_port}",
    ]
    queries = _queries(_committed())
    try:
        # Traffic for every panel: searches (misses, then L1 hits) and a malformed id (400).
        for query in ("red suv", "electric pickup under 40k", "red suv", "honda civic"):
            url = f"{origin.url}/v1/search?q={urllib.parse.quote_plus(query)}"
            assert httpx.get(url, timeout=30).status_code == 200
        assert httpx.get(f"{origin.url}/v1/vehicles/nope", timeout=10).status_code == 400
        with _daemon(args, tmp_path / "prometheus.log"):
            empty: set[str] = set()
            failed: list[str] = []

            def evaluated() -> bool:
                empty.clear()
                for title, expr in queries:
                    reply = httpx.get(f"{api}/query", params={"query": expr})
                    if reply.status_code == 503:  # "Service Unavailable" until it is ready
                        return False
                    body = reply.json()
                    if reply.status_code != 200 or body["status"] != "success":
                        failed.append(f"{title}: {expr}: {body}")
                    elif not body["data"]["result"]:
                        empty.add(title)
                return bool(failed) or empty == EMPTY_HERE

            try:
                _wait(evaluated, 20, "every panel's query to return data")
            except AssertionError:
                raise AssertionError(f"panels without data: {sorted(empty - EMPTY_HERE)}") from None
            assert failed == []
    finally:
        origin.stop()
