"""Fixtures of the cache tests: a clean real Redis per test, origins wired to it (several may
share it), and the tier stack built directly for concurrency tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient

from origin.settings import Settings

ClientFactory = Callable[..., TestClient]


@pytest.fixture
def redis_clean(redis_server: Any) -> Iterator[Any]:
    """The session's redis-server, running and empty; running again after the test."""
    if redis_server.process is None:
        redis_server.start()
    with redis.Redis.from_url(redis_server.url) as client:
        client.flushdb()
    yield redis_server
    if redis_server.process is None:
        redis_server.start()


@pytest.fixture
def cached_settings(settings: Settings, redis_clean: Any) -> Settings:
    return replace(settings, redis_url=redis_clean.url, popular_threshold=3)


@pytest.fixture
def make_cached_client(
    cached_settings: Settings, inventory: Any, embedder: Any
) -> Iterator[ClientFactory]:
    """Builds origin instances sharing the test's Redis; `**overrides` change their settings."""
    from origin.app import create_app

    with contextlib.ExitStack() as stack:

        def make(**overrides: Any) -> TestClient:
            settings = replace(cached_settings, **overrides)
            app = create_app(settings, embed=embedder.embed_query)
            client = stack.enter_context(TestClient(app))
            # Cross-instance invalidation needs the subscriber in place before the test purges.
            invalidator = app.state.tiers.invalidator

            async def subscribed() -> None:
                await asyncio.wait_for(invalidator.subscribed.wait(), 5)

            assert client.portal is not None
            client.portal.call(subscribed)
            return client

        yield make


@pytest.fixture
def cached_client(make_cached_client: ClientFactory) -> TestClient:
    return make_cached_client()


@pytest.fixture
async def service(cached_settings: Settings, inventory: Any, embedder: Any) -> AsyncIterator[Any]:
    """A SearchService on its own pool, for tests that drive the tiers without HTTP."""
    from origin.db.pool import create_pool
    from origin.search.service import SearchService

    assert cached_settings.database_url is not None
    pool = await create_pool(cached_settings.database_url, cached_settings)
    try:
        yield SearchService(pool, embedder.embed_query, cached_settings)
    finally:
        await pool.close()
