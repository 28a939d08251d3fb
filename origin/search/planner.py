"""The SearchQueryOptimizer: picks, per query, how the kNN runs.

Exact ranking of the matching listings' texts when few rows match (recall 1.0; its cost grows with
the rows). Else, when the filters on the columns a text is built from (make, model, body, fuel,
drivetrain) leave few texts, exact ranking of those texts (recall 1.0; its cost grows with the
texts, not the rows: a popular model at 1M is 40k listings but 80 texts), unless the only such
filter is one body type: its own graph holds exactly those texts. Else HNSW over the texts with
pgvector's iterative scan (its cost grows as the matching share of the texts near the query
shrinks; plain post-filtering under-fills: RESEARCH.md).
"""

from __future__ import annotations

from enum import StrEnum


class Strategy(StrEnum):
    EXACT_SUBSET = "exact_subset"
    EXACT_TEXTS = "exact_texts"
    HNSW_ITERATIVE = "hnsw_iterative"
    FILTERED_SORT = "filtered_sort"
    KEYWORD_FALLBACK = "keyword_fallback"


def choose_vector_strategy(
    rows_upto: int,
    max_rows: int,
    texts_upto: int | None,
    max_texts: int,
    *,
    own_graph: bool = False,
) -> Strategy:
    """`rows_upto`: the matching rows, counted up to max_rows + 1; `texts_upto`: the texts the
    per-text filters select, counted up to max_texts + 1, None without such filters (both from
    db.count_upto). `own_graph`: the only per-text filter is one body type with its own HNSW
    graph, which holds exactly the texts it selects; walking it beat ranking them exactly at
    every size (100k, 15 searches each, ef_search 400: minivan's 368 texts 3.1 -> 1.8 ms
    median, pickup's 2,256 9.1 -> 2.4 ms; recall@10 1.0)."""
    if rows_upto <= max_rows:
        return Strategy.EXACT_SUBSET
    if own_graph:
        return Strategy.HNSW_ITERATIVE
    if texts_upto is not None and texts_upto <= max_texts:
        return Strategy.EXACT_TEXTS
    return Strategy.HNSW_ITERATIVE
