"""schemathesis fuzzes the running origin against its own /openapi.json, the admin writes
included (on a throwaway copy of the inventory): no 5xx, no response outside the spec."""

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

# Per process: a concurrent run of the suite in the same tree must not drop ours.
FUZZ_DB = f"vsearch_fuzz_{os.getpid()}"
TOKEN = "fuzz-admin-token"
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance,response_headers_conformance"
)


@pytest.fixture(scope="module")
def fuzzed_origin(
    database_url: str, inventory: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OriginProcess]:
    dsn = create_database_copy(database_url, FUZZ_DB)
    origin = OriginProcess(dsn, tmp_path_factory.mktemp("fuzz"), VSEARCH_ADMIN_TOKEN=TOKEN)
    yield origin
    origin.stop()
    drop_database(database_url, FUZZ_DB)


def test_fuzzing_finds_no_5xx_and_nothing_outside_the_schema(
    fuzzed_origin: OriginProcess, tmp_path: Path
) -> None:
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "run",
        f"{fuzzed_origin.url}/openapi.json",
        "--checks", CHECKS,
        "--header", f"Authorization: Bearer {TOKEN}",
        "--max-examples", "12", "--seed", "8", "--phases", "examples,coverage,fuzzing",
        "--workers", "2", "--max-time", "30", "--request-timeout", "10",
        "--generation-database", "none", "--no-color",
        "--report-dir", str(tmp_path),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    log = fuzzed_origin.log.read_text()
    assert result.returncode == 0, result.stdout[-6_000:] + result.stderr[-2_000:] + log[-2_000:]
    assert "unhandled error" not in log
