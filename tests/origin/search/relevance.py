"""The labelled relevance set (tests/relevance/queries.json) and the measures computed on it.

Pure functions of plain data: which vehicles a query's expected filters match, the 0-3 grade of a
result (tests/relevance/README.md), nDCG@k, and recall@k against the exact ranking.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

QUERIES_PATH = Path(__file__).resolve().parents[2] / "relevance" / "queries.json"

SET_FILTERS = ("make", "model", "body", "fuel", "drivetrain", "transmission", "color", "dealer")
RANGE_FILTERS = {  # filter -> (attribute, is a minimum)
    "year_min": ("year", True),
    "year_max": ("year", False),
    "price_min": ("price", True),
    "price_max": ("price", False),
    "mileage_max": ("mileage", False),
}
GRADED_ATTRIBUTES = ("make", "model", "body", "fuel", "drivetrain", "transmission", "color")
NUMERIC_RULES = {  # grade rule -> (attribute, is a minimum)
    "year_at_least": ("year", True),
    "price_at_most": ("price", False),
    "price_at_least": ("price", True),
    "mileage_at_most": ("mileage", False),
}
GRADE_RULES = frozenset({*GRADED_ATTRIBUTES, *NUMERIC_RULES, "text"})
MAX_GRADE = 3
EARTH_RADIUS_MI = 3958.8
# The scores in a response are -distance rounded to 4 places: results this close count as ties.
SCORE_TIE = 1e-4


@dataclass(frozen=True)
class LabelledQuery:
    id: str
    query: str
    expect_filters: dict[str, Any]
    grades: dict[str, Any]

    @property
    def limit(self) -> int:
        for part in self.query.split("&"):
            name, _, value = part.partition("=")
            if name == "limit":
                return int(value)
        return 20


def load_queries(path: Path = QUERIES_PATH) -> list[LabelledQuery]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return [LabelledQuery(q["id"], q["query"], q["expect_filters"], q["grades"]) for q in raw]


def haversine_mi(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_MI * math.asin(math.sqrt(a))


def matches_filters(
    vehicle: Any, filters: Mapping[str, Any], zips: Mapping[str, tuple[float, float]]
) -> bool:
    """Whether an inventory vehicle satisfies filters in the response's query.filters form."""
    for name in SET_FILTERS:
        if name in filters and getattr(vehicle, name) not in filters[name]:
            return False
    for name, (attribute, is_min) in RANGE_FILTERS.items():
        if name in filters:
            value = getattr(vehicle, attribute)
            if (value < filters[name]) if is_min else (value > filters[name]):
                return False
    if "zip" in filters:
        lat, lon = zips[filters["zip"]]
        if haversine_mi(lat, lon, vehicle.lat, vehicle.lon) > filters["radius_mi"]:
            return False
    return True


def filter_violations(result: Mapping[str, Any], filters: Mapping[str, Any]) -> list[str]:
    """The expected filters a result (a response row) does not honour."""
    broken = [name for name in SET_FILTERS if name in filters and result[name] not in filters[name]]
    for name, (attribute, is_min) in RANGE_FILTERS.items():
        if name in filters:
            value = result[attribute]
            if (value < filters[name]) if is_min else (value > filters[name]):
                broken.append(name)
    if "zip" in filters and not result["distance_mi"] <= filters["radius_mi"] + 0.1:
        broken.append("radius_mi")
    return broken


def grade(item: Mapping[str, Any] | Any, rules: Mapping[str, Any]) -> int:
    """0-3: for each rule the best points it gives this item, summed over rules, capped at 3.

    `item` is a response row or an inventory Vehicle (attribute or key access both work).
    """

    def get(name: str) -> Any:
        return item[name] if isinstance(item, Mapping) else getattr(item, name)

    total = 0
    for rule, table in rules.items():
        if rule in GRADED_ATTRIBUTES:
            total += int(table.get(get(rule), 0))
        elif rule == "text":
            words = f"{get('title')} {get('description')}".lower()
            total += max((int(p) for phrase, p in table.items() if phrase in words), default=0)
        elif rule in NUMERIC_RULES:
            attribute, is_min = NUMERIC_RULES[rule]
            bound, points = table
            value = get(attribute)
            total += int(points) if (value >= bound if is_min else value <= bound) else 0
        else:
            raise ValueError(f"unknown grade rule {rule!r}")
    return min(total, MAX_GRADE)


def dcg(gains: Sequence[int]) -> float:
    return sum((2.0**g - 1) / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg(gains: Sequence[int], all_gains: Sequence[int], k: int = 10) -> float:
    """nDCG@k of a ranking's gains, the ideal being the best k of every matching vehicle's gain."""
    ideal = dcg(sorted(all_gains, reverse=True)[:k])
    return 1.0 if ideal == 0 else dcg(list(gains)[:k]) / ideal


def random_ndcg(all_gains: Sequence[int], k: int, seed: str, rounds: int = 20) -> float:
    """The mean nDCG@k of `rounds` seeded random orderings of the same matches."""
    rng = random.Random(seed)
    pool = list(all_gains)
    total = 0.0
    for _ in range(rounds):
        total += ndcg(rng.sample(pool, min(k, len(pool))), pool, k)
    return total / rounds


def recall_at_k(
    found: Sequence[Mapping[str, Any]],
    truth: Sequence[Mapping[str, Any]],
    k: int = 10,
    *,
    ties: bool = True,
) -> float:
    """Share of the exact top k that the approximate top k holds.

    With `ties` (a ranking by similarity), vehicles with the same embedded text are exactly
    equidistant, so when the k-th place is a tie any of the tied vehicles is a correct answer: a
    found row counts when it is in the exact top k or scores at least as well as the exact k-th
    row. Without (a column sort), only the same ids count.
    """
    truth = list(truth)[:k]
    if not truth:
        return 1.0
    wanted = {row["id"] for row in truth}
    cut = min(row["score"] for row in truth) if ties else 0.0
    hits = sum(
        1
        for row in list(found)[:k]
        if row["id"] in wanted or (ties and row["score"] >= cut - SCORE_TIE)
    )
    return min(hits, len(truth)) / len(truth)
