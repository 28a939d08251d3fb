"""VSEARCH_CACHE_ENABLED=0: the origin keeps no result caches (the load test's baseline)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient

from origin.settings import Settings, SettingsError, load_settings


def test_cache_enabled_reads_booleans_and_refuses_other_values() -> None:
    assert load_settings({}).cache_enabled is True
    assert load_settings({"VSEARCH_CACHE_ENABLED": "0"}).cache_enabled is False
    assert load_settings({"VSEARCH_CACHE_ENABLED": "true"}).cache_enabled is True
    with pytest.raises(SettingsError, match="VSEARCH_CACHE_ENABLED"):
        load_settings({"VSEARCH_CACHE_ENABLED": "maybe"})


def test_with_caching_off_every_ask_searches_and_redis_stays_empty(
    cached_settings: Settings, redis_clean: Any, inventory: Any, embedder: Any
) -> None:
    from origin.app import create_app

    settings = replace(cached_settings, cache_enabled=False)
    with TestClient(create_app(settings, embed=embedder.embed_query)) as client:
        url = "/v1/search?q=family+suv&price_max=34500"
        for _ in range(3):
            response = client.get(url)
            assert response.status_code == 200, response.text
            assert (response.headers["x-cache"], response.headers["x-cache-layer"]) == (
                "MISS",
                "database",
            )
    with redis.Redis.from_url(redis_clean.url) as r:
        # Rate-limit counters (vs:rl:*) may live there; no cache entry, index or lock may.
        cache_keys = [k for k in r.scan_iter("vs:*") if not k.startswith(b"vs:rl:")]
        assert cache_keys == []
