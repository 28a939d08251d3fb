"""The shared query module: golden vectors, the round trips the edge relies on, and the rules."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import random
import sys
from pathlib import Path
from types import ModuleType
from urllib.parse import parse_qsl, urlencode

import pytest
import vsearch_query
import vsearch_vocab
from vsearch_query import (
    KEY_VERSION,
    SCOPED_ATTRIBUTES,
    QueryError,
    SearchQuery,
    attribute_tags,
    cache_key,
    canonical_form,
    canonical_params,
    listing_tags,
    parse_search,
    query_tags,
)

VECTORS = json.loads((Path(__file__).parent / "cache_key_vectors.json").read_text("utf-8"))
GROUPS = VECTORS["groups"]
SPELLINGS = [(g["name"], s) for g in GROUPS for s in g["spellings"]]


# ---- the vectors (kept simple: the same checks run under Pyodide) ----------------------------


@pytest.mark.parametrize("group", GROUPS, ids=[g["name"] for g in GROUPS])
def test_vector_group_every_spelling_has_the_canonical_form_and_key(
    group: dict[str, object],
) -> None:
    canonical = str(group["canonical"])
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]
    assert group["key"] == f"{VECTORS['key_version']}:{digest}"
    for spelling in group["spellings"]:  # type: ignore[attr-defined]
        query = parse_search(spelling)
        assert (spelling, canonical_form(query)) == (spelling, canonical)
        assert cache_key(query) == group["key"]


def test_vector_groups_never_share_a_key() -> None:
    keys = [g["key"] for g in GROUPS]
    assert len(GROUPS) >= 40
    assert len(set(keys)) == len(keys)
    assert VECTORS["key_version"] == KEY_VERSION


@pytest.mark.parametrize("case", VECTORS["errors"], ids=[e["query"] for e in VECTORS["errors"]])
def test_vector_error(case: dict[str, str]) -> None:
    with pytest.raises(QueryError) as info:
        parse_search(case["query"])
    assert (info.value.code, info.value.field) == (case["code"], case["field"])
    assert info.value.message


# ---- what the edge and the origin rely on -----------------------------------------------------


@pytest.mark.parametrize(("group", "spelling"), SPELLINGS)
def test_canonical_params_parse_back_to_the_same_key(group: str, spelling: str) -> None:
    query = parse_search(spelling)
    forwarded = canonical_params(query)
    assert cache_key(parse_search(forwarded)) == cache_key(query)
    assert cache_key(parse_search(urlencode(forwarded))) == cache_key(query)  # as the edge sends it
    again = parse_search(forwarded)
    assert again.extracted == {}  # everything spoken in q is now explicit
    assert again.text == query.text


@pytest.mark.parametrize(("group", "spelling"), SPELLINGS)
def test_text_is_a_fixed_point(group: str, spelling: str) -> None:
    query = parse_search(spelling)
    again = parse_search([("q", query.text)])
    assert (again.text, again.extracted) == (query.text, {})


def test_shuffling_order_case_whitespace_and_tracking_never_change_the_key() -> None:
    rng = random.Random(20240611)
    tracking = [
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "UTM_Content",
        "fbclid",
        "gclid",
        "msclkid",
        "_ga",
        "ref",
    ]
    for _, spelling in SPELLINGS:
        expected = cache_key(parse_search(spelling))
        pairs = parse_qsl(spelling.lstrip("?"), keep_blank_values=True)
        for _ in range(5):
            variant = []
            for name, value in pairs:
                if name != "cursor":  # a cursor is opaque: its case is meaning
                    value = "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in value)
                    value = rng.choice(["", " ", "  "]) + value + rng.choice(["", " ", "\t"])
                name = name.upper() if rng.random() < 0.3 else name
                variant.append((name, value))
            for _ in range(rng.randrange(3)):
                variant.append((rng.choice(tracking), str(rng.randrange(10**6))))
            rng.shuffle(variant)
            assert cache_key(parse_search(urlencode(variant))) == expected, (spelling, variant)


def test_negation_gives_different_keys() -> None:
    keys = {cache_key(parse_search(f"q={p}+30k")) for p in ("under", "over", "above", "below")}
    assert len(keys) == 2


def test_pairs_and_query_string_agree() -> None:
    pairs = [("q", "red suv"), ("make", "toyota"), ("limit", "10")]
    assert cache_key(parse_search(pairs)) == cache_key(parse_search(urlencode(pairs)))


# ---- the SearchQuery itself -------------------------------------------------------------------


def test_search_query_explains_what_came_from_q() -> None:
    query = parse_search("q=Quiet  electric SUV under 30k&body=sedan&price_max=25000")
    assert query == SearchQuery(
        text="quiet",
        raw_text="Quiet electric SUV under 30k",
        filters={"price_max": 25000, "body": ("sedan",), "fuel": ("electric",)},
        extracted={"fuel": ("electric",)},
        sort="relevance",
        limit=20,
        cursor=None,
        fields=None,
    )


def test_spoken_zip_brings_the_default_radius() -> None:
    query = parse_search("q=hybrid near 80202")
    assert query.filters == {"fuel": ("hybrid",), "zip": "80202", "radius_mi": 50}
    assert query.extracted == {"fuel": ("hybrid",), "zip": "80202"}


def test_unknown_names_are_kept_as_slugs() -> None:
    query = parse_search("make=Polestar&dealer=Bob's Autos")
    assert query.filters == {"make": ("polestar",), "dealer": ("bob-s-autos",)}


def test_q_length_is_limited_after_normalisation() -> None:
    parse_search([("q", "a" * 256)])
    parse_search([("q", "  " + "a " * 128)])  # collapsed to 255 characters
    with pytest.raises(QueryError) as info:
        parse_search([("q", "a" * 257)])
    assert (info.value.code, info.value.field) == ("query_too_long", "q")


def test_cursor_shape_is_checked() -> None:
    assert parse_search([("cursor", "a" * 512)]).cursor == "a" * 512
    with pytest.raises(QueryError) as info:
        parse_search([("cursor", "a" * 513)])
    assert info.value.code == "invalid_cursor"


def test_too_many_parameters() -> None:
    with pytest.raises(QueryError):
        parse_search("&".join(f"utm_{i}=x" for i in range(101)))
    with pytest.raises(QueryError):
        parse_search([("utm_x", "x")] * 101)


def test_single_valued_parameter_repeated_identically_is_fine() -> None:
    assert parse_search("limit=10&limit=10").limit == 10


# ---- tags for purging -------------------------------------------------------------------------


def test_query_tags_use_the_most_selective_filter() -> None:
    assert query_tags(parse_search("q=family")) == ("q:all", "q:unfiltered")
    assert query_tags(parse_search("q=family red suv")) == ("q:all", "color:red")
    assert query_tags(parse_search("q=family toyota or honda suv")) == (
        "q:all",
        "make:honda",
        "make:toyota",
    )
    assert query_tags(parse_search("q=family camry")) == ("q:all", "model:camry")


@pytest.mark.parametrize(
    ("spelling", "scoped"),
    [
        ("q=family&body=suv&price_max=30000", ("price|body:suv",)),
        ("q=family&body=suv&price_min=5000", ("price|body:suv",)),
        ("q=family&sort=price_desc", ("price|q:unfiltered",)),
        ("q=family&body=suv&sort=price_asc", ("price|body:suv",)),
        ("q=family&body=suv&mileage_max=50000", ("mileage|body:suv",)),
        ("q=family&body=suv&sort=mileage_asc", ("mileage|body:suv",)),
        ("q=family&body=suv&year_min=2019", ("year|body:suv",)),
        ("q=family&body=suv&year_max=2019", ("year|body:suv",)),
        ("q=family&body=suv&sort=year_desc", ("year|body:suv",)),
        ("q=family&make=honda,toyota&price_max=30000&sort=mileage_asc",
         ("price|make:honda", "price|make:toyota", "mileage|make:honda", "mileage|make:toyota")),
        # Without free text, relevance is newest first: a sort by year.
        ("body=suv", ("year|body:suv",)),
        ("q=under 30k", ("price|q:unfiltered", "year|q:unfiltered")),
        ("body=suv&sort=price_asc", ("price|body:suv",)),
        # Neither filtered nor sorted on price, mileage or year: no scoped tags.
        ("q=family&body=suv", ()),
        ("q=family&body=suv&zip=80202&sort=distance", ()),
    ],
)  # fmt: skip
def test_query_tags_scope_the_coarse_tags_to_filtered_or_sorted_attributes(
    spelling: str, scoped: tuple[str, ...]
) -> None:
    tags = query_tags(parse_search(spelling))
    coarse = tuple(t for t in tags if "|" not in t)
    assert tags == (*coarse, *scoped)
    assert {t.split("|", 1)[1] for t in scoped} <= set(coarse) - {"q:all"}


def test_query_tags_stay_bounded_with_many_values() -> None:
    makes = ",".join(f"make{i}" for i in range(40))
    tags = query_tags(
        parse_search(f"q=x&make={makes}&price_max=9000&year_min=2001&sort=mileage_asc")
    )
    assert [t for t in tags if "|" in t] == [
        "price|q:unfiltered", "mileage|q:unfiltered", "year|q:unfiltered"
    ]  # fmt: skip
    eight = ",".join(f"make{i}" for i in range(8))
    tags = query_tags(parse_search(f"q=x&make={eight}&price_max=9000"))
    assert len([t for t in tags if t.startswith("price|make")]) == 8


def test_attribute_tags_scope_the_listing_tags() -> None:
    listing = {"make": "Toyota", "model": "RAV4", "body": "suv"}
    base = listing_tags(listing)
    assert attribute_tags(listing, ["price"]) == tuple(f"price|{t}" for t in base)
    assert attribute_tags(listing, {"year", "price"}) == tuple(
        f"{a}|{t}" for a in ("price", "year") for t in base
    )
    assert attribute_tags(listing, []) == ()
    with pytest.raises(ValueError, match="color"):
        attribute_tags(listing, ["price", "color"])


@pytest.mark.parametrize(("group", "spelling"), SPELLINGS)
def test_a_matching_new_listing_always_shares_a_tag_with_the_query(
    group: str, spelling: str
) -> None:
    query = parse_search(spelling)
    listing = {
        name: values[0] for name, values in query.filters.items() if isinstance(values, tuple)
    }
    shared = set(query_tags(query)) & set(listing_tags(listing))
    assert shared
    assert "q:all" not in listing_tags(listing)  # q:all is for a global flush only


@pytest.mark.parametrize(("group", "spelling"), SPELLINGS)
@pytest.mark.parametrize("attribute", SCOPED_ATTRIBUTES)
def test_a_listing_whose_attribute_changes_shares_a_tag_with_queries_on_it(
    group: str, spelling: str, attribute: str
) -> None:
    query = parse_search(spelling)
    listing = {
        name: values[0] for name, values in query.filters.items() if isinstance(values, tuple)
    }
    on_it = any(name.startswith(f"{attribute}_") for name in query.filters) or (
        query.sort.startswith(f"{attribute}_")
        or (attribute == "year" and query.sort == "relevance" and not query.text)
    )
    shared = set(query_tags(query)) & set(attribute_tags(listing, [attribute]))
    assert bool(shared) == on_it


# ---- the vocabulary grows: everyday words, numbers, shared names ------------------------------


@pytest.fixture
def vocab_module(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """A private copy of the module built on a made-up vocabulary (the real module is untouched)."""
    makes = {
        "honda": "Honda",
        "mini": "MINI",
        "zeta": "Zeta",
        "chevrolet": "Chevrolet",
        "gmc": "GMC",
    }
    models = {
        "honda": {"fit": "Fit", "civic": "Civic"},
        "mini": {"cooper": "Cooper"},
        "zeta": {"500": "500", "model-s": "Model S"},
        "chevrolet": {"silverado": "Silverado", "corvette": "Corvette", "express": "Express"},
        "gmc": {"sierra": "Sierra", "express": "Express"},
    }
    for i in range(1000):  # the size of the real catalog
        makes[f"make{i % 50}"] = f"Make {i % 50}"
        models.setdefault(f"make{i % 50}", {})[f"model-{i}x"] = f"Model {i}X"
    monkeypatch.setattr(vsearch_vocab, "MAKE_NAMES", makes)
    monkeypatch.setattr(vsearch_vocab, "MODEL_NAMES", models)
    spec = importlib.util.spec_from_file_location("vsearch_query_copy", vsearch_query.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "vsearch_query_copy", module)  # dataclasses look it up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("q", "filters", "text"),
    [
        ("honda fit", {"make": ("honda",), "model": ("fit",)}, ""),
        ("will a stroller fit", {}, "fit stroller will"),
        ("mini cooper", {"make": ("mini",), "model": ("cooper",)}, ""),
        ("mini fridge", {}, "fridge mini"),
        ("zeta 500 under 40k", {"make": ("zeta",), "model": ("500",), "price_max": 40000}, ""),
        ("$500", {}, "500"),
        ("zeta model s", {"make": ("zeta",), "model": ("model-s",)}, ""),
        ("models under 30k", {"price_max": 30000}, "models"),
        ("chevy vette", {"make": ("chevrolet",), "model": ("corvette",)}, ""),
        ("express", {}, "express"),
        (
            "chevy express van",
            {"make": ("chevrolet",), "model": ("express",), "body": ("van",)},
            "",
        ),
        ("sierra", {"make": ("gmc",), "model": ("sierra",)}, ""),
        ("make 7 model 57x", {"make": ("make7",), "model": ("model-57x",)}, ""),
    ],
)
def test_vocabulary_in_q(
    vocab_module: ModuleType, q: str, filters: dict[str, object], text: str
) -> None:
    query = vocab_module.parse_search([("q", q)])
    assert (query.filters, query.text) == (filters, text)


def test_a_model_shared_by_two_makes_implies_both(vocab_module: ModuleType) -> None:
    query = vocab_module.parse_search("model=express")
    assert query.filters == {"make": ("chevrolet", "gmc"), "model": ("express",)}
