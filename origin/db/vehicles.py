"""SQL over the vehicles table for the read path: counts, kNN (exact or HNSW), sorted pages,
keyword fallback, facets, and single vehicles. Every value travels as a parameter."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import asyncpg
import numpy as np

from origin.db.sql import Where
from origin.search.planner import Strategy

RESULT_COLUMNS = (
    "id", "make", "model", "make_name", "model_name", "year", "price", "mileage", "body", "fuel",
    "drivetrain", "transmission", "color", "condition", "zip", "city", "state", "region",
    "dealer", "title", "description", "lat", "lon",
)  # fmt: skip
_SELECT = ", ".join(RESULT_COLUMNS)

# The graph is over distinct embedded texts, one point each: listings share texts, and a graph
# over many identical points strands its search (migrations/0005_text_index.sql).
HNSW_INDEX = "text_embeddings_hnsw"
# And one graph per body type over that body's texts: a body filter walks its own graph, not the
# whole one (migrations/0008_text_body.sql). A new body type has none until a migration adds it;
# its searches walk the whole graph, as every search did before.
BODY_GRAPHS = ("sedan", "suv", "pickup", "coupe", "hatchback", "convertible", "wagon", "van",
               "minivan")  # fmt: skip
# ef_construction 128, not the default 64: recall@10 at 10-50% filters 0.94 -> 0.96 (100k,
# listing-level graph).
_HNSW = "USING hnsw (embedding vector_ip_ops) WITH (m = 16, ef_construction = 128)"
HNSW_INDEXES_SQL = (
    f"CREATE INDEX IF NOT EXISTS {HNSW_INDEX} ON text_embeddings {_HNSW}",
    *(
        f"CREATE INDEX IF NOT EXISTS {HNSW_INDEX}_{body} ON text_embeddings {_HNSW} "
        f"WHERE body = '{body}'"
        for body in BODY_GRAPHS
    ),
)
HNSW_INDEXES = (HNSW_INDEX, *(f"{HNSW_INDEX}_{body}" for body in BODY_GRAPHS))

# Texts the HNSW path takes at least, for the exact re-sort of the rough order. Each is one more
# step of a filtered scan: 40 -> 25 cut the database p95 at 100k ~22 -> ~16 ms at the same
# recall@10 (0.9987); at 1M 65 -> 56 ms, recall 0.992 -> 0.990.
HNSW_MIN_CANDIDATES = 25

# Column order and direction of each non-relevance ordering; the tiebreak is always id.
ORDERINGS: dict[str, tuple[str, bool]] = {
    "price_asc": ("price", False),
    "price_desc": ("price", True),
    "mileage_asc": ("mileage", False),
    "year_desc": ("year", True),
}


async def count_upto(
    conn: asyncpg.Connection, where: Where, max_rows: int, max_texts: int
) -> tuple[int, int | None]:
    """(matching rows counted up to max_rows + 1, texts the per-text filters select in
    `text_filters` counted up to max_texts + 1, or None without per-text filters). Each stops at
    its bound: past it, counting would cost as much as the exact search it decides on."""
    texts = "NULL"
    text_sql = where.text_sql()
    if text_sql is not None:
        # Rows, not distinct texts: a text has one row unless its listings differ in these
        # columns, and an upper bound is enough to decide on.
        texts = (
            f"(SELECT count(*) FROM (SELECT 1 FROM text_filters WHERE {text_sql} "
            f"LIMIT {int(max_texts) + 1}) s)"
        )
    sql = (
        f"SELECT (SELECT count(*) FROM (SELECT 1 FROM vehicles WHERE {where.sql()} "
        f"LIMIT {int(max_rows) + 1}) s) AS rows, {texts} AS texts"
    )
    row = await conn.fetchrow(sql, *where.params)
    return int(row["rows"]), None if row["texts"] is None else int(row["texts"])


async def knn(
    conn: asyncpg.Connection,
    where: Where,
    vector: np.ndarray,
    k: int,
    *,
    strategy: Strategy,
    after: tuple[float, int] | None = None,
    ef_search: int = 100,
    max_scan_tuples: int = 20_000,
    body: str | None = None,
) -> list[asyncpg.Record]:
    """The k nearest active vehicles by inner product (vectors are L2-normalised), in order of
    (distance, id).

    Every strategy ranks distinct embedded texts, then takes each text's matching listings in id
    order. EXACT_SUBSET: the texts of the matching listings (an index-only scan of
    vehicles_covering), ranked exactly. EXACT_TEXTS: the texts the per-text filters select in
    `text_filters`, ranked exactly, then walked nearest first keeping those that a matching
    listing carries (an index-only check each). HNSW_ITERATIVE: the same walk over the HNSW graph
    with iterative scan, until enough are found; plain post-filtering would under-fill.

    `body`: the one body type the filters allow, if any: HNSW then walks that body's own graph.
    """
    w = Where(first_param=len(where.params) + 1)
    q = w.param(vector)
    distance = f"(t.embedding <#> {q})"
    text_keyset = listing_keyset = ""
    if after is not None:
        d, i = w.param(after[0]), w.param(after[1])
        text_keyset = f" AND {distance} >= {d}::float8"
        listing_keyset = (
            f" AND (texts.distance > {d}::float8 OR (texts.distance = {d}::float8 "
            f"AND id > {i}::bigint))"
        )
    # `text_filters` holds every (text, per-text values) an active listing has had: a superset,
    # so a text outside it has no matching listing, and one inside still needs the vehicles check.
    if strategy is Strategy.EXACT_SUBSET:
        # The k nearest texts hold the k nearest listings, plus one: on a next page the first
        # text may have no listing left after the keyset. "+ 0" keeps the HNSW index out of it.
        texts = (
            f"SELECT t.hash, {distance} AS distance FROM text_embeddings t "
            f"WHERE t.hash IN (SELECT text_hash FROM vehicles WHERE {where.sql()}){text_keyset} "
            f"ORDER BY {distance} + 0 LIMIT {int(k) + 1}"
        )
    elif strategy is Strategy.EXACT_TEXTS:
        # The candidates sorted by `rank` ("+ 0": an HNSW scan without iterative scan would stop
        # at ef_search rows), then checked lazily in that order (a LATERAL ... LIMIT 1 keeps the
        # planner from checking them all at once: 1,488 checks -> 22 for pickup + 4wd at 1M).
        text_sql = where.text_sql()
        listed = "TRUE"
        if text_sql is not None:
            listed = f"t.hash IN (SELECT text_hash FROM text_filters WHERE {text_sql})"
        texts = (
            f"SELECT c.hash, c.distance FROM (SELECT t.hash, {distance} AS distance, "
            f"{distance} + 0 AS rank FROM text_embeddings t WHERE {listed}{text_keyset} "
            f"ORDER BY rank) c CROSS JOIN LATERAL (SELECT FROM vehicles WHERE text_hash = c.hash "
            f"AND {where.sql()} LIMIT 1) carried ORDER BY c.rank LIMIT {int(k) + 1}"
        )
    else:
        # The graph walk must stay the outer side of nested loops: a semi-join (what the planner
        # makes of IN or EXISTS) gives up the walk's order, so it read the whole graph and sorted
        # it (coupe at 100k, ef_search 100: median 11.1 -> 1.3 ms with these LATERAL ... LIMIT 1
        # checks, same results). text_filters first: the cheap no for another make or fuel.
        graph, without, checks = "TRUE", None, ""
        if body in BODY_GRAPHS:
            # A parameter, so a generic plan would not know which graph; the custom plan below
            # sees the value and takes the body's own graph, whose texts all have that body.
            graph, without = f"t.body = {w.param(body)}", "body"
        other_text_sql = where.text_sql(without=without)
        if other_text_sql is not None:
            checks = (
                f"CROSS JOIN LATERAL (SELECT FROM text_filters WHERE text_hash = t.hash "
                f"AND {other_text_sql} LIMIT 1) listed "
            )
        # relaxed_order returns texts only roughly in distance order: take a wider set than the
        # page, so a near neighbour found late still makes it after the exact re-sort below.
        texts = (
            f"SELECT t.hash, {distance} AS distance FROM text_embeddings t {checks}"
            f"CROSS JOIN LATERAL (SELECT FROM vehicles WHERE text_hash = t.hash "
            f"AND {where.sql()} LIMIT 1) carried WHERE {graph}{text_keyset} "
            f"ORDER BY {distance} LIMIT {max(int(k) + 1, HNSW_MIN_CANDIDATES)}"
        )
    # "texts.distance + 0": PostgreSQL 17+ takes a CTE's ORDER BY as the order of its output and
    # would stop reading the rough order early (pgvector's README; it cost recall 0.0 on some
    # searches). Per text, the listings come from vehicles_text_hash in id order, k at most.
    sql = (
        f"WITH texts AS MATERIALIZED ({texts}) "
        f"SELECT listing.*, texts.distance FROM texts CROSS JOIN LATERAL (SELECT {_SELECT} "
        f"FROM vehicles WHERE text_hash = texts.hash AND {where.sql()}{listing_keyset} "
        f"ORDER BY id LIMIT {int(k)}) listing "
        f"ORDER BY texts.distance + 0, listing.id LIMIT {int(k)}"
    )
    if strategy is not Strategy.HNSW_ITERATIVE:
        return list(await conn.fetch(sql, *where.params, *w.params))
    async with conn.transaction(readonly=True):
        await conn.execute(
            f"SET LOCAL hnsw.ef_search = {max(int(ef_search), int(k))}; "
            "SET LOCAL hnsw.iterative_scan = relaxed_order; "
            f"SET LOCAL hnsw.max_scan_tuples = {int(max_scan_tuples)}; "
            "SET LOCAL plan_cache_mode = force_custom_plan"
        )
        return list(await conn.fetch(sql, *where.params, *w.params))


async def sorted_page(
    conn: asyncpg.Connection,
    where: Where,
    sort: str,
    k: int,
    *,
    after: tuple[float, int] | None = None,
    distance_expr: str | None = None,
) -> list[asyncpg.Record]:
    """A page of matches in a column order (or by distance), with keyset pagination."""
    if sort == "distance":
        if distance_expr is None:
            raise ValueError("distance ordering needs a point")
        column, descending = distance_expr, False
    else:
        column, descending = ORDERINGS[sort]
    w = Where(first_param=len(where.params) + 1)
    keyset = ""
    if after is not None:
        value, last_id = w.param(after[0]), w.param(after[1])
        op = "<" if descending else ">"
        keyset = f" AND ({column}, id) {op} ({value}::float8, {last_id}::bigint)"
    direction = "DESC" if descending else "ASC"
    extra = f", {distance_expr} AS distance_mi" if distance_expr else ""
    sql = (
        f"SELECT {_SELECT}{extra}, ({column})::float8 AS sort_value FROM vehicles "
        f"WHERE {where.sql()}{keyset} ORDER BY {column} {direction}, id {direction} "
        f"LIMIT {int(k)}"
    )
    return list(await conn.fetch(sql, *where.params, *w.params))


async def keyword_search(
    conn: asyncpg.Connection, where: Where, words: Sequence[str], k: int
) -> list[asyncpg.Record]:
    """The fallback: full-text match of any word, ranked; filters still apply."""
    w = Where(first_param=len(where.params) + 1)
    if words:
        tsquery = w.param(" | ".join(words))
        match = f" AND search_tsv @@ to_tsquery('english', {tsquery})"
        rank = f"ts_rank(search_tsv, to_tsquery('english', {tsquery}))"
    else:
        match, rank = "", "0"
    sql = (
        f"SELECT {_SELECT}, {rank}::float8 AS rank FROM vehicles WHERE {where.sql()}{match} "
        f"ORDER BY rank DESC, year DESC, id LIMIT {int(k)}"
    )
    return list(await conn.fetch(sql, *where.params, *w.params))


PRICE_BANDS = ((0, 10_000), (10_000, 20_000), (20_000, 30_000), (30_000, 40_000),
               (40_000, 60_000), (60_000, None))  # fmt: skip
YEAR_BANDS = ((None, 2010), (2011, 2015), (2016, 2019), (2020, 2022), (2023, None))


def _cuts(bands: Sequence[tuple[int | None, int | None]]) -> str:
    """width_bucket's thresholds: each band after the first starts at its low bound, so bucket
    i is band i (price bands are [low, high), year bands [low, high]: both start at low)."""
    return "ARRAY[" + ", ".join(str(int(low or 0)) for low, _ in bands[1:]) + "]"


# `facet_counts` keeps prices to this step up to the top one (migrations/0007_facet_counts.sql).
COUNTS_PRICE_STEP = 5_000
COUNTS_PRICE_TOP = 100_000
assert all(low % COUNTS_PRICE_STEP == 0 and low <= COUNTS_PRICE_TOP for low, _ in PRICE_BANDS[1:])


async def facets(conn: asyncpg.Connection, where: Where, top_makes: int = 20) -> dict[str, Any]:
    """Counts of the matching listings by body, fuel, make, price band and year band, plus the
    total.

    One GROUP BY over the five columns, rolled up here: half the database time of GROUPING SETS
    (one hash table per row instead of five; 85 -> 42 ms on the unfiltered 100k)."""
    sql = (
        f"SELECT body, fuel, make, width_bucket(price, {_cuts(PRICE_BANDS)}) AS price_band, "
        f"width_bucket(year, {_cuts(YEAR_BANDS)}) AS year_band, count(*) AS n "
        f"FROM vehicles WHERE {where.sql()} GROUP BY 1, 2, 3, 4, 5"
    )
    return _tally(await conn.fetch(sql, *where.params), top_makes)


async def facets_from_counts(
    conn: asyncpg.Connection, where: Where, top_makes: int = 20
) -> dict[str, Any]:
    """The same counts from `facet_counts`, for filters it can answer (filters.build_counts_where):
    its rows, not the listings, are read (~44k at 1M, however broad the filters)."""
    sql = (
        f"SELECT body, fuel, make, width_bucket(price_floor, {_cuts(PRICE_BANDS)}) AS price_band, "
        f"width_bucket(year, {_cuts(YEAR_BANDS)}) AS year_band, sum(n) AS n "
        f"FROM facet_counts WHERE {where.sql()} GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) > 0"
    )
    return _tally(await conn.fetch(sql, *where.params), top_makes)


def _tally(rows: Sequence[asyncpg.Record], top_makes: int) -> dict[str, Any]:
    price_labels = [_band_label(b) for b in PRICE_BANDS]
    year_labels = [_band_label(b) for b in YEAR_BANDS]
    out: dict[str, Counter[str]] = {facet: Counter() for facet in ("body", "fuel", "make")}
    out["price"], out["year"] = Counter(), Counter()
    for row in rows:
        n = int(row["n"])
        out["body"][row["body"]] += n
        out["fuel"][row["fuel"]] += n
        out["make"][row["make"]] += n
        out["price"][price_labels[row["price_band"]]] += n
        out["year"][year_labels[row["year_band"]]] += n
    total = sum(out["body"].values())
    makes = sorted(out["make"].items(), key=lambda kv: (-kv[1], kv[0]))[:top_makes]
    ordered_bands = {"price": price_labels, "year": year_labels}
    result: dict[str, Any] = {
        "total": total,
        "body": dict(sorted(out["body"].items(), key=lambda kv: (-kv[1], kv[0]))),
        "fuel": dict(sorted(out["fuel"].items(), key=lambda kv: (-kv[1], kv[0]))),
        "make": dict(makes),
    }
    for facet, labels in ordered_bands.items():
        result[facet] = {label: out[facet][label] for label in labels if label in out[facet]}
    return result


def _band_label(band: tuple[int | None, int | None]) -> str:
    low, high = band
    return f"{low if low is not None else ''}-{high if high is not None else ''}"


async def get_vehicle(conn: asyncpg.Connection, vehicle_id: int) -> asyncpg.Record | None:
    sql = f"SELECT {_SELECT}, status, updated_at FROM vehicles WHERE id = $1"
    row: asyncpg.Record | None = await conn.fetchrow(sql, vehicle_id)
    return row


async def zip_point(conn: asyncpg.Connection, zip_code: str) -> tuple[float, float] | None:
    row = await conn.fetchrow("SELECT lat, lon FROM zips WHERE zip = $1", zip_code)
    return None if row is None else (float(row["lat"]), float(row["lon"]))
