"""edge_cache.py: Cache-Control reading, freshness windows, and both storage encodings."""

from __future__ import annotations

import pytest
from edge_cache import (
    MAX_CACHE_TAG_BYTES,
    Freshness,
    StoredResponse,
    cache_tag_header,
    cache_url,
    from_cache_entry,
    from_kv_value,
    kv_expiration_ttl,
    parse_cache_control,
    to_cache_headers,
    to_kv_value,
)

ENTRY = StoredResponse(
    body='{"results": []}', stored_at=1000.0, ttl=60, swr=30, sie=300, tags=("v:1", "q:all")
)


def test_cache_control_windows_are_read() -> None:
    policy = parse_cache_control(
        "public, max-age=60, stale-while-revalidate=30, stale-if-error=300"
    )
    assert (policy.ttl, policy.swr, policy.sie, policy.storable) == (60, 30, 300, True)


@pytest.mark.parametrize(
    "value", [None, "", "no-store", "private, max-age=60", "public, max-age=0", "no-cache"]
)
def test_unstorable_cache_control(value: str | None) -> None:
    assert not parse_cache_control(value).storable


def test_s_maxage_wins_and_defaults_fill_missing_windows() -> None:
    policy = parse_cache_control("max-age=5, s-maxage=90", default_swr=7, default_sie=8)
    assert (policy.ttl, policy.swr, policy.sie) == (90, 7, 8)


@pytest.mark.parametrize(
    ("age", "state"),
    [
        (0, Freshness.FRESH),
        (59.9, Freshness.FRESH),
        (60, Freshness.REVALIDATE),
        (89, Freshness.REVALIDATE),
        (90, Freshness.IF_ERROR),
        (359, Freshness.IF_ERROR),
        (360, Freshness.EXPIRED),
    ],
)
def test_freshness_by_age(age: float, state: Freshness) -> None:
    assert ENTRY.freshness(1000.0 + age) is state


def test_clock_skew_never_makes_an_entry_older() -> None:
    assert ENTRY.age(900.0) == 0
    assert ENTRY.remaining_s(1010.0) == 50


def test_kv_envelope_round_trips() -> None:
    assert from_kv_value(to_kv_value(ENTRY)) == ENTRY


@pytest.mark.parametrize("raw", [None, "", "not json", '{"v": 99, "body": "x"}', '{"v": 1}', "[]"])
def test_unreadable_kv_values_are_misses(raw: str | None) -> None:
    assert from_kv_value(raw) is None


def test_kv_ttl_is_never_below_sixty_and_covers_the_stale_window() -> None:
    assert kv_expiration_ttl(ENTRY) == 360
    short = StoredResponse(body="", stored_at=0.0, ttl=1)
    assert kv_expiration_ttl(short, min_ttl=10) == 60


def test_cache_api_headers_round_trip_and_keep_the_entry_for_its_stale_window() -> None:
    headers = to_cache_headers(ENTRY, "v:1,q:all")
    assert headers["cache-control"] == "public, max-age=360"
    assert headers["cache-tag"] == "v:1,q:all"
    assert from_cache_entry(headers.get, ENTRY.body) == ENTRY


def test_a_cache_entry_without_our_headers_is_ignored() -> None:
    assert from_cache_entry({"content-type": "application/json"}.get, "{}") is None
    assert from_cache_entry({"x-edge-stored-at": "x", "x-edge-ttl": "1"}.get, "{}") is None


def test_too_many_tags_means_no_tag_header() -> None:
    many = tuple(f"v:{i:08d}" for i in range(MAX_CACHE_TAG_BYTES // 8))
    assert cache_tag_header(many) is None
    assert cache_tag_header(("v:1", "v:2")) == "v:1,v:2"


def test_cache_url_is_synthetic() -> None:
    assert cache_url("v1:abc") == "https://vsearch-cache.internal/v1:abc"
