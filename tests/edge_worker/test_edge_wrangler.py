"""wrangler.toml is valid and bundles the Python Worker with the shared module (offline dry run)."""

from __future__ import annotations

import subprocess
import tomllib

from edge_host import ROOT, require_node_runtime


def test_wrangler_dry_run_bundles_the_worker() -> None:
    require_node_runtime()
    run = subprocess.run(
        [str(ROOT / "scripts/edge/check")], capture_output=True, text=True, timeout=180, check=False
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "wrangler.toml ok" in run.stdout


def test_wrangler_toml_names_what_the_worker_reads() -> None:
    config = tomllib.loads((ROOT / "wrangler.toml").read_text())
    assert config["main"] == "edge_worker/entry.py"
    assert "python_workers" in config["compatibility_flags"]
    assert [kv["binding"] for kv in config["kv_namespaces"]] == ["SEARCH_KV"]
    from edge_settings import VAR_NAMES

    assert set(config["vars"]) == set(VAR_NAMES)


def test_the_rate_limit_bindings_match_what_the_worker_reads() -> None:
    from rate_limit import CLIENT_BINDING, KEY_BINDING, PERIOD_S

    config = tomllib.loads((ROOT / "wrangler.toml").read_text())
    limits = {block["name"]: block for block in config["ratelimits"]}
    assert set(limits) == {CLIENT_BINDING, KEY_BINDING}
    # Retry-After is PERIOD_S: the binding itself never says when a key frees up.
    assert {block["simple"]["period"] for block in limits.values()} == {PERIOD_S}
    assert len({block["namespace_id"] for block in limits.values()}) == 2
