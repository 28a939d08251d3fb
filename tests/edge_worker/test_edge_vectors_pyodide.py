"""The shared module's JSON vectors under Pyodide (the Worker's runtime): the same canonical forms,
keys and errors as CPython gives, and as the file pins.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import vsearch_query
from edge_host import NODE, ROOT, require_node_runtime

VECTORS = Path(__file__).with_name("cache_key_vectors.json")

# Runs inside Pyodide: the same function, printed as JSON on the last line.
EVALUATE = """
import json, vsearch_query

def evaluate(spelling):
    try:
        query = vsearch_query.parse_search(spelling)
    except vsearch_query.QueryError as exc:
        return ["error", exc.code, exc.field]
    return ["ok", vsearch_query.canonical_form(query), vsearch_query.cache_key(query)]

print(json.dumps({s: evaluate(s) for s in SPELLINGS}))
"""


def evaluate(spelling: str) -> list[Any]:
    try:
        query = vsearch_query.parse_search(spelling)
    except vsearch_query.QueryError as exc:
        return ["error", exc.code, exc.field]
    return ["ok", vsearch_query.canonical_form(query), vsearch_query.cache_key(query)]


def load_vectors() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Groups and errors, from {"groups", "errors"} or a list of groups plus an {"errors"} entry."""
    data = json.loads(VECTORS.read_text())
    if isinstance(data, dict):
        return list(data["groups"]), list(data.get("errors", []))
    groups = [item for item in data if "spellings" in item]
    errors = [e for item in data if "errors" in item for e in item["errors"]]
    return groups, errors


def test_vectors_give_the_same_answers_under_pyodide_and_cpython(tmp_path: Path) -> None:
    require_node_runtime()
    groups, errors = load_vectors()
    spellings = sorted({s for g in groups for s in g["spellings"]} | {e["query"] for e in errors})
    assert len(spellings) > 10
    script = tmp_path / "vectors.py"
    script.write_text(f"SPELLINGS = {json.dumps(spellings)}\n{EVALUATE}")
    run = subprocess.run(
        [str(NODE), str(ROOT / "scripts/edge/pyrun.mjs"), str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    under_pyodide = json.loads(run.stdout.strip().splitlines()[-1])
    under_cpython = {s: evaluate(s) for s in spellings}
    assert under_pyodide == under_cpython
    for group in groups:
        for spelling in group["spellings"]:
            assert under_pyodide[spelling] == ["ok", group["canonical"], group["key"]], group[
                "name"
            ]
    for error in errors:
        assert under_pyodide[error["query"]] == ["error", error["code"], error["field"]]


@pytest.mark.parametrize("name", ["groups", "errors"])
def test_the_vector_file_is_not_empty(name: str) -> None:
    groups, errors = load_vectors()
    assert {"groups": groups, "errors": errors}[name]
