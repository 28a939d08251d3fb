"""The edge's counts on the dashboard: data points by (X-Cache, layer) become per-layer counters,
a missed reading never becomes one huge second, and an edge that fails reads as None."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from json_fake import JsonFake

from origin.dashboard.edge import edge_deltas, layer_field, parse_counts, read_counts
from origin.dashboard.sample import point


def test_each_answer_counts_in_its_layer() -> None:
    assert layer_field("HIT", "kv") == "edge_kv"
    assert layer_field("HIT", "cache") == "edge_cache"
    assert layer_field("STALE", "kv") == layer_field("STALE", "cache") == "edge_stale"
    assert layer_field("MISS", "origin") == "edge_miss"
    assert layer_field("-", "-") is None  # the shopper page, a rejected request


def test_counts_become_running_totals_per_layer() -> None:
    body = {
        "since": "2026-01-01T00:00:00Z",
        "points": 19,
        "counts": {"HIT/kv": 3, "HIT/cache": 5, "STALE/cache": 1, "STALE/kv": 1, "MISS/origin": 7,
                   "-/-": 2},
    }  # fmt: skip
    assert parse_counts(body) == {
        "edge_kv": 3.0,
        "edge_cache": 5.0,
        "edge_stale": 2.0,
        "edge_miss": 7.0,
    }
    assert parse_counts({"counts": {}}) == dict.fromkeys(
        ("edge_kv", "edge_cache", "edge_stale", "edge_miss"), 0.0
    )


@pytest.mark.parametrize("body", [[], {}, {"counts": []}, {"counts": {"HIT/kv": "3"}}])
def test_a_body_of_another_shape_is_refused(body: object) -> None:
    with pytest.raises(ValueError):
        parse_counts(body)


def test_deltas_need_two_readings_and_count_one_reading_per_instance() -> None:
    before = {"edge_kv": 10.0, "edge_cache": 4.0, "edge_stale": 0.0, "edge_miss": 6.0}
    after = {"edge_kv": 13.0, "edge_cache": 4.0, "edge_stale": 1.0, "edge_miss": 6.0}
    assert edge_deltas(before, after) == {"edge_kv": 3.0, "edge_stale": 1.0, "edge_seconds": 1.0}
    assert edge_deltas(None, after) == {}  # after a failed read: a new baseline, not 13 at once
    assert edge_deltas(before, None) == {}
    # The edge restarted: its totals start again from zero.
    assert edge_deltas(after, {**after, "edge_kv": 2.0})["edge_kv"] == 2.0


def test_the_chart_divides_by_how_many_instances_read_the_same_edge() -> None:
    # Two instances each added the same second of the edge: 6 KV, 2 cache, 0 stale, 2 miss.
    fields = {"instance_seconds": 2.0, "edge_seconds": 2.0, "edge_kv": 12.0, "edge_cache": 4.0,
              "edge_miss": 4.0}  # fmt: skip
    p = point(100, fields, 1)
    assert p["edge_rps"] == 10.0
    assert (p["hit_edge_kv"], p["hit_edge_cache"], p["edge_stale"], p["edge_miss"]) == (
        0.6,
        0.2,
        0.0,
        0.2,
    )
    minute = point(60, {**fields, "edge_seconds": 120.0}, 60)  # 60 s x 2 instances
    assert minute["edge_rps"] == pytest.approx(20 / 120, abs=0.01)
    quiet = point(100, {"instance_seconds": 1.0, "edge_seconds": 1.0}, 1)
    assert quiet["edge_rps"] == 0 and quiet["hit_edge_kv"] is None
    unread = point(100, {"instance_seconds": 1.0}, 1)  # no edge configured, or it was down
    assert unread["edge_rps"] is None and unread["edge_miss"] is None


@pytest.fixture
def fake_edge() -> Iterator[JsonFake]:
    fake = JsonFake({"/__local/counts": (200, {"counts": {"HIT/kv": 4, "MISS/origin": 1}})})
    yield fake
    fake.stop()


async def test_read_counts_sends_the_token_and_parses(fake_edge: JsonFake) -> None:
    async with httpx.AsyncClient() as client:
        fields = await read_counts(client, fake_edge.url + "/", "edge-secret")
    assert fields is not None and fields["edge_kv"] == 4.0 and fields["edge_miss"] == 1.0
    path, headers = fake_edge.requests[-1]
    assert path == "/__local/counts" and headers["authorization"] == "Bearer edge-secret"


async def test_read_counts_is_none_when_the_edge_fails(fake_edge: JsonFake) -> None:
    async with httpx.AsyncClient() as client:
        fake_edge.answers["/__local/counts"] = (401, {"error": {}})
        assert await read_counts(client, fake_edge.url, "wrong") is None
        fake_edge.answers["/__local/counts"] = (200, b"not json")
        assert await read_counts(client, fake_edge.url, "t") is None
        fake_edge.answers["/__local/counts"] = (200, {"counts": {}})
        fake_edge.delay_s = 1.0  # past the 0.3 s budget
        assert await read_counts(client, fake_edge.url, "t") is None
        fake_edge.delay_s = 0.0
        fake_edge.stop()
        assert await read_counts(client, fake_edge.url, "t") is None  # connection refused
        assert await read_counts(client, "http://[::1", "t") is None  # a misconfigured URL
