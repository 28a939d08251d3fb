"""The drill drives the edge host too: make tests/edge_worker's helpers importable."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "edge_worker"))
