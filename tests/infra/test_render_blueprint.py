"""infra/render.yaml holds the Blueprint fields we rely on, as RESEARCH.md summarises Render's
spec (no official schema can be fetched here): autoscaling, health check, shutdown delay, the
purger as a worker, Key Value with ipAllowList, Postgres, env var groups and unsynced secrets."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from servers import free_port
from starlette.testclient import TestClient

from origin.app import create_app
from origin.settings import ENV_VARS, Settings

BLUEPRINT = Path(__file__).resolve().parents[2] / "infra" / "render.yaml"
SECRETS = {"VSEARCH_ADMIN_TOKEN", "CLOUDFLARE_API_TOKEN", "VSEARCH_EDGE_ADMIN_TOKEN"}
# Render's own variable (the Python runtime's version), not one of ours.
PLATFORM_VARS = {"PYTHON_VERSION"}


@pytest.fixture(scope="module")
def blueprint() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(BLUEPRINT.read_text())
    return loaded


def _service(blueprint: dict[str, Any], kind: str) -> dict[str, Any]:
    matches = [s for s in blueprint["services"] if s["type"] == kind]
    assert len(matches) == 1, kind
    return matches[0]


def _env(service_or_group: dict[str, Any]) -> list[dict[str, Any]]:
    return list(service_or_group.get("envVars", []))


def test_the_origin_autoscales_behind_a_readiness_check(blueprint: dict[str, Any]) -> None:
    web = _service(blueprint, "web")
    assert web["runtime"] == "python"
    assert web["startCommand"] == "vsearch serve" and web["buildCommand"]
    assert web["healthCheckPath"] == "/readyz"
    scaling = web["scaling"]
    assert 1 <= scaling["minInstances"] < scaling["maxInstances"]
    assert 1 <= scaling["targetCPUPercent"] <= 90
    # A service with a disk cannot scale out.
    assert "disk" not in web
    assert 1 <= web["maxShutdownDelaySeconds"] <= 300


def test_the_purger_is_a_background_worker(blueprint: dict[str, Any]) -> None:
    worker = _service(blueprint, "worker")
    assert worker["startCommand"] == "vsearch purger"
    assert "healthCheckPath" not in worker and "scaling" not in worker
    assert 1 <= worker["maxShutdownDelaySeconds"] <= 300


def test_key_value_and_postgres_are_declared_and_referenced(blueprint: dict[str, Any]) -> None:
    keyvalue = _service(blueprint, "keyvalue")
    assert isinstance(keyvalue["ipAllowList"], list)
    names = {d["name"] for d in blueprint["databases"]}
    for kind in ("web", "worker"):
        env = {e["key"]: e for e in _env(_service(blueprint, kind)) if "key" in e}
        assert env["DATABASE_URL"]["fromDatabase"]["name"] in names
        assert env["REDIS_URL"]["fromService"] == {
            "type": "keyvalue", "name": keyvalue["name"], "property": "connectionString"
        }  # fmt: skip


def test_env_vars_are_our_settings_groups_exist_and_secrets_are_not_synced(
    blueprint: dict[str, Any],
) -> None:
    groups = {g["name"]: g for g in blueprint["envVarGroups"]}
    entries = [e for g in groups.values() for e in _env(g)]
    for service in blueprint["services"]:
        for entry in _env(service):
            if "fromGroup" in entry:
                assert entry["fromGroup"] in groups
            else:
                entries.append(entry)
    for entry in entries:
        assert entry["key"] in set(ENV_VARS) | PLATFORM_VARS, entry["key"]
        if entry["key"] in SECRETS:
            assert entry == {"key": entry["key"], "sync": False}, "secrets never in the file"


def test_readiness_stays_up_with_redis_unreachable(settings: Settings, embedder: Any) -> None:
    """The health check path must not take every instance out because Redis is down."""
    dead_redis = replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with TestClient(create_app(dead_redis, embed=embedder.embed_query)) as client:
        response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["checks"]["redis"] != "ok"
