"""The alert rules load in Prometheus's own tools, their unit tests pass, every alert is tested both
firing and quiet, has a runbook entry, and Alertmanager routes it by severity."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "infra" / "prometheus"
ALERTMANAGER = ROOT / "infra" / "alertmanager" / "alertmanager.yml"
OPERATIONS = (ROOT / "docs" / "operations.md").read_text()


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: scripts/setup installs it (Debian prometheus packages)"
    return path


def run(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def alerts() -> dict[str, dict[str, Any]]:
    groups = yaml.safe_load((RULES / "alerts.yml").read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def test_rules_pass_promtool_check() -> None:
    out = run(
        tool("promtool"), "check", "rules", str(RULES / "recording.yml"), str(RULES / "alerts.yml")
    )
    assert "SUCCESS" in out


def test_rule_unit_tests_pass() -> None:
    out = run(tool("promtool"), "test", "rules", str(RULES / "tests" / "alerts_test.yml"))
    assert "SUCCESS" in out


def test_every_alert_is_tested_firing_and_quiet() -> None:
    cases = yaml.safe_load((RULES / "tests" / "alerts_test.yml").read_text())["tests"]
    seen: dict[str, set[bool]] = {}
    for case in cases:
        for check in case.get("alert_rule_test", []):
            seen.setdefault(check["alertname"], set()).add(bool(check["exp_alerts"]))
    assert {name: seen.get(name, set()) for name in alerts()} == {
        name: {True, False} for name in alerts()
    }


def test_every_alert_is_a_page_or_a_ticket_with_its_runbook() -> None:
    for name, rule in alerts().items():
        assert rule["labels"]["severity"] in ("page", "ticket"), name
        assert rule["annotations"]["runbook"] == f"docs/operations.md#{name.lower()}"


def test_every_alert_has_a_runbook_entry_and_vice_versa() -> None:
    documented = set(re.findall(r"^### (Vsearch\w+)$", OPERATIONS, flags=re.MULTILINE))
    assert documented == set(alerts())


def test_alertmanager_config_is_valid() -> None:
    assert "SUCCESS" in run(tool("amtool"), "check-config", str(ALERTMANAGER))


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=page", "alertname=VsearchInstanceDown"], "page"),
        (["severity=ticket", "alertname=VsearchOutboxGrowing"], "ticket"),
        (["alertname=SomethingUnlabelled"], "ticket"),
    ],
)
def test_alertmanager_routes_by_severity(labels: list[str], receiver: str) -> None:
    out = run(tool("amtool"), "config", "routes", "test", f"--config.file={ALERTMANAGER}", *labels)
    assert out.strip() == receiver
