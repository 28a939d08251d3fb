"""The SearchQueryOptimizer: picks, per query, how the kNN runs.

Exact search over a B-tree-filtered subset when few rows match (recall 1.0, ~2 ms); HNSW with
pgvector's iterative scan when the filter is broad (plain post-filtering under-fills: RESEARCH.md).
"""

from __future__ import annotations

from enum import StrEnum


class Strategy(StrEnum):
    EXACT_SUBSET = "exact_subset"
    HNSW_ITERATIVE = "hnsw_iterative"
    FILTERED_SORT = "filtered_sort"
    KEYWORD_FALLBACK = "keyword_fallback"


def choose_vector_strategy(matches_upto: int, exact_max_rows: int) -> Strategy:
    """`matches_upto`: the matching rows, counted up to exact_max_rows + 1."""
    if matches_upto <= exact_max_rows:
        return Strategy.EXACT_SUBSET
    return Strategy.HNSW_ITERATIVE
