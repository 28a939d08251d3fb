"""Facets (counts by filter set) behind their 30 s cache: an expired entry answers at once while
one background task refreshes it; concurrent searches with the same filters share one query."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from prometheus_client import REGISTRY
from vsearch_query import parse_search

from origin.search import service as module

STALE_MARK = {"total": -1}


def _age(service: Any, key: str, seconds: float) -> None:
    """Make the cached facets of `key` STALE_MARK, computed `seconds` ago (so expired)."""
    now = time.monotonic()
    service._facets_cache.put(key, (now - 0.001, STALE_MARK, now - seconds))


async def _refreshed(service: Any, key: str) -> Any:
    for _ in range(250):  # bounded: the refresh is one facets query
        if service._facets_cache.get(key)[1] != STALE_MARK:
            break
        await asyncio.sleep(0.02)
    return service._facets_cache.get(key)[1]


async def test_expired_facets_answer_at_once_and_are_refreshed_in_the_background(
    service: Any,
) -> None:
    query = parse_search("q=family+suv&body=suv&price_max=31000")
    first = await service.search(query)
    assert first.timings.facets_ms > 0
    key = module.filters_key(query)
    _age(service, key, module.FACETS_TTL_S + 1)  # within the stale window
    other_text = await service.search(parse_search("q=quiet+suv&body=suv&price_max=31000"))
    assert other_text.body["facets"] == STALE_MARK  # the old counts, not waited for
    assert other_text.timings.facets_ms == 0
    assert await _refreshed(service, key) == first.body["facets"]


async def test_facets_past_the_stale_window_are_computed_before_answering(service: Any) -> None:
    query = parse_search("q=roomy+minivan&body=minivan")
    first = await service.search(query)
    key = module.filters_key(query)
    _age(service, key, module.FACETS_TTL_S + module.FACETS_STALE_S + 1)
    again = await service.search(parse_search("q=cheap+minivan&body=minivan"))
    assert again.body["facets"] == first.body["facets"]
    assert again.timings.facets_ms > 0


async def test_concurrent_searches_with_the_same_filters_share_one_facets_query(
    service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0

    def counted(real: Any) -> Any:
        async def counting(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.05)  # long enough for the others to arrive while it runs
            return await real(*args, **kwargs)

        return counting

    # From the listings or from facet_counts, whichever the filters need.
    for name in ("facets", "facets_from_counts"):
        monkeypatch.setattr(module.db, name, counted(getattr(module.db, name)))
    words = ("family", "cheap", "quiet", "safe")
    outcomes = await asyncio.gather(
        *(service.search(parse_search(f"q={w}&fuel=hybrid&drivetrain=awd")) for w in words)
    )
    assert calls == 1
    assert all(o.body["facets"] == outcomes[0].body["facets"] for o in outcomes)
    assert outcomes[0].body["facets"]["total"] >= 0


async def test_computed_facets_are_counted_by_source(service: Any) -> None:
    def computed(source: str) -> float:
        value = REGISTRY.get_sample_value("vsearch_facets_computed_total", {"source": source})
        return value or 0.0

    before = {source: computed(source) for source in ("counts", "listings")}
    await service.search(parse_search("q=metric+check&body=wagon&price_max=40000"))
    await service.search(parse_search("q=metric+check&body=wagon&color=green"))
    await service.search(parse_search("q=other+words&body=wagon&color=green"))  # cached facets
    assert computed("counts") - before["counts"] == 1
    assert computed("listings") - before["listings"] == 1
