"""The kNN ranks distinct texts and joins their listings: the database keeps each listing's link to
its text and the per-text filter values of every text, and listings that share a text come back
together in id order, the same whichever way the texts are ranked, across pages too; every text
knows its body, and a search filtered to one body walks that body's own HNSW graph."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from typing import Any

import asyncpg
import numpy as np
import pytest
from pgvector.asyncpg import register_vector

from origin.catalog.inventory import BODY_LABELS
from origin.db import vehicles as db
from origin.db.sql import Where
from origin.search.filters import build_where
from origin.search.planner import Strategy, choose_vector_strategy


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


def test_text_filters_name_every_active_listings_text_and_values(
    database_url: str, inventory: Any
) -> None:
    async def work(conn: asyncpg.Connection) -> list[Any]:
        return list(
            await conn.fetch(
                "SELECT v.id FROM vehicles v WHERE v.status = 'active' AND NOT EXISTS ("
                "SELECT 1 FROM text_filters f WHERE f.text_hash = v.text_hash AND "
                "(f.make, f.model, f.body, f.fuel, f.drivetrain) = "
                "(v.make, v.model, v.body, v.fuel, v.drivetrain))"
            )
        )

    assert _run(database_url, work) == []


def test_writes_add_their_texts_values(database_url: str, inventory: Any) -> None:
    async def work(conn: asyncpg.Connection) -> list[bool]:
        transaction = conn.transaction()
        await transaction.start()
        try:  # rolled back: the test database stays as seeded
            source = await conn.fetchrow("SELECT * FROM vehicles ORDER BY id LIMIT 1")
            copied = [c for c in await _table_columns(conn) if c not in ("id", "body")]
            await conn.execute(
                f"INSERT INTO vehicles (id, body, {', '.join(copied)}) "
                f"SELECT (SELECT max(id) + 1 FROM vehicles), 'novel-body', {', '.join(copied)} "
                "FROM vehicles WHERE id = $1",
                source["id"],
            )
            await conn.execute(
                "UPDATE vehicles SET fuel = 'novel-fuel' WHERE id = $1", source["id"]
            )
            return [
                await conn.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM text_filters WHERE text_hash = $1 "
                    "AND body = $2 AND fuel = $3)",
                    source["text_hash"],
                    body,
                    fuel,
                )
                for body, fuel in (
                    ("novel-body", source["fuel"]),  # inserted
                    (source["body"], "novel-fuel"),  # updated
                    (source["body"], source["fuel"]),  # kept: never pruned
                )
            ]
        finally:
            await transaction.rollback()

    assert _run(database_url, work) == [True, True, True]


async def _table_columns(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'vehicles' "
        "AND is_generated = 'NEVER' ORDER BY ordinal_position"
    )
    return [r["column_name"] for r in rows]


def test_listings_sharing_a_text_come_back_together_in_id_order(
    database_url: str, inventory: Any
) -> None:
    async def work(conn: asyncpg.Connection) -> tuple[list[int], dict[Strategy, list[Any]], Any]:
        shared = await conn.fetchrow(
            "SELECT text_hash, array_agg(id ORDER BY id) AS ids FROM vehicles "
            "WHERE status = 'active' GROUP BY text_hash ORDER BY count(*) DESC, text_hash LIMIT 1"
        )
        vector = await conn.fetchval(
            "SELECT embedding FROM text_embeddings WHERE hash = $1", shared["text_hash"]
        )
        query = np.asarray(vector.to_numpy(), dtype=np.float32)
        k = len(shared["ids"]) + 5
        pages = {s: await db.knn(conn, _active(), query, k, strategy=s) for s in _KNN}
        # The next page, starting inside the group of listings that share the text.
        second = pages[Strategy.HNSW_ITERATIVE][1]
        after = (float(second["distance"]), int(second["id"]))
        rest = {s: await db.knn(conn, _active(), query, 5, strategy=s, after=after) for s in _KNN}
        return list(shared["ids"]), pages, rest

    ids, pages, rest = _run(database_url, work)
    assert len(ids) > 7, "the test inventory should have a text shared by several listings"
    approx = pages[Strategy.HNSW_ITERATIVE]
    assert [r["id"] for r in approx[: len(ids)]] == ids
    assert len({float(r["distance"]) for r in approx[: len(ids)]}) == 1
    for strategy in _KNN:
        assert [r["id"] for r in pages[strategy]] == [r["id"] for r in approx], strategy
        assert [r["id"] for r in rest[strategy]] == ids[2:7], strategy


_KNN = (Strategy.EXACT_SUBSET, Strategy.EXACT_TEXTS, Strategy.HNSW_ITERATIVE)


def test_the_counts_stop_at_their_bounds(database_url: str, inventory: Any) -> None:
    suvs = build_where({"body": ("suv",)}, None)
    texts = len({v.embed_text for v in inventory.vehicles if v.body == "suv"})
    rows = sum(1 for v in inventory.vehicles if v.body == "suv")

    async def work(conn: asyncpg.Connection) -> list[tuple[int, int | None]]:
        return [
            await db.count_upto(conn, _active(), max_rows=10, max_texts=10),
            await db.count_upto(conn, suvs, max_rows=10**9, max_texts=10**9),
            await db.count_upto(conn, suvs, max_rows=5, max_texts=3),
        ]

    everything, all_suvs, bounded = _run(database_url, work)
    assert everything == (11, None)  # counted one past the bound; no per-text filter
    assert all_suvs == (rows, texts)
    assert bounded == (6, 4)


def test_the_planner_prefers_rows_then_texts_then_the_graph() -> None:
    assert choose_vector_strategy(300, 300, None, 10) is Strategy.EXACT_SUBSET
    assert choose_vector_strategy(300, 300, 11, 10) is Strategy.EXACT_SUBSET
    assert choose_vector_strategy(301, 300, 10, 10) is Strategy.EXACT_TEXTS
    assert choose_vector_strategy(301, 300, 11, 10) is Strategy.HNSW_ITERATIVE
    assert choose_vector_strategy(301, 300, None, 10) is Strategy.HNSW_ITERATIVE
    # One body type and no other per-text filter: its own graph, whatever its size.
    assert choose_vector_strategy(301, 300, 10, 10, own_graph=True) is Strategy.HNSW_ITERATIVE
    assert choose_vector_strategy(300, 300, 10, 10, own_graph=True) is Strategy.EXACT_SUBSET


@pytest.mark.parametrize(
    ("filters", "matches"),
    [
        ({"body": ("suv",)}, lambda v: v.body == "suv"),
        ({"body": ("sedan",)}, lambda v: v.body == "sedan"),
        (
            {"make": ("toyota",), "price_max": 40_000},
            lambda v: v.make == "toyota" and v.price <= 40_000,
        ),
    ],
    ids=["suv", "sedan", "toyota-under-40k"],
)
def test_every_strategy_pages_through_the_same_order(
    database_url: str,
    inventory: Any,
    embedder: Any,
    filters: dict[str, Any],
    matches: Callable[[Any], bool],
) -> None:
    vector = embedder.embed_query("roomy comfortable family car")
    where = build_where(filters, None)

    body = filters["body"][0] if len(filters.get("body", ())) == 1 else None

    async def pages(conn: asyncpg.Connection, strategy: Strategy) -> list[int]:
        ids: list[int] = []
        after = None
        for _ in range(4):
            rows = await db.knn(
                conn, where, vector, 10, strategy=strategy, after=after, ef_search=200, body=body
            )
            ids += [int(r["id"]) for r in rows]
            last = rows[-1]
            after = (float(last["distance"]), int(last["id"]))
        return ids

    async def work(conn: asyncpg.Connection) -> dict[Strategy, list[int]]:
        return {s: await pages(conn, s) for s in _KNN}

    walked = _run(database_url, work)
    exact = walked[Strategy.EXACT_SUBSET]
    assert len(exact) == len(set(exact)) == 40  # no listing twice, none skipped at a page edge
    assert set(exact) <= {v.id for v in inventory.vehicles if matches(v)}
    assert walked[Strategy.EXACT_TEXTS] == exact
    assert walked[Strategy.HNSW_ITERATIVE] == exact


# One HNSW graph per body type (migrations/0008_text_body.sql).


def test_a_text_has_one_body_because_its_label_names_one() -> None:
    # embed_text writes the body's label into the text: two bodies with one label would share
    # texts, and a text's graph could then hold only one of them.
    assert len(set(BODY_LABELS.values())) == len(BODY_LABELS)


def test_every_catalog_body_has_its_graph(database_url: str, inventory: Any) -> None:
    async def work(conn: asyncpg.Connection) -> dict[str, str]:
        rows = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'text_embeddings' "
            "AND indexname LIKE 'text_embeddings_hnsw%'"
        )
        return {r["indexname"]: r["indexdef"] for r in rows}

    indexes = _run(database_url, work)
    assert set(db.BODY_GRAPHS) == set(BODY_LABELS)
    assert set(indexes) == set(db.HNSW_INDEXES)
    for body in db.BODY_GRAPHS:
        assert indexes[f"text_embeddings_hnsw_{body}"].endswith(f"WHERE (body = '{body}'::text)")


def test_every_listed_text_knows_its_body(database_url: str, inventory: Any) -> None:
    async def work(conn: asyncpg.Connection) -> list[Any]:
        return list(
            await conn.fetch(
                "SELECT v.id FROM vehicles v JOIN text_embeddings t ON t.hash = v.text_hash "
                "WHERE v.status = 'active' AND t.body IS DISTINCT FROM v.body"
            )
        )

    assert _run(database_url, work) == []


def test_a_new_text_gets_its_body_from_its_first_listing(database_url: str, inventory: Any) -> None:
    async def work(conn: asyncpg.Connection) -> tuple[Any, Any]:
        transaction = conn.transaction()
        await transaction.start()
        try:  # rolled back: the test database stays as seeded
            source = await conn.fetchrow("SELECT * FROM vehicles ORDER BY id LIMIT 1")
            text = source["embed_text"] + " A text no listing had."
            await conn.execute(
                "INSERT INTO text_embeddings (hash, model, embedding) "
                "SELECT sha256(convert_to($1, 'UTF8')), model, embedding FROM text_embeddings "
                "WHERE hash = $2",
                text,
                source["text_hash"],
            )
            cached = await conn.fetchval(
                "SELECT body FROM text_embeddings WHERE hash = sha256(convert_to($1, 'UTF8'))", text
            )
            await conn.execute(
                "UPDATE vehicles SET embed_text = $1 WHERE id = $2", text, source["id"]
            )
            listed = await conn.fetchval(
                "SELECT body FROM text_embeddings WHERE hash = sha256(convert_to($1, 'UTF8'))", text
            )
            return cached, (listed, source["body"])
        finally:
            await transaction.rollback()

    cached, (listed, body) = _run(database_url, work)
    assert cached is None and listed == body


BODY_SAMPLE = ("sedan", "pickup", "coupe", "hatchback")


@pytest.mark.parametrize(
    ("filters", "graph"),
    [
        *(({"body": (body,)}, f"text_embeddings_hnsw_{body}") for body in BODY_SAMPLE),
        ({"body": ("pickup",), "fuel": ("electric",)}, "text_embeddings_hnsw_pickup"),
        ({"make": ("ford",)}, "text_embeddings_hnsw"),
    ],
)
def test_a_search_walks_its_graph_and_checks_each_text_as_it_comes(
    database_url: str, inventory: Any, embedder: Any, filters: dict[str, Any], graph: str
) -> None:
    vector = embedder.embed_query("quiet comfortable highway cruiser")
    where = build_where(filters, None)
    bodies = filters.get("body", ())
    body = bodies[0] if len(bodies) == 1 else None
    statements: list[tuple[str, tuple[Any, ...]]] = []

    async def work(conn: asyncpg.Connection) -> list[str]:
        class Recording:
            """The connection, with the statements knn runs written down."""

            def __getattr__(self, name: str) -> Any:
                return getattr(conn, name)

            async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
                statements.append((sql, args))
                return await conn.fetch(sql, *args)

        await db.knn(Recording(), where, vector, 10, strategy=Strategy.HNSW_ITERATIVE, body=body)
        sql, args = statements[-1]
        async with conn.transaction():
            await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            plan = await conn.fetch(f"EXPLAIN {sql}", *args)
        return [r[0] for r in plan]

    plan = "\n".join(_run(database_url, work))
    assert f"Index Scan using {graph} on text_embeddings" in plan
    # Each text's check runs as the walk finds it: a semi-join would read the whole graph first.
    assert "Semi Join" not in plan
