"""Facet counts equal the counts of the matching inventory, per body, fuel, make, price band and
year band, with band edges where the API says they are."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from starlette.testclient import TestClient

from origin.db.vehicles import PRICE_BANDS, YEAR_BANDS


def _band(value: int, bands: Any, upper_open: bool) -> str:
    for low, high in bands:
        above = low is None or value >= low
        below = high is None or (value < high if upper_open else value <= high)
        if above and below:
            return f"{low if low is not None else ''}-{high if high is not None else ''}"
    raise AssertionError(f"{value} is in no band")


@pytest.mark.parametrize("filters", ["", "body=suv", "price_max=30000", "make=toyota"])
def test_facets_count_the_matching_inventory(
    client: TestClient, inventory: Any, filters: str
) -> None:
    response = client.get(f"/v1/search?q=facet+check+{len(filters)}&{filters}")
    facets = response.json()["facets"]
    matching = [
        v
        for v in inventory.vehicles
        if (filters != "body=suv" or v.body == "suv")
        and (filters != "price_max=30000" or v.price <= 30000)
        and (filters != "make=toyota" or v.make == "toyota")
    ]
    assert facets["total"] == len(matching)
    assert facets["body"] == dict(Counter(v.body for v in matching))
    assert facets["fuel"] == dict(Counter(v.fuel for v in matching))
    makes = Counter(v.make for v in matching)
    assert all(facets["make"][make] == makes[make] for make in facets["make"])
    prices = Counter(_band(v.price, PRICE_BANDS, upper_open=True) for v in matching)
    years = Counter(_band(v.year, YEAR_BANDS, upper_open=False) for v in matching)
    assert facets["price"] == dict(prices) and facets["year"] == dict(years)
    # Bands come in their natural order, whatever their counts.
    assert list(facets["price"]) == [b for b in map(_label, PRICE_BANDS) if b in prices]
    assert list(facets["year"]) == [b for b in map(_label, YEAR_BANDS) if b in years]


def _label(band: tuple[int | None, int | None]) -> str:
    low, high = band
    return f"{low if low is not None else ''}-{high if high is not None else ''}"
