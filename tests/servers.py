"""Real server processes for tests that cross a process boundary (edge -> origin): one copy,
shared with the fault drill (`origin/devstack/drill/processes.py`)."""

from __future__ import annotations

from origin.devstack.drill.processes import ROOT, OriginProcess, RedisProcess, free_port

__all__ = ["ROOT", "OriginProcess", "RedisProcess", "free_port"]
