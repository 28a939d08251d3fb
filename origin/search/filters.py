"""Canonical filters (from the shared query module) -> a parameterised SQL WHERE clause."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from origin.db.sql import Where

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
                per_text=column in TEXT_COLUMNS,
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
