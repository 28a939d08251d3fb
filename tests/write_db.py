"""A private copy of the test inventory for tests that write (inventory API, purger): the shared
`vsearch_test` database stays read-only for the relevance tests that count its matches."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

WRITE_DB = "vsearch_write_test"
# The tables a search needs; the HNSW index is left out (at 3,000 rows a scan is exact and fast).
_COPIED = ("zips", "text_embeddings", "vehicles")
_VEHICLE_COPY_COLUMNS = (
    "id", "make", "model", "make_name", "model_name", "year", "price", "mileage", "body", "fuel",
    "drivetrain", "transmission", "color", "condition", "zip", "lat", "lon", "city", "state",
    "region", "dealer", "title", "description", "embed_text", "embedding", "status",
)  # fmt: skip


def with_database(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{name}"))


async def _create(source_dsn: str, name: str) -> str:
    target = with_database(source_dsn, name)
    admin = await asyncpg.connect(with_database(source_dsn, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    from origin.db.migrate import migrate

    src, dst = await asyncpg.connect(source_dsn), await asyncpg.connect(target)
    try:
        await migrate(dst)
        for table in _COPIED:
            columns = _VEHICLE_COPY_COLUMNS if table == "vehicles" else None
            buffer = io.BytesIO()
            await src.copy_from_table(table, output=buffer, columns=columns, format="binary")
            buffer.seek(0)
            await dst.copy_to_table(table, source=buffer, columns=columns, format="binary")
        await dst.execute("VACUUM ANALYZE")
    finally:
        await src.close()
        await dst.close()
    return target


def create_database_copy(source_dsn: str, name: str) -> str:
    """Drop and recreate `name` as a copy of the inventory; its DSN."""
    return asyncio.run(_create(source_dsn, name))


def create_write_database(source_dsn: str) -> str:
    """Drop and recreate the write tests' copy (a clean outbox each session); its DSN."""
    return create_database_copy(source_dsn, WRITE_DB)


def drop_database(source_dsn: str, name: str) -> None:
    async def drop() -> None:
        admin = await asyncpg.connect(with_database(source_dsn, "postgres"))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    asyncio.run(drop())


async def _fetch(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def fetch(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """One query from synchronous test code."""
    return asyncio.run(_fetch(dsn, sql, *args))


def wait_done(dsn: str, event_ids: Sequence[int], timeout_s: float = 15.0) -> float:
    """Wait until every event is done; seconds from the first event's commit to the last done."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = fetch(
            dsn,
            "SELECT id, done_at, created_at, last_error FROM purge_outbox WHERE id = ANY($1)",
            list(event_ids),
        )
        if len(rows) == len(set(event_ids)) and all(r["done_at"] for r in rows):
            return max((r["done_at"] - r["created_at"]).total_seconds() for r in rows)
        if time.monotonic() > deadline:
            raise AssertionError(f"purge events not done: {[dict(r) for r in rows]}")
        time.sleep(0.05)


def pending_count(dsn: str) -> int:
    return int(fetch(dsn, "SELECT count(*) AS n FROM purge_outbox WHERE done_at IS NULL")[0]["n"])


_FACET_KEY = "make, model, body, fuel, drivetrain, year, price_floor, at_floor"
# Keys of `facet_counts` whose count differs from a count of the listings (zero rows count as
# absent); the listings' key is computed here, independently of the migration's function.
FACET_COUNT_DRIFT_SQL = (
    f"SELECT * FROM (SELECT {_FACET_KEY}, n FROM facet_counts WHERE n <> 0) kept "
    "FULL JOIN (SELECT make, model, body, fuel, drivetrain, year, "
    "least(price - price % 5000, 100000) AS price_floor, "
    "price = least(price - price % 5000, 100000) AS at_floor, count(*)::int AS n "
    "FROM vehicles WHERE status = 'active' GROUP BY 1, 2, 3, 4, 5, 6, 7, 8) counted "
    f"USING ({_FACET_KEY}) WHERE kept.n IS DISTINCT FROM counted.n"
)
