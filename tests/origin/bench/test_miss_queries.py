"""The miss benchmark's searches are all new: no two share a text (and so an embedding), since
the miss path's figures promise that nothing, not even the query embedding, was cached."""

from __future__ import annotations

from vsearch_query import parse_search

from origin.bench.miss import miss_queries


def test_three_thousand_miss_searches_embed_as_many_different_texts() -> None:
    texts = [parse_search(raw).text for raw in miss_queries(3_000)]
    assert len(set(texts)) == 3_000
