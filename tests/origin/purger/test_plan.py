"""The purger's pure decisions: tags per change, batching, backoff, and the plan's token bucket."""

from __future__ import annotations

import random

import pytest
from vsearch_query import attribute_tags, listing_tags

from origin.purger.cloudflare import TokenBucket, retry_after_s
from origin.purger.plan import (
    BACKOFF_CAP_S,
    WriteTags,
    backoff_s,
    chunks,
    merge_write_tags,
    write_tags,
)

LISTING = {"status": "active", "make": "honda", "model": "cr-v", "dealer": "d1", "color": "red",
           "body": "suv", "fuel": "hybrid", "drivetrain": "awd", "transmission": "cvt",
           "price": 27_500, "mileage": 40_000, "year": 2019, "zip": "80202", "lat": 39.75,
           "lon": -104.99, "title": "2019 Honda CR-V", "description": "One owner.",
           "embed_text": "Honda CR-V SUV, hybrid, AWD. One owner.",
           "condition": "used"}  # fmt: skip


def test_a_sold_or_deleted_vehicle_purges_only_its_own_tag() -> None:
    assert write_tags(7, LISTING, {**LISTING, "status": "sold"}) == WriteTags(("v:7",), ())
    assert write_tags(7, LISTING, None) == WriteTags(("v:7",), ())


def test_a_new_or_reactivated_listing_also_purges_its_coarse_query_tags() -> None:
    expected = WriteTags(("v:7",), listing_tags(LISTING))
    assert write_tags(7, None, LISTING) == expected
    assert write_tags(7, {**LISTING, "status": "sold"}, LISTING) == expected
    # Sold at one price, back at a lower one: it may appear in any search it matches.
    assert write_tags(7, {**LISTING, "status": "sold", "price": 30_000}, LISTING) == expected
    assert "q:unfiltered" in expected.coarse and "model:cr-v" in expected.coarse


def test_a_price_change_purges_only_the_price_scoped_coarse_tags() -> None:
    tags = write_tags(7, LISTING, {**LISTING, "price": 25_000})
    assert tags.now == ("v:7",)
    assert tags.coarse == attribute_tags(LISTING, ["price"])
    assert "price|body:suv" in tags.coarse and "price|q:unfiltered" in tags.coarse
    assert all(t.startswith("price|") for t in tags.coarse)


def test_scoped_changes_scope_each_changed_attribute_and_no_other() -> None:
    changed = {**LISTING, "mileage": 41_000, "year": 2020}
    assert write_tags(7, LISTING, changed).coarse == attribute_tags(LISTING, ["mileage", "year"])
    three = {**LISTING, "price": 1, "mileage": 2, "year": 2021}
    assert write_tags(7, LISTING, three).coarse == attribute_tags(
        LISTING, ["price", "mileage", "year"]
    )


@pytest.mark.parametrize(
    "change",
    [
        {"price": 25_000, "body": "pickup"},
        {"price": 25_000, "make": "toyota"},
        {"year": 2020, "title": "2020 Honda CR-V"},  # the title feeds the keyword fallback
        {"price": 25_000, "description": "Two owners."},
        {"embed_text": "Honda CR-V SUV, hybrid, AWD."},
        {"zip": "10001", "lat": 40.75, "lon": -73.99},
        {"color": "blue"},
        {"dealer": "d2"},
        {"price": 25_000, "some_new_column": "x"},  # unknown: never assumed harmless
        {},  # nothing changed: nothing to reason about, so the conservative answer
    ],
    ids=lambda c: ",".join(c) or "nothing",
)
def test_any_other_change_of_an_active_listing_keeps_the_full_coarse_purge(
    change: dict[str, object],
) -> None:
    new = {**LISTING, **change}
    assert write_tags(7, LISTING, new) == WriteTags(("v:7",), listing_tags(new))


def test_a_field_missing_on_one_side_counts_as_changed() -> None:
    old = {k: v for k, v in LISTING.items() if k != "description"}
    assert write_tags(7, old, {**LISTING, "price": 1}).coarse == listing_tags(LISTING)


def test_a_bulk_write_merges_tags_once_each() -> None:
    merged = merge_write_tags([write_tags(1, None, LISTING), write_tags(2, None, LISTING)])
    assert merged.now == ("v:1", "v:2")
    assert sorted(merged.coarse) == sorted(listing_tags(LISTING))


def test_chunks_of_at_most_100() -> None:
    tags = [f"v:{i}" for i in range(250)]
    assert [len(c) for c in chunks(tags, 100)] == [100, 100, 50]
    assert [t for c in chunks(tags, 100) for t in c] == tags


def test_backoff_grows_with_jitter_caps_and_honours_retry_after() -> None:
    rng = random.Random(1)
    for attempts, low, high in [(1, 0.5, 1.0), (2, 1.0, 2.0), (5, 8.0, 16.0)]:
        assert all(low <= backoff_s(attempts, rng=rng) <= high for _ in range(50))
    assert backoff_s(40, rng=rng) <= BACKOFF_CAP_S
    assert backoff_s(1, retry_after_s=42, rng=rng) == 42


def test_retry_after_reads_seconds_or_a_date() -> None:
    assert retry_after_s({"retry-after": "30"}) == 30
    assert retry_after_s({}) is None
    assert retry_after_s({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after_s({"retry-after": "soon"}) is None


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("plan", "burst", "per_s"),
    [("free", 25, 5 / 60), ("pro", 25, 5), ("business", 50, 10), ("enterprise", 500, 50)],
)
def test_the_token_bucket_follows_the_plan(plan: str, burst: int, per_s: float) -> None:
    clock = Clock()
    bucket = TokenBucket.for_plan(plan)
    bucket.clock, bucket.updated = clock, 0.0
    for _ in range(burst):
        assert bucket.wait_s() == 0
        bucket.tokens -= 1
    assert bucket.wait_s() == pytest.approx(1 / per_s)
    clock.now = 1 / per_s
    assert bucket.wait_s() == 0


def test_a_429_pauses_the_bucket_until_retry_after() -> None:
    clock = Clock()
    bucket = TokenBucket(50, 500, clock=clock)
    bucket.pause(3)
    assert bucket.wait_s() == pytest.approx(3)
    clock.now = 3
    assert bucket.wait_s() == 0  # 3 s at 50/s refilled the bucket


def test_an_unknown_plan_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown Cloudflare plan"):
        TokenBucket.for_plan("platinum")
