"""Domain aliases shared across the origin, so signatures say what a value means."""

from typing import Any, TypeAlias

VehicleId: TypeAlias = int
CacheKey: TypeAlias = str
Tag: TypeAlias = str
JSONDict: TypeAlias = dict[str, Any]
