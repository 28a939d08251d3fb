"""The catalog: rebuilding from node_modules gives the committed files; the content is sane."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from origin.catalog import build, sources
from origin.catalog.build import (
    BODIES,
    CATALOG_PATH,
    DRIVETRAINS,
    FUELS,
    REGIONS,
    VOCAB_PATH,
    Catalog,
    build_catalog,
    catalog_from_json,
    catalog_to_json,
    load_catalog,
    slugify,
    vocab_to_python,
)

NODE_MODULES = sources.default_node_modules()
needs_node_modules = pytest.mark.skipif(
    not (NODE_MODULES / sources.VPIC_DB).exists(),
    reason="node_modules with the catalog packages is not installed (run npm ci)",
)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def rebuilt() -> Catalog:
    return build_catalog(NODE_MODULES)


@needs_node_modules
def test_regenerated_catalog_json_equals_committed_file(rebuilt: Catalog) -> None:
    assert catalog_to_json(rebuilt) == CATALOG_PATH.read_text(encoding="utf-8")


@needs_node_modules
def test_regenerated_vocab_equals_committed_file(rebuilt: Catalog) -> None:
    assert vocab_to_python(rebuilt) == VOCAB_PATH.read_text(encoding="utf-8")


def test_catalog_json_round_trips_byte_for_byte(catalog: Catalog) -> None:
    text = CATALOG_PATH.read_text(encoding="utf-8")
    assert catalog_to_json(catalog_from_json(text)) == text


def test_committed_files_stay_small() -> None:
    assert CATALOG_PATH.stat().st_size < 1_600_000
    assert VOCAB_PATH.stat().st_size < 150_000


def test_catalog_has_the_makes_shoppers_know(catalog: Catalog) -> None:
    slugs = {m.slug for m in catalog.makes}
    assert 40 <= len(slugs) <= 60
    assert {"toyota", "ford", "chevrolet", "honda", "tesla", "rivian", "mercedes-benz"} <= slugs
    assert "freightliner" not in slugs  # commercial trucks are not passenger makes
    assert "scion" not in slugs  # vPIC does not know it: the cross-check drops it


def test_every_model_uses_only_the_api_enums(catalog: Catalog) -> None:
    for model in catalog.models():
        assert model.body == model.bodies[0]
        assert set(model.bodies) <= set(BODIES), model
        assert model.fuels and set(model.fuels) <= set(FUELS), model
        assert model.drivetrains and set(model.drivetrains) <= set(DRIVETRAINS), model
        assert model.years[0][0] >= 1992 and model.years[-1][1] <= 2026, model
        assert 5_000 <= model.base_price <= 500_000, model


@pytest.mark.parametrize(
    ("make", "model"),
    [
        ("tesla", "model-3"),
        ("tesla", "model-y"),
        ("ford", "f-150-lightning"),
        ("ford", "mustang-mach-e"),
        ("rivian", "r1t"),
        ("rivian", "r1s"),
        ("hyundai", "ioniq-5"),
        ("chevrolet", "bolt-ev"),
    ],
)
def test_electric_models_from_vpic_exist(catalog: Catalog, make: str, model: str) -> None:
    found = {m.slug: m for m in catalog.make(make).models}
    assert found[model].fuels == ("electric",)
    assert found[model].years[-1][1] >= 2023


def test_list_of_cars_models_run_on_into_vpic_years(catalog: Catalog) -> None:
    toyota = {m.slug: m for m in catalog.make("toyota").models}
    assert toyota["camry"].years == ((1992, 2026),)
    assert "hybrid" in toyota["rav4"].fuels
    # Cab styles and fuel variants fold into one model.
    ford = {m.slug for m in catalog.make("ford").models}
    assert "f-150" in ford and not any("cab" in slug for slug in ford)
    assert "rav4-hybrid" not in toyota


def test_model_slugs_follow_the_vocab_rule(catalog: Catalog) -> None:
    for make in catalog.makes:
        assert make.slug == slugify(make.name)
        for model in make.models:
            assert model.slug == slugify(model.name)
            assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", model.slug)


def test_slugify_matches_the_documented_examples() -> None:
    assert slugify("Mercedes-Benz") == "mercedes-benz"
    assert slugify("F-150") == "f-150"
    assert slugify("C/V  Tradesman") == "c-v-tradesman"
    assert slugify("Citroën") == "citroen"


def test_zip_table_covers_every_census_region(catalog: Catalog) -> None:
    assert len(catalog.zips) > 40_000
    assert {z.region for z in catalog.zips} == set(REGIONS)
    beverly_hills = next(z for z in catalog.zips if z.zip == "90210")
    assert (beverly_hills.state, beverly_hills.region) == ("CA", "west")
    # Inside California (the source geocodes it to the county centroid, not the city).
    assert 32.5 < beverly_hills.lat < 42.0 and -124.5 < beverly_hills.lon < -114.0


def test_vocab_module_is_importable_and_matches_catalog(catalog: Catalog) -> None:
    namespace: dict[str, object] = {}
    exec(compile(VOCAB_PATH.read_text(encoding="utf-8"), str(VOCAB_PATH), "exec"), namespace)
    make_names = namespace["MAKE_NAMES"]
    model_names = namespace["MODEL_NAMES"]
    assert make_names == {m.slug: m.name for m in catalog.makes}
    assert model_names == {m.slug: {x.slug: x.name for x in m.models} for m in catalog.makes}


def test_main_catalog_writes_both_files(tmp_path: Path, rebuilt: Catalog) -> None:
    # write_catalog is what the CLI calls after building; building twice is the slow part.
    build.write_catalog(rebuilt, tmp_path / "catalog.json", tmp_path / "vocab.py")
    assert (tmp_path / "catalog.json").read_text() == catalog_to_json(rebuilt)
    assert (tmp_path / "vocab.py").read_text().startswith('"""Vehicle vocabulary')
