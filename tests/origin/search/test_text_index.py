"""The approximate kNN walks distinct texts and joins their listings: the database keeps each
listing's link to its text, and listings that share a text come back together in id order, as
exact search returns them, across pages too."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import asyncpg
import numpy as np
import pytest
from pgvector.asyncpg import register_vector

from origin.db import vehicles as db
from origin.db.sql import Where
from origin.settings import SettingsError, load_settings


def _run(database_url: str, work: Any) -> Any:
    async def main() -> Any:
        conn = await asyncpg.connect(database_url)
        try:
            await register_vector(conn)
            return await work(conn)
        finally:
            await conn.close()

    return asyncio.run(main())


def _active() -> Where:
    where = Where()
    where.add("status = 'active'")
    return where


def test_every_listing_is_linked_to_its_embedded_text(database_url: str, inventory: Any) -> None:
    async def work(conn: asyncpg.Connection) -> list[Any]:
        return list(
            await conn.fetch(
                "SELECT v.id, v.embed_text, v.text_hash, t.hash IS NOT NULL AS has_text "
                "FROM vehicles v LEFT JOIN text_embeddings t ON t.hash = v.text_hash"
            )
        )

    rows = _run(database_url, work)
    assert len(rows) == len(inventory.vehicles)
    for row in rows:
        assert bytes(row["text_hash"]) == hashlib.sha256(row["embed_text"].encode()).digest()
        assert row["has_text"], row["id"]


def test_listings_sharing_a_text_come_back_together_in_id_order(
    database_url: str, inventory: Any
) -> None:
    async def work(conn: asyncpg.Connection) -> tuple[list[int], list[Any], list[Any], list[Any]]:
        shared = await conn.fetchrow(
            "SELECT text_hash, array_agg(id ORDER BY id) AS ids FROM vehicles "
            "WHERE status = 'active' GROUP BY text_hash ORDER BY count(*) DESC, text_hash LIMIT 1"
        )
        vector = await conn.fetchval(
            "SELECT embedding FROM text_embeddings WHERE hash = $1", shared["text_hash"]
        )
        query = np.asarray(vector.to_numpy(), dtype=np.float32)
        k = len(shared["ids"]) + 5
        approx = await db.knn(conn, _active(), query, k, exact=False)
        exact = await db.knn(conn, _active(), query, k, exact=True)
        # The next page, starting inside the group of listings that share the text.
        second = approx[1]
        after = (float(second["distance"]), int(second["id"]))
        rest = await db.knn(conn, _active(), query, 5, exact=False, after=after)
        return list(shared["ids"]), approx, exact, rest

    ids, approx, exact, rest = _run(database_url, work)
    assert len(ids) > 7, "the test inventory should have a text shared by several listings"
    assert [r["id"] for r in approx[: len(ids)]] == ids
    assert len({float(r["distance"]) for r in approx[: len(ids)]}) == 1
    assert [r["id"] for r in approx] == [r["id"] for r in exact]
    assert [r["id"] for r in rest] == ids[2:7]


def test_the_exact_threshold_is_a_share_of_the_inventory_or_the_floor(
    database_url: str, inventory: Any
) -> None:
    async def work(conn: asyncpg.Connection) -> tuple[float, list[tuple[int, int]]]:
        rows = float(
            await conn.fetchval("SELECT reltuples FROM pg_class WHERE relname = 'vehicles'")
        )
        counts = [
            await db.count_upto(conn, _active(), floor=10, share=0.5),
            await db.count_upto(conn, _active(), floor=2_000, share=0.01),
            await db.count_upto(conn, _active(), floor=10**9, share=0.0),
        ]
        return rows, counts

    rows, (by_share, by_floor, everything) = _run(database_url, work)
    assert rows == len(inventory.vehicles)  # analysed by the seed
    assert by_share == (int(rows * 0.5) + 1, int(rows * 0.5))  # counted one past the cap
    assert by_floor == (2_001, 2_000)
    assert everything == (len(inventory.vehicles), 10**9)


def test_exact_share_must_be_a_fraction() -> None:
    assert load_settings({"VSEARCH_EXACT_MAX_SHARE": "0.2"}).exact_max_share == 0.2
    for bad in ("1.5", "-0.1"):
        with pytest.raises(SettingsError, match="VSEARCH_EXACT_MAX_SHARE"):
            load_settings({"VSEARCH_EXACT_MAX_SHARE": bad})


@pytest.mark.parametrize("body", ["suv", "sedan"])
def test_hnsw_and_exact_pages_walk_the_same_order(
    database_url: str, inventory: Any, embedder: Any, body: str
) -> None:
    vector = embedder.embed_query("roomy comfortable family car")
    where = _active()
    where.add(f"body = {where.param(body)}")

    async def pages(conn: asyncpg.Connection, exact: bool) -> list[int]:
        ids: list[int] = []
        after = None
        for _ in range(4):
            rows = await db.knn(conn, where, vector, 10, exact=exact, after=after, ef_search=200)
            ids += [int(r["id"]) for r in rows]
            last = rows[-1]
            after = (float(last["distance"]), int(last["id"]))
        return ids

    async def work(conn: asyncpg.Connection) -> tuple[list[int], list[int]]:
        return await pages(conn, exact=False), await pages(conn, exact=True)

    approx, exact = _run(database_url, work)
    assert len(exact) == len(set(exact)) == 40  # no listing twice, none skipped at a page edge
    matching = {v.id for v in inventory.vehicles if v.body == body}
    assert set(exact) <= matching
    assert approx == exact
