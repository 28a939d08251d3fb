"""Builds the vehicle catalog (makes, models, ZIPs) from the npm data packages.

Owns `origin/catalog/data/catalog.json` and the generated `edge_worker/vsearch_vocab.py`
(`vsearch catalog` rebuilds both); everything else reads the catalog through `load_catalog`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from origin.catalog import rules, sources

REPO = Path(__file__).resolve().parents[2]
CATALOG_PATH = REPO / "origin" / "catalog" / "data" / "catalog.json"
VOCAB_PATH = REPO / "edge_worker" / "vsearch_vocab.py"
CATALOG_VERSION = 1
FIRST_YEAR, LAST_YEAR = 1992, sources.LAST_MODEL_YEAR
# list-of-cars stops at model year 2020; vPIC models first dated from here on are "new".
NEW_MODEL_FROM = 2019
LIST_OF_CARS_LAST = 2020

BODIES = ("sedan", "suv", "pickup", "coupe", "hatchback", "convertible", "wagon", "van", "minivan")
FUELS = ("gasoline", "diesel", "hybrid", "plugin_hybrid", "electric")
DRIVETRAINS = ("fwd", "rwd", "awd", "4wd")
REGIONS = ("northeast", "midwest", "south", "west")


@dataclass(frozen=True)
class Model:
    make: str
    slug: str
    name: str
    body: str
    bodies: tuple[str, ...]
    fuels: tuple[str, ...]
    drivetrains: tuple[str, ...]
    years: tuple[tuple[int, int], ...]
    base_price: int
    popularity: float

    def year_list(self) -> list[int]:
        return [y for first, last in self.years for y in range(first, last + 1)]


@dataclass(frozen=True)
class Make:
    slug: str
    name: str
    tier: str
    popularity: float
    models: tuple[Model, ...]


@dataclass(frozen=True)
class ZipCode:
    zip: str
    lat: float
    lon: float
    city: str
    state: str
    region: str


@dataclass(frozen=True)
class Catalog:
    makes: tuple[Make, ...]
    zips: tuple[ZipCode, ...]
    sources: tuple[tuple[str, str], ...] = ()

    def models(self) -> Iterable[Model]:
        for make in self.makes:
            yield from make.models

    def make(self, slug: str) -> Make:
        for make in self.makes:
            if make.slug == slug:
                return make
        raise KeyError(slug)


def slugify(text: str) -> str:
    """Lowercase ASCII; any run of other characters becomes one '-' (the vocab's slug rule)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


# ---------------------------------------------------------------------------------------------
# Building


@dataclass
class _Draft:
    """A model being assembled from list-of-cars variants and the matching vPIC model."""

    name: str
    years: set[int]
    categories: Counter[str]
    fuels: set[str]
    vpic: sources.VpicModel | None = None
    from_vpic_only: bool = False


def build_catalog(node_modules: Path | None = None) -> Catalog:
    node_modules = node_modules or sources.default_node_modules()
    cars = sources.read_list_of_cars(node_modules)
    vpic = sources.read_vpic_models(node_modules)
    vpic_by_make: dict[str, list[sources.VpicModel]] = defaultdict(list)
    for (make_name, _), entry in sorted(vpic.items()):
        vpic_by_make[make_name.lower()].append(entry)
    makes: list[Make] = []
    for spec in rules.MAKES:
        vpic_models = vpic_by_make.get(spec.vpic_name.lower(), [])
        if not vpic_models:
            continue  # the cross-check: a make vPIC has never heard of is not offered
        drafts = _drafts_from_list_of_cars(spec, [c for c in cars if c.make == spec.source_name])
        _merge_vpic(spec, drafts, vpic_models)
        models = _finish_models(spec, drafts)
        if models:
            makes.append(Make(slugify(spec.name), spec.name, spec.tier, spec.popularity, models))
    zips = tuple(_zip_codes(sources.read_zipcodes(node_modules)))
    versions = tuple(sorted(sources.package_versions(node_modules).items()))
    return Catalog(tuple(sorted(makes, key=lambda m: m.slug)), zips, versions)


def _drafts_from_list_of_cars(
    spec: rules.MakeSpec, cars: Sequence[sources.CarRow]
) -> dict[str, _Draft]:
    by_name: dict[str, list[sources.CarRow]] = defaultdict(list)
    for car in cars:
        if car.year >= FIRST_YEAR:
            by_name[car.model].append(car)
    named = {raw: rules.normalize_model_name(spec.name, raw) for raw in by_name}
    bases = {slugify(n.name) for n in named.values() if n is not None}
    drafts: dict[str, _Draft] = {}
    for raw in sorted(by_name):
        norm = named[raw]
        if norm is None:
            continue
        name, fuel = norm.name, norm.fuel
        siblings = {n.name for n in named.values() if n and n.variant_of == norm.variant_of}
        if norm.variant_of and (slugify(norm.variant_of) in bases or len(siblings) > 1):
            name = norm.variant_of  # "RAV4 Hybrid" is a RAV4 that runs on hybrid
        draft = drafts.setdefault(slugify(name), _Draft(name, set(), Counter(), set()))
        for car in by_name[raw]:
            draft.years.add(car.year)
            for category in re.sub(r"\d+", "", car.category).split(","):
                if category.strip():
                    draft.categories[category.strip()] += 1
        draft.fuels.add(fuel)
    return drafts


def _merge_vpic(
    spec: rules.MakeSpec, drafts: dict[str, _Draft], vpic_models: Sequence[sources.VpicModel]
) -> None:
    by_slug: dict[str, sources.VpicModel] = {}
    for entry in vpic_models:
        norm = rules.normalize_model_name(spec.name, entry.model)
        if norm is not None and entry.years:
            slug = slugify(norm.variant_of or norm.name)
            known = by_slug.get(slug)
            if known is None or len(entry.years) > len(known.years):
                by_slug[slug] = entry
    matched: set[str] = set()
    for slug, draft in drafts.items():
        # Exact slug first, else the longest vPIC name that starts it ("silverado" ->
        # "silverado-1500"); never the other way round ("mustang" is not "mustang-mach-e").
        candidates = [s for s in by_slug if s == slug or slug.startswith(s + "-")]
        if not candidates:
            continue
        best = max(candidates, key=len)
        matched.add(best)
        draft.vpic = by_slug[best]
        # A prefix match only carries on a model still sold when list-of-cars ends: "Silverado"
        # continues "Silverado 1500", not the "Silverado 2500" dropped in 2004.
        if best == slug or max(draft.years) >= LIST_OF_CARS_LAST - 1:
            draft.years.update(y for y in draft.vpic.years if y > max(draft.years))
    for slug, entry in sorted(by_slug.items()):
        if slug in matched or slug in drafts or min(entry.years) < NEW_MODEL_FROM:
            continue
        if _vpic_body(entry) is None:
            continue  # chassis cabs, step vans, tractors
        norm = rules.normalize_model_name(spec.name, entry.model)
        assert norm is not None
        name = norm.variant_of or norm.name
        years = {y for y in entry.years if FIRST_YEAR <= y <= LAST_YEAR}
        drafts[slug] = _Draft(name, years, Counter(), {norm.fuel}, entry, from_vpic_only=True)
    for (make_slug, base_slug), (ev_name, first_year) in sorted(rules.EV_VARIANTS.items()):
        base = drafts.get(base_slug)
        if make_slug != slugify(spec.name) or base is None or base.vpic is None:
            continue
        if _share(base.vpic, sources.FUEL_PRIMARY, "2") <= 0:
            continue  # vPIC does not know an electric version
        years = {y for y in base.years | base.vpic.years if y >= first_year}
        if years:
            draft = _Draft(ev_name, years, Counter(base.categories), {"electric"}, base.vpic)
            drafts[slugify(ev_name)] = draft


def _share(entry: sources.VpicModel, element: int, value: str) -> float:
    counts = entry.attributes.get(element)
    if not counts:
        return 0.0
    return counts[value] / sum(counts.values())


def _vpic_body(entry: sources.VpicModel) -> str | None:
    counts: Counter[str] = Counter()
    for value, n in entry.attributes.get(sources.BODY_CLASS, Counter()).items():
        body = rules.VPIC_BODIES.get(value)
        if body:
            counts[body] += n
    top = counts.most_common(1)
    return top[0][0] if top else None


def _finish_models(spec: rules.MakeSpec, drafts: dict[str, _Draft]) -> tuple[Model, ...]:
    make_slug = slugify(spec.name)
    finished: list[tuple[str, _Draft, tuple[str, ...]]] = []
    for slug, draft in sorted(drafts.items()):
        if slug in rules.DROP_MODELS.get(make_slug, ()) or not draft.years:
            continue
        bodies = _bodies(draft)
        if not bodies:
            continue
        finished.append((slug, draft, bodies))
    ranked = rules.rank_models(make_slug, [(slug, d.years) for slug, d, _ in finished])
    models = []
    for slug, draft, bodies in finished:
        fuels = _fuels(make_slug, slug, draft, bodies[0])
        drivetrains = rules.drivetrains_for(
            spec, slug, draft.name, bodies[0], fuels, _drives(draft)
        )
        models.append(
            Model(
                make=make_slug,
                slug=slug,
                name=draft.name,
                body=bodies[0],
                bodies=bodies,
                fuels=fuels,
                drivetrains=drivetrains,
                years=_ranges(draft.years),
                base_price=rules.base_price(spec, draft.name, bodies[0], fuels),
                popularity=round(1.0 / (ranked[slug] + 1) ** 1.1, 6),
            )
        )
    return tuple(models)


def _bodies(draft: _Draft) -> tuple[str, ...]:
    if draft.from_vpic_only or not draft.categories:
        body = _vpic_body(draft.vpic) if draft.vpic else None
        return (body,) if body else ()
    counts: Counter[str] = Counter()
    for category, n in draft.categories.items():
        body = rules.LIST_OF_CARS_BODIES.get(category)
        if body == "van":
            body = _van_or_minivan(draft)
        if body:
            counts[body] += n
    total = sum(counts.values())
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], BODIES.index(kv[0])))
    # Minor styles (a handful of wagon years) would only add noise to the inventory.
    return tuple(body for body, n in ordered if n >= 0.15 * total)[:3]


def _van_or_minivan(draft: _Draft) -> str:
    if draft.vpic is not None:
        body = _vpic_body(draft.vpic)
        if body in ("van", "minivan"):
            return body
    return "van" if rules.is_cargo_van(draft.name) else "minivan"


def _fuels(make_slug: str, slug: str, draft: _Draft, body: str) -> tuple[str, ...]:
    fuels = set(draft.fuels)
    override = rules.FUEL_OVERRIDES.get((make_slug, slug))
    if override is not None:
        return tuple(f for f in FUELS if f in override)
    if draft.vpic is not None and "electric" not in fuels:
        electric = _share(draft.vpic, sources.FUEL_PRIMARY, "2")
        counts = draft.vpic.attributes.get(sources.FUEL_PRIMARY, Counter())
        if electric >= 0.8:
            fuels = {"electric"}
        elif electric >= 0.1 and counts["2"] >= 5 and fuels <= {"gasoline"}:
            fuels.add("electric")
        diesel = _share(draft.vpic, sources.FUEL_PRIMARY, "1")
        if diesel >= 0.15 and counts["1"] >= 5 and body in ("pickup", "van", "suv"):
            fuels.add("diesel")
        levels = draft.vpic.attributes.get(sources.ELECTRIFICATION, Counter())
        if levels["3"] >= 2:
            fuels.add("plugin_hybrid")
        if levels["1"] + levels["2"] + levels["9"] >= 2:
            fuels.add("hybrid")
    fuels |= set(rules.FUEL_ADDITIONS.get((make_slug, slug), ()))
    return tuple(f for f in FUELS if f in fuels)


def _drives(draft: _Draft) -> Counter[str]:
    if draft.vpic is None:
        return Counter()
    return draft.vpic.attributes.get(sources.DRIVE_TYPE, Counter())


def _ranges(years: Iterable[int]) -> tuple[tuple[int, int], ...]:
    out: list[list[int]] = []
    for year in sorted(y for y in years if FIRST_YEAR <= y <= LAST_YEAR):
        if out and out[-1][1] == year - 1:
            out[-1][1] = year
        else:
            out.append([year, year])
    return tuple((a, b) for a, b in out)


def _zip_codes(rows: Iterable[sources.ZipRow]) -> Iterable[ZipCode]:
    for row in sorted(rows, key=lambda r: r.zip):
        region = rules.STATE_REGIONS.get(row.state)
        if region is not None:  # territories and military ZIPs have no Census region
            yield ZipCode(
                row.zip, round(row.lat, 3), round(row.lon, 3), row.city, row.state, region
            )


# ---------------------------------------------------------------------------------------------
# Serialization: one JSON document, one line per model and per state so diffs stay readable.


def catalog_to_json(catalog: Catalog) -> str:
    def dump(value: object) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)

    lines = ["{", f'"catalog_version":{CATALOG_VERSION},', '"makes":{']
    for i, make in enumerate(catalog.makes):
        head = {"name": make.name, "popularity": make.popularity, "tier": make.tier}
        lines.append(f'{dump(make.slug)}:{{"models":{{')
        for j, model in enumerate(make.models):
            entry = {
                "base_price": model.base_price,
                "bodies": list(model.bodies),
                "drivetrains": list(model.drivetrains),
                "fuels": list(model.fuels),
                "name": model.name,
                "popularity": model.popularity,
                "years": [list(r) for r in model.years],
            }
            comma = "," if j < len(make.models) - 1 else ""
            lines.append(f"{dump(model.slug)}:{dump(entry)}{comma}")
        lines.append(f"}},{dump(head)[1:]}" + ("," if i < len(catalog.makes) - 1 else ""))
    lines.append("},")
    lines.append(f'"sources":{dump(dict(catalog.sources))},')
    # ZIPs: state -> city -> "zip lat lon" strings; half the size of objects per ZIP.
    by_state: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for z in catalog.zips:
        by_state[z.state][z.city].append(f"{z.zip} {z.lat:g} {z.lon:g}")
    lines.append(f'"state_regions":{dump(rules.STATE_REGIONS)},')
    lines.append('"zips":{')
    states = sorted(by_state)
    for i, state in enumerate(states):
        comma = "," if i < len(states) - 1 else ""
        lines.append(f"{dump(state)}:{dump(by_state[state])}{comma}")
    lines.append("}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def catalog_from_json(text: str) -> Catalog:
    doc = json.loads(text)
    makes = []
    for make_slug, make in doc["makes"].items():
        models = tuple(
            Model(
                make=make_slug,
                slug=slug,
                name=m["name"],
                body=m["bodies"][0],
                bodies=tuple(m["bodies"]),
                fuels=tuple(m["fuels"]),
                drivetrains=tuple(m["drivetrains"]),
                years=tuple((int(a), int(b)) for a, b in m["years"]),
                base_price=int(m["base_price"]),
                popularity=float(m["popularity"]),
            )
            for slug, m in make["models"].items()
        )
        makes.append(Make(make_slug, make["name"], make["tier"], make["popularity"], models))
    regions: dict[str, str] = doc["state_regions"]
    zips = []
    for state, cities in doc["zips"].items():
        for city, entries in cities.items():
            for entry in entries:
                code, lat, lon = entry.split(" ")
                zips.append(ZipCode(code, float(lat), float(lon), city, state, regions[state]))
    zips.sort(key=lambda z: z.zip)
    return Catalog(tuple(makes), tuple(zips), tuple(sorted(doc["sources"].items())))


def load_catalog(path: Path = CATALOG_PATH) -> Catalog:
    return catalog_from_json(path.read_text(encoding="utf-8"))


def catalog_digest(path: Path = CATALOG_PATH) -> str:
    """sha256 of the committed catalog: part of the seed's signature, so a new catalog reloads."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


VOCAB_HEADER = '''"""Vehicle vocabulary the shared query parser recognises in free text.

GENERATED by `vsearch catalog` (origin/catalog/build.py) from the catalog packages; do not edit.
Slugs are lowercase ASCII with '-' for any run of other characters
("Mercedes-Benz" -> "mercedes-benz", "F-150" -> "f-150"). Standard library only: the Worker
imports this file too.
"""
'''


def vocab_to_python(catalog: Catalog) -> str:
    def lit(text: str) -> str:
        return json.dumps(text, ensure_ascii=True)

    lines = [VOCAB_HEADER, "MAKE_NAMES: dict[str, str] = {"]
    lines += [f"    {lit(m.slug)}: {lit(m.name)}," for m in catalog.makes]
    lines += ["}", "", "# make slug -> model slug -> display name", ""]
    lines[-1] = "MODEL_NAMES: dict[str, dict[str, str]] = {"
    for make in catalog.makes:
        lines.append(f"    {lit(make.slug)}: {{")
        lines += [f"        {lit(m.slug)}: {lit(m.name)}," for m in make.models]
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_catalog(
    catalog: Catalog, catalog_path: Path = CATALOG_PATH, vocab_path: Path = VOCAB_PATH
) -> None:
    catalog_path.parent.mkdir(parents=True, exist_ok=True)
    catalog_path.write_text(catalog_to_json(catalog), encoding="utf-8")
    vocab_path.write_text(vocab_to_python(catalog), encoding="utf-8")


def main_catalog(argv: Sequence[str] | None = None) -> int:
    """`vsearch catalog`: rebuild catalog.json and vsearch_vocab.py from node_modules."""
    parser = argparse.ArgumentParser(prog="vsearch catalog", description=main_catalog.__doc__)
    parser.add_argument("--node-modules", type=Path, default=sources.default_node_modules())
    parser.add_argument("--catalog", type=Path, default=CATALOG_PATH)
    parser.add_argument("--vocab", type=Path, default=VOCAB_PATH)
    args = parser.parse_args(argv)
    catalog = build_catalog(args.node_modules)
    write_catalog(catalog, args.catalog, args.vocab)
    n_models = sum(len(m.models) for m in catalog.makes)
    print(f"catalog: {len(catalog.makes)} makes, {n_models} models, {len(catalog.zips)} ZIPs")
    return 0
