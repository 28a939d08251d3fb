"""The drill's record: bench/results/drill-<UTC stamp>.json (with the machine), and the figures
table of docs/reliability.md, regenerated between its markers."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from origin.bench.stats import machine

BEGIN, END = "<!-- drill:begin (scripts/drill writes this) -->", "<!-- drill:end -->"
COLUMNS = ["fault", "requests", "errors", "p99_ms", "stale", "purges_lost", "recovery_s"]
HEADINGS = ["fault", "requests", "errors", "p99 ms", "stale", "purges lost", "recovery s"]


def machine_now() -> dict[str, Any]:
    """CPU model, cores, memory, Python, and the load average at this moment."""
    return {**machine(), "loadavg": [round(x, 2) for x in os.getloadavg()]}


def write_json(result: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"drill-{result['when'].replace(':', '')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


def table(result: dict[str, Any]) -> str:
    """The generated block: the run, the machine, one row per fault."""
    m = result["machine"]
    lines = [
        BEGIN,
        f"Run {result['when']}: `scripts/drill --fault-seconds {result['args']['fault_seconds']:g}`"
        f", {result['seconds']:.0f} s in all, {result['vehicles']:,} vehicles. Machine: "
        f"{m['cpu']}, {m['cores']} cores, {m['memory']}; load average "
        f"{' '.join(map(str, m['loadavg']))} before, "
        f"{' '.join(map(str, result['loadavg_after']))} after.",
        "",
        "| " + " | ".join([*HEADINGS, "notes"]) + " |",
        "| " + " | ".join(["---"] * (len(HEADINGS) + 1)) + " |",
    ]
    for row in result["rows"]:
        cells = [row[c] for c in COLUMNS] + [_notes(result["details"].get(row["fault"], {}))]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines.append(END)
    return "\n".join(lines)


def _notes(details: dict[str, Any]) -> str:
    notes = []
    if details.get("degraded"):
        notes.append(f"{details['degraded']} keyword-fallback answers")
    other = {s: n for s, n in details.get("statuses", {}).items() if int(s) != 200}
    if other:
        notes.append("answers " + ", ".join(f"{s or 'none'} x{n}" for s, n in other.items()))
    return "; ".join(notes)


def update_doc(doc: Path, block: str) -> None:
    """Replace what stands between the markers (both must be there, once)."""
    text = doc.read_text()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"{doc} has no {BEGIN} ... {END} block")
    doc.write_text(text[:start] + block + text[end + len(END) :])
