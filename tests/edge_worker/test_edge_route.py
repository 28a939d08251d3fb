"""route.py: which requests reach the cache path, and the 4xx for the rest."""

from __future__ import annotations

import pytest
from edge_http import RequestRejected
from route import PageRequest, SearchLookup, route

BASE = "https://edge.example"


def rejected(method: str, url: str, max_query_bytes: int = 2048) -> RequestRejected:
    with pytest.raises(RequestRejected) as caught:
        route(method, url, max_query_bytes=max_query_bytes)
    return caught.value


def test_search_and_v1_alias_give_the_same_key() -> None:
    plain = route("GET", f"{BASE}/search?q=red+suv", max_query_bytes=2048)
    alias = route("GET", f"{BASE}/v1/search?q=red%20suv", max_query_bytes=2048)
    assert plain.key == alias.key
    assert plain.key.startswith("v1:")
    assert plain.params == alias.params


def test_spellings_of_one_search_share_a_key_and_others_do_not() -> None:
    one = route("GET", f"{BASE}/search?q=Red+SUV&utm_source=mail", max_query_bytes=2048)
    two = route("GET", f"{BASE}/search?q=red%20%20suv", max_query_bytes=2048)
    other = route("GET", f"{BASE}/search?q=blue+sedan", max_query_bytes=2048)
    assert one.key == two.key != other.key


@pytest.mark.parametrize(
    "path",
    [
        "/v1/vehicles/12",
        "/v1/purge",
        "/metrics",
        "/dashboard",
        "/dashboard/static/dashboard.js",
        "/static/dashboard.js",
        "/static/",
        "/index.html",
        "/search/",
        "/__local/purge",
    ],
)
def test_internal_and_unknown_paths_are_never_routed(path: str) -> None:
    error = rejected("GET", f"{BASE}{path}")
    assert (error.status, error.code) == (404, "not_found")


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
def test_non_get_is_405_with_allow(method: str) -> None:
    error = rejected(method, f"{BASE}/search?q=suv")
    assert error.status == 405
    assert error.headers == {"allow": "GET"}


def test_oversized_query_string_is_414() -> None:
    error = rejected("GET", f"{BASE}/search?q={'a' * 100}", max_query_bytes=64)
    assert (error.status, error.code) == (414, "query_too_long")


def test_query_error_is_400_naming_the_field() -> None:
    error = rejected("GET", f"{BASE}/search?q=suv&limit=5000")
    assert error.status == 400
    assert error.field == "limit"


@pytest.mark.parametrize(
    ("target", "file"),
    [
        ("/", "shopper.html"),
        ("/?q=red+suv&body=sedan", "shopper.html"),
        ("/static/shopper.js", "shopper.js"),
        ("/static/shopper.css", "shopper.css"),
    ],
)
def test_the_shopper_page_and_its_files_are_answered_by_the_edge(target: str, file: str) -> None:
    assert route("GET", f"{BASE}{target}", max_query_bytes=2048) == PageRequest(file)


def test_a_bare_host_is_the_page() -> None:
    assert route("GET", BASE, max_query_bytes=2048) == PageRequest("shopper.html")


def test_the_page_ignores_its_query_string_even_a_bad_one() -> None:
    # The page reads /?q=... itself; the edge neither parses nor validates it.
    assert isinstance(route("GET", f"{BASE}/?limit=5000", max_query_bytes=2048), PageRequest)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_writing_to_the_page_is_405(method: str) -> None:
    error = rejected(method, f"{BASE}/")
    assert (error.status, error.headers) == (405, {"allow": "GET"})


def test_search_is_still_a_lookup() -> None:
    assert isinstance(route("GET", f"{BASE}/search?q=suv", max_query_bytes=2048), SearchLookup)
