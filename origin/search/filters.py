"""Canonical filters (from the shared query module) -> a parameterised SQL WHERE clause."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from origin.db.sql import Where
from origin.db.vehicles import COUNTS_PRICE_STEP, COUNTS_PRICE_TOP

EARTH_RADIUS_MI = 3958.8
MILES_PER_DEGREE_LAT = 69.0

# filter name -> column, for the set-valued filters
# A new filter column belongs in the vehicles_text_hash index too (migrations/0005_text_index.sql).
_SET_COLUMNS = {
    "make": "make",
    "model": "model",
    "body": "body",
    "fuel": "fuel",
    "drivetrain": "drivetrain",
    "transmission": "transmission",
    "color": "color",
    "dealer": "dealer",
}
# The columns the embedded text is built from (make and model names, body, fuel and drive labels:
# origin/inventory/service.py embed_text), so the listings of one text share their values; their
# filters also select texts in `text_filters` (migrations/0006_text_filters.sql).
TEXT_COLUMNS = ("make", "model", "body", "fuel", "drivetrain")
_RANGE_COLUMNS = {
    "year_min": ("year", ">="),
    "year_max": ("year", "<="),
    "price_min": ("price", ">="),
    "price_max": ("price", "<="),
    "mileage_max": ("mileage", "<="),
}


@dataclass(frozen=True)
class GeoPoint:
    lat: float
    lon: float


def distance_sql(point_lat: str, point_lon: str) -> str:
    """Great-circle distance in miles from the placeholders' point to the row (haversine)."""
    return (
        f"({2 * EARTH_RADIUS_MI} * asin(sqrt("
        f"power(sin(radians(lat - {point_lat}) / 2), 2) + "
        f"cos(radians({point_lat})) * cos(radians(lat)) * "
        f"power(sin(radians(lon - {point_lon}) / 2), 2))))"
    )


def build_where(
    filters: Mapping[str, object], origin: GeoPoint | None, where: Where | None = None
) -> Where:
    where = where or Where()
    where.add("status = 'active'")
    for name, column in _SET_COLUMNS.items():
        values = filters.get(name)
        if values:
            where.add(
                f"{column} = ANY({where.param(list(values))}::text[])",  # type: ignore[call-overload]
                text_column=column if column in TEXT_COLUMNS else None,
            )
    for name, (column, op) in _RANGE_COLUMNS.items():
        value = filters.get(name)
        if value is not None:
            where.add(f"{column} {op} {where.param(value)}::int")
    radius = filters.get("radius_mi")
    if origin is not None and isinstance(radius, int):
        # A bounding box the (lat, lon) index can use, then the exact circle.
        dlat = radius / MILES_PER_DEGREE_LAT
        dlon = radius / (MILES_PER_DEGREE_LAT * max(math.cos(math.radians(origin.lat)), 0.01))
        lat = where.param(origin.lat) + "::float8"
        lon = where.param(origin.lon) + "::float8"
        where.add(f"lat BETWEEN {lat} - {dlat:.6f} AND {lat} + {dlat:.6f}")
        where.add(f"lon BETWEEN {lon} - {dlon:.6f} AND {lon} + {dlon:.6f}")
        where.add(f"{distance_sql(lat, lon)} <= {where.param(float(radius))}::float8")
    return where


def build_counts_where(filters: Mapping[str, object], origin: GeoPoint | None) -> Where | None:
    """The filters as a WHERE clause over `facet_counts` (migrations/0007_facet_counts.sql), or
    None when one needs the listings: a column the table does not keep (colour, mileage, place,
    ...) or a price between its steps. Must select what build_where selects (a test compares)."""
    where = Where()
    for name, column in _SET_COLUMNS.items():
        values = filters.get(name)
        if not values:
            continue
        if column not in TEXT_COLUMNS:
            return None
        where.add(f"{column} = ANY({where.param(list(values))}::text[])")  # type: ignore[call-overload]
    for name, (column, op) in _RANGE_COLUMNS.items():
        value = filters.get(name)
        if value is None:
            continue
        if column == "year":
            where.add(f"year {op} {where.param(value)}::int")
        elif column == "price" and isinstance(value, int) and _on_price_step(value):
            price = where.param(value)
            where.add(
                f"price_floor >= {price}::int"
                if op == ">="
                else f"(price_floor < {price}::int OR (price_floor = {price}::int AND at_floor))"
            )
        else:
            return None
    if origin is not None and isinstance(filters.get("radius_mi"), int):
        return None
    return where


def _on_price_step(price: int) -> bool:
    return price % COUNTS_PRICE_STEP == 0 and 0 <= price <= COUNTS_PRICE_TOP
