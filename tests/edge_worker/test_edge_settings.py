"""edge_settings.py: vars parsed once, defaults kept, nonsense refused."""

from __future__ import annotations

import pytest
from edge_settings import EdgeSettings


def test_defaults_when_vars_are_missing_or_empty() -> None:
    assert EdgeSettings.from_vars({"ORIGIN_TIMEOUT_MS": ""}) == EdgeSettings()


def test_vars_are_parsed() -> None:
    settings = EdgeSettings.from_vars(
        {
            "ORIGIN_URLS": " http://a:1/ , http://b:2 ,",
            "ORIGIN_TIMEOUT_MS": "300",
            "MAX_QUERY_BYTES": "1024",
            "KV_MIN_TTL_S": "5",
        }
    )
    assert settings.origin_urls == ("http://a:1", "http://b:2")
    assert settings.origin_timeout_s == 0.3
    assert settings.max_query_bytes == 1024
    assert settings.kv_min_ttl_s == 60  # KV's own floor


@pytest.mark.parametrize("raw", ["-1", "soon"])
def test_bad_numbers_fail_loudly(raw: str) -> None:
    with pytest.raises(ValueError):
        EdgeSettings.from_vars({"ORIGIN_TIMEOUT_MS": raw})
