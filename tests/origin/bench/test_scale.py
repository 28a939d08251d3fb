"""The scale run, small: its own embedded server, load stages timed, memory and sizes measured,
searches and recall on what it loaded; a second run of the same size reuses the load."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from origin.bench.scale import render_scale, run_scale
from origin.inventory.seed import index_build_memory_mb
from origin.settings import load_settings


def test_index_build_memory_holds_the_whole_graph_and_never_less_than_a_gigabyte() -> None:
    assert index_build_memory_mb(100_000) == 1024
    # ~2.3 kB of graph per 384-d vector: a 1M build must not spill to disk.
    assert index_build_memory_mb(1_000_000) * 1024**2 >= 1_000_000 * 2_300


def test_scale_run_times_the_load_measures_memory_and_searches_what_it_loaded(
    tmp_path: Path,
) -> None:
    settings = replace(load_settings({}), data_dir=tmp_path / "data")
    doc = tmp_path / "scale.md"
    result = run_scale(settings, vehicles=400, queries=12, out_dir=str(tmp_path), doc=doc)

    seed = result["seed"]
    assert seed["reused"] is False and seed["vehicles"] == 400
    assert set(seed["stage_seconds"]) == {"embedding", "loading", "index"}
    assert (tmp_path / "data" / "scale-400" / "pgdata").is_dir()  # never the demo server
    peak = result["load"]["peak_pss_mib"]
    assert peak["loader"] > 50 and peak["postgres"] > 0
    assert result["sizes_mib"]["heap"] > 0 and result["sizes_mib"]["hnsw"] > 0
    assert result["miss_path"]["vehicles"] == 400 and result["miss_path"]["queries"] == 12
    written = json.loads(next(tmp_path.glob("scale-400-*.json")).read_text())
    assert written["sizes_mib"] == result["sizes_mib"]
    assert "| HNSW index build + VACUUM ANALYZE |" in doc.read_text()

    doc.write_text(doc.read_text() + "\nWhy recall drops at 1M.\n")  # the hand-written reading
    again = run_scale(settings, vehicles=400, queries=12, out_dir=str(tmp_path), doc=doc)
    assert doc.read_text().endswith("\nWhy recall drops at 1M.\n")
    assert again["seed"]["reused"] is True and again["seed"]["stage_seconds"] == {}
    assert again["load"] == result["load"]  # the load as measured by the run that did it
    assert f"Reused the inventory loaded at {result['load']['when']}" in render_scale(again)
