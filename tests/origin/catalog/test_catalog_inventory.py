"""The demo inventory: deterministic, prefix-stable, plausible, and cheap to embed."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter

import pytest

from origin.catalog.build import BODIES, DRIVETRAINS, FUELS, REGIONS, Catalog, load_catalog
from origin.catalog.inventory import (
    COLORS,
    CONDITIONS,
    TRANSMISSIONS,
    VEHICLE_COLUMNS,
    Vehicle,
    generate_dealers,
    generate_vehicles,
)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def fleet(catalog: Catalog) -> list[Vehicle]:
    return list(generate_vehicles(100_000, 7, catalog))


def test_same_seed_gives_identical_vehicles(catalog: Catalog) -> None:
    assert list(generate_vehicles(500, 3, catalog)) == list(generate_vehicles(500, 3, catalog))
    assert list(generate_vehicles(50, 3, catalog)) != list(generate_vehicles(50, 4, catalog))


def test_small_run_is_a_prefix_of_a_large_one(catalog: Catalog, fleet: list[Vehicle]) -> None:
    assert list(generate_vehicles(1_000, 7, catalog)) == fleet[:1_000]


def test_output_is_identical_in_another_process(fleet: list[Vehicle]) -> None:
    # Guards against hash randomisation or global random state leaking into the data.
    script = (
        "from origin.catalog.build import load_catalog\n"
        "from origin.catalog.inventory import generate_vehicles\n"
        "for v in generate_vehicles(300, 7, load_catalog()): print(repr(v))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        check=True,
        capture_output=True,
        text=True,
        env={"PYTHONHASHSEED": "12345", "PYTHONPATH": "."},
    ).stdout
    assert out.splitlines() == [repr(v) for v in fleet[:300]]


def test_columns_name_every_field_in_order(fleet: list[Vehicle]) -> None:
    assert VEHICLE_COLUMNS[:4] == ("id", "stock_number", "make", "model")
    assert "embed_text" in VEHICLE_COLUMNS
    row = tuple(getattr(fleet[0], c) for c in VEHICLE_COLUMNS)
    assert row[0] == 1 and row[-1] == fleet[0].embed_text and len(row) == len(set(VEHICLE_COLUMNS))
    assert [v.id for v in fleet[:5]] == [1, 2, 3, 4, 5]


def test_every_vehicle_is_in_the_catalog_and_the_enums(
    catalog: Catalog, fleet: list[Vehicle]
) -> None:
    models = {(m.make, m.slug): m for m in catalog.models()}
    dealers = {d.slug for d in generate_dealers(7, catalog)}
    colors = {c for c, _ in COLORS}
    for v in fleet:
        model = models[(v.make, v.model)]
        assert v.body in model.bodies and v.body in BODIES
        assert v.fuel in model.fuels and v.fuel in FUELS
        assert v.drivetrain in model.drivetrains and v.drivetrain in DRIVETRAINS
        assert v.year in model.year_list()
        assert v.transmission in TRANSMISSIONS and v.color in colors
        assert v.condition in CONDITIONS and v.region in REGIONS and v.dealer in dealers
        assert v.model_name == model.name and v.title.startswith(f"{v.year} {v.make_name}")
        assert v.fuel != "electric" or v.transmission == "automatic"


def test_prices_mileage_and_years_are_plausible(fleet: list[Vehicle]) -> None:
    for v in fleet:
        assert 1_500 <= v.price <= 2_000_000, v
        assert v.price % 100 == 0 or v.price % 1000 == 995, v
        assert 0 <= v.mileage <= 320_000, v
        assert 1992 <= v.year <= 2026
        if v.condition == "new":
            assert v.mileage < 100 and v.year >= 2025
    prices = sorted(v.price for v in fleet)
    assert 12_000 <= prices[len(prices) // 2] <= 35_000  # median near the US used-car median
    new = [v.price for v in fleet if v.condition == "new" and v.model == "camry"]
    old = [v.price for v in fleet if v.model == "camry" and v.year <= 2010]
    assert sum(new) / len(new) > 2 * sum(old) / len(old)  # depreciation shows


def test_distinct_embed_texts_stay_within_the_embedding_budget(fleet: list[Vehicle]) -> None:
    # ~17k at 100k: about 3.5 minutes of embedding on 2 cores, once (cached by content hash).
    assert len({v.embed_text for v in fleet}) <= 20_000
    for v in fleet[:1000]:
        assert v.make_name in v.embed_text and v.model_name in v.embed_text
        assert str(v.year) not in v.embed_text and v.color not in v.embed_text


def test_popularity_and_coverage_look_like_a_real_market(fleet: list[Vehicle]) -> None:
    makes = Counter(v.make for v in fleet)
    assert {m for m, _ in makes.most_common(4)} == {"toyota", "ford", "chevrolet", "honda"}
    assert makes["tesla"] > 500 and makes["rivian"] > 0
    assert {v.region for v in fleet} == set(REGIONS)
    fuels = Counter(v.fuel for v in fleet)
    assert set(fuels) == set(FUELS) and fuels["electric"] > 1_000
    assert len({v.dealer for v in fleet}) > 1_500
    assert Counter(v.body for v in fleet).most_common(1)[0][0] == "suv"


def test_generating_100k_takes_seconds(catalog: Catalog) -> None:
    start = time.perf_counter()
    for _ in generate_vehicles(20_000, 11, catalog):
        pass
    assert time.perf_counter() - start < 5.0  # ~0.6 s here; 100k in ~3 s
