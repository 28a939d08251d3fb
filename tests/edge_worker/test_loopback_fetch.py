"""The local edge host's fetch for the Worker's origin calls (scripts/edge/loopback_fetch.mjs):
node:http in place of undici, with fetch's answers, redirects, AbortSignal and errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from edge_host import NODE, require_node_runtime

CHECK = Path(__file__).with_name("loopback_fetch_check.mjs")


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    require_node_runtime()
    done = subprocess.run(
        [str(NODE), str(CHECK)], capture_output=True, text=True, timeout=60, check=True
    )
    outcome: dict[str, Any] = json.loads(done.stdout)
    return outcome


def test_a_get_sends_its_headers_and_reads_the_whole_answer(results: dict[str, Any]) -> None:
    assert results["plain"] == {"status": 200, "seen": "yes", "body": "at /a?b=c", "location": None}


def test_redirects_are_followed_unless_the_caller_says_manual(results: dict[str, Any]) -> None:
    assert results["followed"]["status"] == 200 and results["followed"]["body"] == "at /here"
    assert results["manual"]["status"] == 302 and results["manual"]["location"] == "/here"


def test_a_bodiless_status_has_an_empty_body(results: dict[str, Any]) -> None:
    assert results["empty"]["status"] == 204 and results["empty"]["body"] == ""


def test_the_signal_aborts_and_a_refusal_is_fetch_failed(results: dict[str, Any]) -> None:
    assert results["timeout"]["error"] == "TimeoutError"
    assert results["refused"] == {"error": "TypeError", "message": "fetch failed"}
