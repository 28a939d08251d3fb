"""The shared query module is a contract between two deployables: its public surface is pinned."""

import inspect

import vsearch_query

EXPECTED = [
    "BODIES",
    "COLORS",
    "DEFAULT_LIMIT",
    "DEFAULT_RADIUS_MI",
    "DRIVETRAINS",
    "FUELS",
    "KEY_VERSION",
    "MAX_LIMIT",
    "MAX_QUERY_LENGTH",
    "SCOPED_ATTRIBUTES",
    "SORTS",
    "TRANSMISSIONS",
    "QueryError",
    "SearchQuery",
    "attribute_tags",
    "cache_key",
    "canonical_form",
    "canonical_params",
    "listing_tags",
    "parse_search",
    "query_tags",
]


def test_all_is_pinned() -> None:
    assert vsearch_query.__all__ == EXPECTED


def test_every_public_name_is_exported() -> None:
    public = {
        name
        for name, value in vars(vsearch_query).items()
        if not name.startswith("_")
        and name != "annotations"  # from __future__
        and not inspect.ismodule(value)
        and not (
            (inspect.isclass(value) or inspect.isfunction(value))
            and value.__module__ != "vsearch_query"
        )
    }
    assert public == set(EXPECTED)
