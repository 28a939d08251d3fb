"""The SearchQueryOptimizer: picks, per query, how the kNN runs.

Exact ranking of the matching listings' texts when few rows match (recall 1.0; its cost grows with
the rows); HNSW over the texts with pgvector's iterative scan when the filter is broad (its cost
grows as the matching share shrinks; plain post-filtering under-fills: RESEARCH.md).
"""

from __future__ import annotations

from enum import StrEnum


class Strategy(StrEnum):
    EXACT_SUBSET = "exact_subset"
    HNSW_ITERATIVE = "hnsw_iterative"
    FILTERED_SORT = "filtered_sort"
    KEYWORD_FALLBACK = "keyword_fallback"


def choose_vector_strategy(matches_upto: int, cap: int) -> Strategy:
    """`matches_upto`: the matching rows, counted up to cap + 1; both from db.count_upto."""
    if matches_upto <= cap:
        return Strategy.EXACT_SUBSET
    return Strategy.HNSW_ITERATIVE
