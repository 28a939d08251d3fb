"""The load test's shopper workload: deterministic, one key per intent, Zipf-shaped."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from vsearch_query import cache_key, parse_search

from origin.bench import workload


def test_same_seed_gives_the_same_requests_and_another_seed_does_not() -> None:
    first = workload.generate(seed=3, count=3_000, n_intents=300)
    assert first == workload.generate(seed=3, count=3_000, n_intents=300)
    assert first != workload.generate(seed=4, count=3_000, n_intents=300)


def test_every_phrasing_of_an_intent_shares_one_cache_key_and_intents_differ() -> None:
    keys, distinct = set(), 0
    for rank, intent in enumerate(workload.intents(seed=11, count=600)):
        spellings = workload.phrasings(intent, f"11:phrasings:{rank}")
        intent_keys = {cache_key(parse_search(query)) for query in spellings}
        assert len(intent_keys) == 1, (intent, spellings)
        keys |= intent_keys
        distinct += len(set(spellings))
    assert len(keys) == 600
    assert distinct / 600 > 8  # many phrasings per intent (one-word intents have fewer)


def test_tracking_parameters_and_explicit_filters_do_not_change_the_key() -> None:
    requests = workload.generate(seed=5, count=4_000, n_intents=200)
    by_rank: dict[int, set[str]] = {}
    tracked = explicit = 0
    for request in requests:
        if request.kind == "search" and request.rank >= 0:
            by_rank.setdefault(request.rank, set()).add(cache_key(parse_search(request.query)))
            tracked += "fbclid=" in request.query or "utm_source=" in request.query
            explicit += "price_max=" in request.query or "body=" in request.query
    assert all(len(keys) == 1 for keys in by_rank.values())
    assert tracked > 500 and explicit > 200


def test_popularity_follows_zipf_with_exponent_one() -> None:
    requests = workload.generate(seed=9, count=60_000, n_intents=1_000)
    counts = Counter(r.rank for r in requests if r.kind == "search" and r.rank >= 0)
    top = [counts[rank] for rank in range(50)]
    # Least-squares slope of log(count) against log(rank + 1): -s for a Zipf law.
    xs = [math.log(rank + 1) for rank in range(50)]
    ys = [math.log(c) for c in top]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
    assert -1.15 < slope < -0.85
    harmonic = sum(1 / (r + 1) for r in range(1_000))
    assert abs(top[0] / sum(counts.values()) - 1 / harmonic) < 0.01


def test_mix_has_tail_pages_and_writes_in_the_configured_shares() -> None:
    requests = workload.generate(seed=1, count=20_000, n_intents=300)
    kinds = Counter(r.kind for r in requests)
    tail = [r for r in requests if r.kind == "search" and r.rank == -1]
    assert 0.003 < kinds["write"] / len(requests) < 0.008
    assert 0.06 < len(tail) / len(requests) < 0.10
    assert len({cache_key(parse_search(r.query)) for r in tail}) == len(tail)  # all unique
    assert 0.12 < sum(r.pages > 0 for r in requests) / len(requests) < 0.18
    writes = [r for r in requests if r.kind == "write"]
    by_kind = Counter(r.write for r in writes)
    assert set(by_kind) == {"price", "sale", "new"}
    assert by_kind["price"] > by_kind["sale"] > 0 and by_kind["new"] > 0
    assert all(r.patch and set(r.patch) == {"price"} for r in writes if r.write == "price")
    assert all(r.patch == {"status": "sold"} for r in writes if r.write == "sale")
    new = [r for r in writes if r.write == "new"]
    assert all(r.vehicle >= workload.NEW_LISTING_IDS and 1 <= r.template <= 100_000 for r in new)
    assert all(r.patch and set(r.patch) == {"price", "mileage", "year"} for r in new)


def test_new_listings_take_their_templates_fields_and_are_not_snapshotted() -> None:
    requests = workload.generate(seed=1, count=20_000, n_intents=300)
    new = [r for r in requests if r.write == "new"]
    template = {"make": "toyota", "model": "camry", "body": "sedan", "fuel": "gasoline",
                "drivetrain": "fwd", "transmission": "automatic", "color": "white",
                "condition": "used", "zip": "90720", "dealer": "d", "description": "x",
                "price": 1, "id": 5, "status": "sold"}  # fmt: skip
    filled = workload.with_listings(requests, {r.template: template for r in new})
    bodies = [r.patch for r in filled if r.write == "new"]
    assert bodies and all(b is not None and b["make"] == "toyota" for b in bodies)
    assert all(b is not None and "id" not in b and "status" not in b for b in bodies)
    assert [b and b["price"] for b in bodies] == [r.patch and r.patch["price"] for r in new]
    assert [r for r in filled if r.write != "new"] == [r for r in requests if r.write != "new"]
    assert not set(workload.written_vehicles(requests)) & set(workload.new_listings(requests))
    assert workload.new_listings(requests) == sorted({r.vehicle for r in new})


def test_jsonl_round_trip(tmp_path: Path) -> None:
    requests = workload.generate(seed=2, count=500, n_intents=100)
    path = tmp_path / "w.jsonl"
    workload.write_jsonl(requests, path)
    assert workload.read_jsonl(path) == requests
    changed = {r.vehicle for r in requests if r.patch and r.write != "new"}
    assert workload.written_vehicles(requests) == sorted(changed)
