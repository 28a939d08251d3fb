"""The load test's configuration: the nginx template renders to a loopback-only, URL-keyed cache,
locust's stages parse, and the figures come out right from known records."""

from __future__ import annotations

import itertools
import random
import shutil
import statistics
import subprocess
from pathlib import Path

import pytest

from origin.bench import load_report, nginx
from origin.bench.load import write_tags
from origin.bench.load_markdown import render as render_markdown
from origin.bench.scenario import next_step_at, parse_stages, stages
from origin.bench.workload import Request


def _conf(tmp_path: Path) -> str:
    return nginx.render(nginx.TEMPLATE.read_text(), port=18080, upstream="127.0.0.1:8001",
                        prefix=tmp_path)  # fmt: skip


def test_nginx_config_is_loopback_only_and_keyed_by_the_raw_url(tmp_path: Path) -> None:
    conf = _conf(tmp_path)
    assert "listen 127.0.0.1:18080;" in conf
    assert "server 127.0.0.1:8001;" in conf
    assert "proxy_cache_key $request_uri;" in conf
    assert f"proxy_cache_path {tmp_path}/cache" in conf
    assert "@" not in conf.replace("$", "")


def test_nginx_refuses_an_upstream_off_loopback(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        nginx.render(nginx.TEMPLATE.read_text(), port=1, upstream="10.0.0.1:80", prefix=tmp_path)


@pytest.mark.skipif(nginx.find_nginx() is None, reason="nginx not installed (scripts/setup)")
def test_nginx_accepts_the_rendered_config(tmp_path: Path) -> None:
    (tmp_path / "nginx.conf").write_text(_conf(tmp_path))
    binary = nginx.find_nginx() or shutil.which("nginx") or "nginx"
    check = subprocess.run(
        [binary, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True, text=True, timeout=20, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr


def test_stages_parse_and_bad_ones_fail() -> None:
    assert stages(6, 10, 0, 15, 15) == "6:15,60:15,6:15"
    assert parse_stages(stages(6, 10, 5, 15, 15)) == [(6, 5.0), (6, 15.0), (60, 15.0), (6, 15.0)]
    assert stages(6, 10, 60, 15, 15, warm_users=18) == "18:60,6:15,60:15,6:15"
    with pytest.raises(ValueError):
        parse_stages("0:10")


def _record(
    t: float,
    ms: float,
    xcache: str | None,
    rank: int = 0,
    status: int = 200,
    key: str = "k",
    tags: str = "q:all,q:unfiltered",
    url: str = "u",
) -> list:
    return [t, ms, status, xcache, "l1" if xcache == "HIT" else "database", None, "search", rank,
            status >= 400, key, tags, url]  # fmt: skip


def test_shoppers_step_at_exponential_gaps_and_never_in_the_past() -> None:
    rng = random.Random(7)
    planned, starts = 0.0, []
    for _ in range(4000):
        planned = next_step_at(planned, 0.0, rng, rate=2.0)
        starts.append(planned)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert statistics.fmean(gaps) == pytest.approx(0.5, rel=0.05)
    # Exponential, not fixed: as spread as they are long, and about 1 - 1/e of them under the mean.
    assert statistics.stdev(gaps) == pytest.approx(0.5, rel=0.1)
    assert sum(g < 0.5 for g in gaps) / len(gaps) == pytest.approx(0.632, abs=0.03)
    # A step that overran its gap starts the next one now, not at a moment already gone.
    assert next_step_at(10.0, 50.0, rng) == 50.0
    # Two shoppers that start together drift apart at once.
    a, b = random.Random(1), random.Random(2)
    assert next_step_at(0.0, 0.0, a) != next_step_at(0.0, 0.0, b)


def test_summary_splits_phases_and_counts_hits_errors_and_tiers() -> None:
    args = {"warm_s": 1.0, "normal_s": 2.0, "spike_s": 2.0}
    records = [_record(0.5, 999, "MISS")]  # warm-up: left out
    records += [_record(1.5, 10, "HIT"), _record(2.5, 20, "MISS", rank=500)]  # normal
    records += [_record(3.5, 30 + i, "HIT") for i in range(9)] + [_record(4.0, 80, None, 0, 503)]
    records += [_record(5.5, 5, "HIT")]  # after
    target = {
        "target": "origin", "description": "d", "records": records, "wall_s": 10.0,
        "metrics_delta": {
            'vsearch_cache_requests_total{result="hit",tier="l1"}': 11.0,
            "vsearch_db_searches_total": 2.0,
            "vsearch_db_pool_acquire_seconds_sum": 0.01,
            "vsearch_db_pool_acquire_seconds_count": 2.0,
        },
        "cpu_s": {"origin": 5.0}, "loadavg_before": [1.0, 0, 0], "loadavg_after": [2.0, 0, 0],
    }  # fmt: skip
    summary = load_report.summarise_target(target, args)
    assert summary["phases"]["normal"]["requests"] == 2
    assert summary["phases"]["spike"]["requests"] == 10
    assert summary["phases"]["spike"]["errors"] == 1
    assert summary["phases"]["spike"]["max"] == 80
    assert summary["phases"]["after"]["requests"] == 1
    assert summary["hit_rate"] == round(11 / 13, 4)
    assert summary["popular_hit_rate"] == round(11 / 12, 4)  # rank 500 is not popular
    assert summary["no_db_share"] == round(1 - 2 / 14, 4)  # /metrics include the warm-up
    assert summary["origin_tiers"] == {"l1 hit": 11}
    assert summary["pool_wait_mean_ms"] == 5.0
    assert summary["cpu_pct"] == {"origin": 50.0}
    page = render_markdown(
        {"when": "now", "machine": {"cpu": "x", "cores": 2, "memory": "1", "python": "3.11"},
         "args": {**args, "users": 1, "spike_factor": 10, "seed": 1, "intents": 10},
         "targets": [summary]}, Path("img/spike.png"),
    )  # fmt: skip
    assert "spike p95 < 100 ms with zero errors: **NOT met**" in page
    assert "![p95 latency per second across the spike](img/spike.png)" in page


def test_nginx_hits_come_from_its_own_header() -> None:
    hit = [0.0, 1.0, 200, "MISS", "database", "HIT", "search", 0, False, "k", "", "u"]
    miss = [0.0, 1.0, 200, "MISS", "database", "MISS", "search", 0, False, "k", "", "u"]
    assert load_report.is_hit("nginx", hit) and not load_report.is_hit("nginx", miss)
    assert not load_report.is_hit("origin", hit)
    revalidating = [0.0, 2.0, 200, "STALE", "cache", None, "search", 1, False]
    assert load_report.is_hit("edge", revalidating)  # served from the cache, refreshed behind


def _write(t: float, key: str) -> list:
    return [t, 5.0, 200, None, None, None, "write", -1, False, key, None, None]


def test_misses_are_split_into_compulsory_in_flight_and_avoidable_causes() -> None:
    suv, sedan = "q:all,body:suv", "q:all,body:sedan"
    records = [
        _record(0.0, 100, "MISS", key="a", tags=suv),  # warm-up: first ask of a
        _record(0.5, 10, "MISS", key="b", tags=sedan),  # warm-up: first ask of b
        _record(1.0, 10, "MISS", key="c", rank=500),  # scored: first ask of c (compulsory)
        _record(1.1, 900, "MISS", key="d"),  # compulsory; its answer arrives at 2.0 s
        _record(1.5, 10, "MISS", key="d"),  # d still being answered: in flight
        _record(2.5, 5, "HIT", key="a", tags=suv),  # a repeat that hits
        _write(3.0, "price:7"),  # its listing is an SUV: purges body:suv
        _record(4.0, 10, "MISS", key="a", tags=suv),  # coarse purge
        _record(4.5, 10, "MISS", key="b", tags=sedan),  # a write since, not its tags
        _record(40.0, 10, "MISS", key="b", tags=sedan),  # nothing written since: no_write
    ]
    out = load_report.miss_causes("origin", records, 1.0, {"price:7": ["q:unfiltered", "body:suv"]})
    assert out is not None
    assert out["misses"]["all"] == {"compulsory": 2, "in_flight": 1, "new_spelling": 0,
                                    "coarse_purge": 1, "other_write": 1, "no_write": 1}  # fmt: skip
    assert out["all"]["reads"] == 7 and out["all"]["hit_rate"] == round(1 / 7, 4)
    assert out["all"]["compulsory_share"] == round(2 / 7, 4)
    assert out["all"]["repeat_hit_rate"] == round(1 / 5, 4)
    assert out["popular"]["reads"] == 6  # rank 500 is not popular
    assert out["misses"]["popular"]["compulsory"] == 1


def test_a_url_keyed_cache_misses_new_spellings_of_a_seen_key() -> None:
    records = [_record(0.0, 10, "MISS", key="a", url="u1"), _record(1.0, 10, "MISS", key="a",
               url="u2"), _record(2.0, 10, "MISS", key="a", url="u2")]  # fmt: skip
    nginx_out = load_report.miss_causes("nginx", records, 0.5, {})
    origin_out = load_report.miss_causes("origin", records, 0.5, {})
    assert nginx_out is not None and origin_out is not None
    assert nginx_out["misses"]["all"]["new_spelling"] == 1
    assert nginx_out["misses"]["all"]["no_write"] == 1
    assert origin_out["misses"]["all"]["no_write"] == 2  # one key, however spelled


def test_records_of_older_runs_without_keys_give_no_miss_split() -> None:
    assert load_report.miss_causes("origin", [[0.0, 1.0, 200, "HIT", "l1", None, "search", 0,
                                               False]], 0.0, {}) is None  # fmt: skip


def test_vsearch_bench_load_hands_its_options_to_the_load_test(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from origin import cli
    from origin.bench import load

    calls: list[tuple[list[str], str | None]] = []

    def fake_main(argv: list[str], prog: str | None = None) -> int:
        calls.append((list(argv), prog))
        return 7

    monkeypatch.setattr(load, "main", fake_main)
    assert cli.main(["bench", "load", "--targets", "origin", "--spike-s", "5"]) == 7
    assert calls == [(["--targets", "origin", "--spike-s", "5"], "vsearch bench load")]
    parsed = load.build_parser("vsearch bench load").parse_args(["--targets", "origin"])
    assert parsed.targets == "origin" and parsed.warm_users == 18


def test_the_report_expects_the_coarse_tags_the_purger_sends() -> None:
    listing = {"id": 7, "status": "active", "make": "Toyota", "model": "RAV4", "body": "suv",
               "price": 30_000, "mileage": 20_000, "year": 2021}  # fmt: skip
    requests = [
        Request("write", vehicle=7, write="price", patch={"price": 28_000}),
        Request("write", vehicle=7, write="sale", patch={"status": "sold"}),
        Request("write", vehicle=900_001, write="new", template=7, patch={"price": 25_000}),
        Request("write", vehicle=8, write="price", patch={"price": 1}),  # unknown: no tags
    ]
    tags = write_tags(requests, {7: listing})
    assert tags["price:7"] == ["price|q:unfiltered", "price|model:rav4", "price|make:toyota",
                               "price|body:suv"]  # fmt: skip
    assert tags["sale:7"] == []
    assert tags["new:900001"] == ["q:unfiltered", "model:rav4", "make:toyota", "body:suv"]
    assert tags["price:8"] == []
