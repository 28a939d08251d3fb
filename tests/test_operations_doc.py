"""docs/operations.md and `/metrics` agree: every vsearch_* family exposed is documented with its
type, and every documented one is exposed."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.testclient import TestClient

DOC = (Path(__file__).resolve().parents[1] / "docs" / "operations.md").read_text()


def documented_metrics() -> dict[str, str]:
    table = DOC.split("| metric | type | labels | meaning |")[1].split("\n\n")[0]
    return dict(re.findall(r"^\| `(vsearch_\w+)` \| (\w+) \|", table, flags=re.MULTILINE))


def exposed_metrics(text: str) -> dict[str, str]:
    families = dict(re.findall(r"^# TYPE (vsearch_\w+) (\w+)$", text, flags=re.MULTILINE))
    # prometheus-client's creation timestamps of unlabelled counters and histograms.
    return {name: kind for name, kind in families.items() if not name.endswith("_created")}


def test_every_exposed_metric_is_documented_and_vice_versa(client: TestClient) -> None:
    exposed = exposed_metrics(client.get("/metrics").text)
    assert len(exposed) >= 15
    assert documented_metrics() == exposed


def test_the_table_parser_sees_the_rows() -> None:
    # Guards the test above against a table it silently fails to read.
    assert documented_metrics()["vsearch_http_request_seconds"] == "histogram"
