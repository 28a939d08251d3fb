"""schemathesis fuzzes the running origin against its own /openapi.json, the admin writes
included (on a throwaway copy of the inventory), and then the local edge (the Worker under
Pyodide in front of that origin) against the same document for the routes the edge serves:
no 5xx, no response outside the spec."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import OriginProcess
from write_db import create_database_copy, drop_database

# The edge host driver lives beside the edge tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "edge_worker"))
from edge_host import EdgeHost, require_node_runtime

# Per process: a concurrent run of the suite in the same tree must not drop ours.
FUZZ_DB = f"vsearch_fuzz_{os.getpid()}"
TOKEN = "fuzz-admin-token"
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance,response_headers_conformance"
)
# What the edge answers itself or forwards (edge_worker/route.py); everything else is its 404.
EDGE_PATHS = r"^/(v1/)?search$|^/$|^/static/"


@pytest.fixture(scope="module")
def fuzzed_origin(
    database_url: str, inventory: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OriginProcess]:
    dsn = create_database_copy(database_url, FUZZ_DB)
    origin = OriginProcess(dsn, tmp_path_factory.mktemp("fuzz"), VSEARCH_ADMIN_TOKEN=TOKEN)
    yield origin
    origin.stop()
    drop_database(database_url, FUZZ_DB)


def schemathesis(
    schema_url: str, report_dir: Path, *options: str
) -> subprocess.CompletedProcess[str]:
    """One bounded run (seeded, at most 30 s of fuzzing) with every response check."""
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "run", schema_url,
        "--checks", CHECKS,
        "--max-examples", "12", "--seed", "8", "--phases", "examples,coverage,fuzzing",
        "--workers", "2", "--max-time", "30", "--request-timeout", "10",
        "--generation-database", "none", "--no-color",
        "--report-dir", str(report_dir), *options,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)


def test_fuzzing_finds_no_5xx_and_nothing_outside_the_schema(
    fuzzed_origin: OriginProcess, tmp_path: Path
) -> None:
    schema = f"{fuzzed_origin.url}/openapi.json"
    result = schemathesis(schema, tmp_path, "--header", f"Authorization: Bearer {TOKEN}")
    log = fuzzed_origin.log.read_text()
    assert result.returncode == 0, result.stdout[-6_000:] + result.stderr[-2_000:] + log[-2_000:]
    assert "unhandled error" not in log


def test_fuzzing_the_edge_finds_no_5xx_and_nothing_outside_the_schema(
    fuzzed_origin: OriginProcess, tmp_path: Path
) -> None:
    require_node_runtime()
    edge = EdgeHost(tmp_path / "edge-persist", fuzzed_origin.url)
    try:
        schema = f"{fuzzed_origin.url}/openapi.json"
        edge_url = f"http://127.0.0.1:{edge.port}"
        result = schemathesis(
            schema, tmp_path, "--url", edge_url, "--include-path-regex", EDGE_PATHS
        )
    finally:
        edge.stop()
    logs = edge.log.read_text() + fuzzed_origin.log.read_text()
    assert result.returncode == 0, result.stdout[-6_000:] + result.stderr[-2_000:] + logs[-2_000:]
    assert "edge failure" not in logs and "unhandled error" not in logs
