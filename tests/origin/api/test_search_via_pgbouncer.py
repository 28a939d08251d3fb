"""The search API tests once more, with the origin behind a real pgbouncer in transaction mode
(as behind Supabase's pooler): configured only through the environment an operator would set."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import asyncpg
import pytest
from pgbouncer import PgBouncerProcess
from starlette.testclient import TestClient

# Collected here again, so every one of them runs against this module's `client`.
from test_search_api import *  # noqa: F403

from origin.db.pool import create_pool
from origin.settings import Settings, SettingsError, load_settings


@pytest.fixture(scope="module")
def bouncer(database_url: str) -> Iterator[Any]:
    server = PgBouncerProcess(database_url)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pooled_settings(bouncer: Any, database_url: str) -> Settings:
    environ = {
        "DATABASE_URL": bouncer.url,
        "VSEARCH_STATEMENT_CACHE_SIZE": "0",
        "VSEARCH_TRANSACTION_POOLER": "1",
        "VSEARCH_DIRECT_DATABASE_URL": database_url,
    }
    # The rest as the other API tests run it (low exact thresholds exercise HNSW too).
    return load_settings(environ, exact_max_rows=300, exact_max_texts=200, vector_budget_ms=5_000)


@pytest.fixture(scope="module")
def client(pooled_settings: Settings, inventory: Any, embedder: Any) -> Iterator[TestClient]:
    from origin.app import create_app

    with TestClient(create_app(pooled_settings, embed=embedder.embed_query)) as test_client:
        yield test_client


def test_the_pool_really_goes_through_the_pooler(client: TestClient, bouncer: Any) -> None:
    client.get("/v1/search?q=red+pickup")
    log = bouncer.log.read_text()
    assert "login attempt: db=vsearch_test" in log
    assert "unsupported startup parameter" not in log


def test_a_transaction_pooler_needs_a_direct_url(database_url: str) -> None:
    with pytest.raises(SettingsError, match="VSEARCH_DIRECT_DATABASE_URL"):
        load_settings({"DATABASE_URL": database_url, "VSEARCH_TRANSACTION_POOLER": "1"})


def test_the_session_pool_settings_fail_behind_the_pooler(
    bouncer: Any, pooled_settings: Settings
) -> None:
    """Why the pooler mode exists: the default pool's startup parameters are refused."""

    async def connect() -> None:
        pool = await create_pool(bouncer.url, replace(pooled_settings, transaction_pooler=False))
        await pool.close()

    with pytest.raises(asyncpg.ProtocolViolationError, match="unsupported startup parameter"):
        asyncio.run(connect())
