"""Session fixtures: a real PostgreSQL + pgvector (embedded, or VSEARCH_TEST_DATABASE_URL),
a small deterministic inventory with real embeddings, and in-process clients of the origin."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from starlette.testclient import TestClient

from origin.settings import Settings, load_settings

TEST_VEHICLES = 3_000
TEST_SEED = 7
TEST_DB = "vsearch_test"


def _with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _ensure_database(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def database_url() -> str:
    """A database on a real server; kept between runs so the seed (and its embeddings) is reused."""
    external = os.environ.get("VSEARCH_TEST_DATABASE_URL")
    if external:
        return external
    from origin.db.embedded import start_embedded

    admin = start_embedded(load_settings({}).pgdata)
    asyncio.run(_ensure_database(admin, TEST_DB))
    return _with_database(admin, TEST_DB)


@pytest.fixture(scope="session")
def embedder() -> Any:
    from origin.search.embedder import Embedder

    return Embedder(threads=1)


@dataclass(frozen=True)
class Inventory:
    vehicles: list[Any]
    by_id: dict[int, Any]


@pytest.fixture(scope="session")
def inventory(database_url: str, embedder: Any) -> Inventory:
    from origin.catalog.build import catalog_digest, load_catalog
    from origin.catalog.inventory import generate_vehicles
    from origin.inventory.seed import seed_inventory, signature
    from origin.search.embedder import MODEL_ID, default_parallelism, embed_corpus

    catalog = load_catalog()
    fleet = list(generate_vehicles(TEST_VEHICLES, TEST_SEED, catalog))
    processes, _ = default_parallelism()
    asyncio.run(
        seed_inventory(
            database_url,
            vehicles=fleet,
            zips=catalog.zips,
            sig=signature(TEST_VEHICLES, TEST_SEED, catalog_digest(), MODEL_ID),
            model_id=MODEL_ID,
            embed_corpus=lambda texts, report: embed_corpus(
                embedder, texts, progress=report, processes=processes
            ),
        )
    )
    return Inventory(fleet, {v.id: v for v in fleet})


def make_settings(database_url: str, **overrides: Any) -> Settings:
    # Low exact thresholds so the small test inventory (2,331 texts) exercises every path: its
    # suvs, sedans and pickups (400-1,100 texts) go to HNSW.
    values: dict[str, Any] = {
        "exact_max_rows": 300,
        "exact_max_texts": 200,
        "vector_budget_ms": 5_000,
    }
    values.update(overrides)
    return load_settings({}, database_url=database_url, **values)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture(scope="session")
def client(settings: Settings, inventory: Inventory, embedder: Any) -> Iterator[TestClient]:
    from origin.app import create_app

    with TestClient(create_app(settings, embed=embedder.embed_query)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def exact_client(database_url: str, inventory: Inventory, embedder: Any) -> Iterator[TestClient]:
    """The same origin forced to exact search: the ground truth for recall."""
    from origin.app import create_app

    exact = make_settings(database_url, exact_max_rows=10**9)
    with TestClient(create_app(exact, embed=embedder.embed_query)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real redis-server on a free port (installed by scripts/setup); `.url`, `.stop()`,
    `.start()` let tests take it away and bring it back."""
    from servers import RedisProcess

    server = RedisProcess(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: Any) -> str:
    return str(redis_server.url)
