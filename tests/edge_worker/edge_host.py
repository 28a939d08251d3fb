"""Start and drive the local edge host (scripts/edge/host.mjs: Pyodide + miniflare) from tests."""

from __future__ import annotations

import os

import pytest

# One copy, shared with the fault drill (scripts/drill).
from origin.devstack.drill.edge import ADMIN_TOKEN, NODE, EdgeHost, missing_prerequisites
from origin.devstack.drill.processes import ROOT, free_port

__all__ = ["ADMIN_TOKEN", "NODE", "ROOT", "EdgeHost", "free_port", "require_node_runtime"]


def require_node_runtime() -> None:
    """Skip with the reason locally; fail in CI, where a skipped runtime test hides a break."""
    missing = missing_prerequisites()
    if missing:
        message = "Pyodide edge tests need: " + ", ".join(missing) + " (run `npm ci`)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
