"""`facet_counts` holds the counts of the active listings, kept exact by the triggers through every
kind of write, and facets read from it equal facets counted from the listings for every filter
set it claims to answer."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from write_db import FACET_COUNT_DRIFT_SQL

from origin.db import vehicles as db
from origin.search.filters import GeoPoint, build_counts_where, build_where


def _run(database_url: str, work: Callable[[asyncpg.Connection], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        conn = await asyncpg.connect(database_url)
        try:
            return await work(conn)
        finally:
            await conn.close()

    return asyncio.run(main())


async def _drift(conn: asyncpg.Connection) -> list[Any]:
    return list(await conn.fetch(FACET_COUNT_DRIFT_SQL))


def test_counts_match_the_seeded_listings(database_url: str, inventory: Any) -> None:
    async def work(conn: asyncpg.Connection) -> tuple[int, list[Any]]:
        return await conn.fetchval("SELECT sum(n) FROM facet_counts"), await _drift(conn)

    total, drift = _run(database_url, work)
    assert total == len(inventory.vehicles)  # all seeded for sale
    assert drift == []


def test_counts_follow_every_kind_of_write(database_url: str, inventory: Any) -> None:
    async def work(conn: asyncpg.Connection) -> list[tuple[str, list[Any]]]:
        drifts = []
        transaction = conn.transaction()
        await transaction.start()
        try:  # rolled back: the test database stays as seeded
            ids = [r["id"] for r in await conn.fetch("SELECT id FROM vehicles ORDER BY id")]
            columns = [
                r["column_name"]
                for r in await conn.fetch(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = 'vehicles' AND is_generated = 'NEVER' "
                    "AND column_name <> 'id'"
                )
            ]
            writes = [
                ("insert", f"INSERT INTO vehicles (id, {', '.join(columns)}) SELECT id + 10000000, "
                 f"{', '.join(columns)} FROM vehicles WHERE id = ANY($1)", ids[:40]),
                ("price across steps",
                 "UPDATE vehicles SET price = price + 7500 WHERE id = ANY($1)", ids[40:80]),
                ("price onto a step", "UPDATE vehicles SET price = 25000 WHERE id = ANY($1)",
                 ids[80:90]),
                ("price within a step", "UPDATE vehicles SET price = price - price % 5000 + 1 "
                 "WHERE id = ANY($1)", ids[90:100]),
                ("sold", "UPDATE vehicles SET status = 'sold' WHERE id = ANY($1)", ids[100:140]),
                ("back on sale", "UPDATE vehicles SET status = 'active' WHERE id = ANY($1)",
                 ids[100:120]),
                ("new model year and body", "UPDATE vehicles SET year = year + 1, body = 'van' "
                 "WHERE id = ANY($1)", ids[140:160]),
                ("untouched column", "UPDATE vehicles SET description = 'x' WHERE id = ANY($1)",
                 ids[160:170]),
                ("delete", "DELETE FROM vehicles WHERE id = ANY($1)", ids[170:200]),
                ("price past the top step", "UPDATE vehicles SET price = 250000 WHERE id = ANY($1)",
                 ids[200:205]),
            ]  # fmt: skip
            for name, sql, chosen in writes:
                await conn.execute(sql, chosen)
                drifts.append((name, await _drift(conn)))
            await conn.execute("TRUNCATE vehicles CASCADE")
            drifts.append(("truncate", await conn.fetch("SELECT * FROM facet_counts")))
        finally:
            await transaction.rollback()
        return drifts

    assert _run(database_url, work) == [(name, []) for name in (
        "insert", "price across steps", "price onto a step", "price within a step", "sold",
        "back on sale", "new model year and body", "untouched column", "delete",
        "price past the top step", "truncate",
    )]  # fmt: skip


def _filter_sets(inventory: Any, n: int) -> list[dict[str, object]]:
    """Random filter sets over the columns `facet_counts` keeps, with values the inventory has
    (and one it lacks), prices on steps, and year ranges."""
    rng = random.Random(7)
    values = {
        column: sorted({getattr(v, column) for v in inventory.vehicles})
        for column in ("make", "model", "body", "fuel", "drivetrain")
    }
    out: list[dict[str, object]] = [{}]
    for _ in range(n):
        filters: dict[str, object] = {}
        for column in rng.sample(sorted(values), rng.randint(0, 2)):
            filters[column] = rng.sample(values[column], rng.randint(1, 2)) + (
                ["no-such-value"] if rng.random() < 0.1 else []
            )
        if rng.random() < 0.5:
            filters[rng.choice(["price_min", "price_max"])] = rng.choice(
                [0, 5000, 15000, 25000, 30000, 60000, 100000]
            )
        if rng.random() < 0.4:
            filters[rng.choice(["year_min", "year_max"])] = rng.randint(2008, 2024)
        out.append(filters)
    return out


def test_facets_from_counts_equal_facets_from_listings(database_url: str, inventory: Any) -> None:
    filter_sets = _filter_sets(inventory, 80)

    async def work(conn: asyncpg.Connection) -> list[tuple[Any, Any, Any]]:
        pairs = []
        for filters in filter_sets:
            counts_where = build_counts_where(filters, None)
            assert counts_where is not None, filters
            pairs.append(
                (
                    filters,
                    await db.facets_from_counts(conn, counts_where),
                    await db.facets(conn, build_where(filters, None)),
                )
            )
        return pairs

    pairs = _run(database_url, work)
    for filters, from_counts, from_listings in pairs:
        assert from_counts == from_listings, filters
    # The sample is not degenerate: broad, narrow and empty sets all occur.
    totals = [from_listings["total"] for _, _, from_listings in pairs]
    assert max(totals) == len(inventory.vehicles) and 0 in totals and len(set(totals)) > 40


@pytest.mark.parametrize(
    "filters",
    [
        {"color": ["red"]},
        {"transmission": ["manual"]},
        {"dealer": ["d1"]},
        {"mileage_max": 20000},
        {"price_max": 27500},
        {"price_min": 105000},
        {"body": ["suv"], "price_max": 14999},
    ],
)
def test_filters_on_what_the_table_does_not_keep_count_the_listings(
    filters: dict[str, object],
) -> None:
    assert build_counts_where(filters, None) is None


def test_a_radius_counts_the_listings_but_a_zip_alone_does_not() -> None:
    denver = GeoPoint(39.74, -104.99)
    assert build_counts_where({"zip": "80202", "radius_mi": 50}, denver) is None
    assert build_counts_where({"zip": "80202"}, denver) is not None
