"""Deterministic demo inventory: `generate_vehicles(n, seed, catalog)` yields realistic listings.

Vehicle i depends only on (seed, i) and the catalog, never on n, so a small seed run is a prefix
of a large one. `embed_text` is kept to a few thousand distinct strings (embedding is slow).
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields

from origin.catalog.build import Catalog, Model, ZipCode, slugify
from origin.catalog.rules import BODY_PRICES, FUEL_PRICE_FACTORS

CURRENT_MODEL_YEAR = 2026  # fixed, not today's date: output must not change with the calendar
DEALER_COUNT = 2000
MAX_MILEAGE = 320_000

COLORS = (
    ("white", 25.0),
    ("black", 19.0),
    ("gray", 17.0),
    ("silver", 12.0),
    ("blue", 9.0),
    ("red", 9.0),
    ("green", 2.0),
    ("brown", 1.5),
    ("beige", 1.0),
    ("orange", 1.0),
    ("yellow", 0.7),
    ("gold", 0.5),
    ("purple", 0.3),
)
CONDITIONS = ("new", "used", "certified")
TRANSMISSIONS = ("automatic", "manual", "cvt")

BODY_LABELS = {
    "sedan": "sedan",
    "suv": "SUV",
    "pickup": "pickup truck",
    "coupe": "coupe",
    "hatchback": "hatchback",
    "convertible": "convertible",
    "wagon": "wagon",
    "van": "van",
    "minivan": "minivan",
}
FUEL_LABELS = {
    "gasoline": "gas",
    "diesel": "diesel",
    "hybrid": "hybrid",
    "plugin_hybrid": "plug-in hybrid",
    "electric": "electric",
}
DRIVE_LABELS = {
    "fwd": "front-wheel drive",
    "rwd": "rear-wheel drive",
    "awd": "all-wheel drive",
    "4wd": "four-wheel drive",
}
# The one feature phrase that goes into embed_text: few per body, so distinct texts stay few.
BODY_FEATURES = {
    "sedan": ("comfortable daily commuter", "sporty handling", "premium leather interior"),
    "suv": ("family road-trip hauler", "roomy cargo space", "off-road ready"),
    "pickup": ("tow package", "crew cab", "work-ready bed liner"),
    "coupe": ("sporty two-door", "performance exhaust", "weekend driver"),
    "convertible": ("open-air soft top", "summer cruiser", "sporty roadster feel"),
    "hatchback": ("easy city parking", "fuel-efficient commuter", "versatile hatch cargo space"),
    "wagon": ("extra cargo room", "family road-trip wagon", "all-weather versatility"),
    "van": ("cargo shelving upfit", "passenger seating for 12", "high roof work van"),
    "minivan": ("sliding doors", "third-row seating", "rear entertainment system"),
}
FUEL_FEATURES = {
    "electric": ("long-range battery", "DC fast charging"),
    "plugin_hybrid": ("electric-only commuting range",),
    "hybrid": ("excellent fuel economy",),
}
LARGE_SUV_FEATURE = "third-row seating"
EXTRA_FEATURES = (
    "a backup camera",
    "Apple CarPlay and Android Auto",
    "heated seats",
    "a sunroof",
    "navigation",
    "adaptive cruise control",
    "blind-spot monitoring",
    "remote start",
    "keyless entry",
    "a premium sound system",
)
TRIMS: dict[str, tuple[str, ...]] = {
    "toyota": ("LE", "SE", "XLE", "XSE", "Limited"),
    "honda": ("LX", "Sport", "EX", "EX-L", "Touring"),
    "ford": ("XL", "XLT", "SE", "Titanium", "Lariat", "Platinum"),
    "chevrolet": ("LS", "LT", "RS", "Premier", "LTZ"),
    "gmc": ("SLE", "SLT", "AT4", "Denali"),
    "ram": ("Tradesman", "Big Horn", "Laramie", "Limited"),
    "nissan": ("S", "SV", "SL", "Platinum"),
    "hyundai": ("SE", "SEL", "Limited", "N Line"),
    "kia": ("LX", "S", "EX", "SX"),
    "jeep": ("Sport", "Latitude", "Limited", "Trailhawk", "Overland"),
    "subaru": ("Base", "Premium", "Sport", "Limited", "Touring"),
    "mazda": ("Sport", "Select", "Preferred", "Premium", "Turbo"),
    "volkswagen": ("S", "SE", "SEL"),
    "tesla": ("Standard Range", "Long Range", "Performance"),
    "rivian": ("Adventure", "Ascend", "Launch Edition"),
    "bmw": ("Base", "M Sport", "xLine"),
    "mercedes-benz": ("Base", "AMG Line", "4MATIC"),
    "audi": ("Premium", "Premium Plus", "Prestige"),
    "lexus": ("Base", "Premium", "F Sport", "Luxury"),
}
DEFAULT_TRIMS = ("Base", "Sport", "Premium", "Limited")
DEALER_SUFFIXES = ("Motors", "Auto Sales", "Auto Group", "Autoplex", "Car Company", "Automotive")
_CVT_MAKES = {"nissan", "subaru", "honda", "toyota", "mitsubishi"}


@dataclass(frozen=True, slots=True)
class Vehicle:
    id: int
    stock_number: str
    make: str
    model: str
    make_name: str
    model_name: str
    year: int
    trim: str
    price: int
    mileage: int
    body: str
    fuel: str
    drivetrain: str
    transmission: str
    color: str
    condition: str
    zip: str
    lat: float
    lon: float
    city: str
    state: str
    region: str
    dealer: str
    title: str
    description: str
    embed_text: str


VEHICLE_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Vehicle))


@dataclass(frozen=True)
class Dealer:
    slug: str
    name: str
    location: ZipCode


def generate_dealers(seed: int, catalog: Catalog) -> tuple[Dealer, ...]:
    """DEALER_COUNT dealers, each at a ZIP; a fixed function of the seed (not of n)."""
    rng = random.Random(f"vsearch-dealers:{seed}")
    dealers: list[Dealer] = []
    taken: set[str] = set()
    for _ in range(DEALER_COUNT):
        location = rng.choice(catalog.zips)
        name = f"{location.city} {rng.choice(DEALER_SUFFIXES)}"
        slug = base = slugify(f"{name} {location.state}")
        for k in itertools.count(2):
            if slug not in taken:
                break
            slug = f"{base}-{k}"
        taken.add(slug)
        dealers.append(Dealer(slug, name, location))
    return tuple(dealers)


def generate_vehicles(n: int, seed: int, catalog: Catalog) -> Iterator[Vehicle]:
    """Vehicles 1..n; vehicle i is a pure function of (seed, i, catalog)."""
    plan = _Plan(seed, catalog)
    for i in range(1, n + 1):
        yield plan.vehicle(i)


def _year_weight(age: int) -> float:
    # Listings peak at 1-3 years old (off-lease) and thin out as cars age.
    if age <= 0:
        return 0.7
    if age <= 4:
        return 1.0 - 0.03 * (age - 1)
    return 0.91 * 0.85 ** (age - 4)


class _Plan:
    """Precomputed sampling tables shared by every vehicle of one seed."""

    def __init__(self, seed: int, catalog: Catalog) -> None:
        self.seed = seed
        self.make_names = {m.slug: m.name for m in catalog.makes}
        self.tiers = {m.slug: m.tier for m in catalog.makes}
        pairs: list[tuple[Model, int]] = []
        weights: list[float] = []
        make_total = sum(m.popularity for m in catalog.makes)
        for make in catalog.makes:
            model_total = sum(m.popularity for m in make.models)
            for model in make.models:
                share = make.popularity / make_total * model.popularity / model_total
                for year in model.year_list():
                    pairs.append((model, year))
                    weights.append(share * _year_weight(CURRENT_MODEL_YEAR - year))
        self.pairs = pairs
        self.cum_pairs = list(itertools.accumulate(weights))
        self.dealers = generate_dealers(seed, catalog)
        rng = random.Random(f"vsearch-dealer-sizes:{seed}")
        self.cum_dealers = list(
            itertools.accumulate(min(rng.paretovariate(1.2), 50.0) for _ in self.dealers)
        )
        self.colors = [c for c, _ in COLORS]
        self.cum_colors = list(itertools.accumulate(w for _, w in COLORS))

    def vehicle(self, i: int) -> Vehicle:
        rng = random.Random(f"vsearch:{self.seed}:{i}")
        model, year = self.pairs[_pick(rng, self.cum_pairs)]
        age = CURRENT_MODEL_YEAR - year
        body = _weighted_first(rng, model.bodies, 0.75)
        fuel = _fuel(rng, model.fuels, year)
        drivetrain = _weighted_first(rng, model.drivetrains, 0.6)
        transmission = _transmission(rng, model.make, body, fuel, year)
        color = self.colors[_pick(rng, self.cum_colors)]
        condition = _condition(rng, age)
        mileage = _mileage(rng, age, condition)
        trims = TRIMS.get(model.make, DEFAULT_TRIMS)
        trim_index = min(int(rng.expovariate(0.8)), len(trims) - 1)
        price = _price(rng, model, body, fuel, drivetrain, trim_index, age, mileage, condition)
        dealer = self.dealers[_pick(rng, self.cum_dealers)]
        where = dealer.location
        make_name = self.make_names[model.make]
        feature = _embed_feature(rng, model, body, fuel, drivetrain)
        # One equipment highlight joins the embedded text: shoppers ask for "heated seats", and it
        # keeps copies of one vector few (dozens of identical vectors crowd HNSW neighbour lists).
        extras = rng.sample(EXTRA_FEATURES, 2)
        drive_tag = {"awd": " AWD", "4wd": " 4WD"}.get(drivetrain, "")
        title = f"{year} {make_name} {model.name} {trims[trim_index]}{drive_tag}"
        return Vehicle(
            id=i,
            stock_number=f"{model.make[:3].upper()}{year % 100:02d}-{rng.getrandbits(24):06X}",
            make=model.make,
            model=model.slug,
            make_name=make_name,
            model_name=model.name,
            year=year,
            trim=trims[trim_index],
            price=price,
            mileage=mileage,
            body=body,
            fuel=fuel,
            drivetrain=drivetrain,
            transmission=transmission,
            color=color,
            condition=condition,
            zip=where.zip,
            lat=where.lat,
            lon=where.lon,
            city=where.city,
            state=where.state,
            region=where.region,
            dealer=dealer.slug,
            title=title,
            description=_description(rng, title, color, mileage, condition, feature, extras),
            embed_text=(
                f"{make_name} {model.name} {BODY_LABELS[body]}, {FUEL_LABELS[fuel]}, "
                f"{DRIVE_LABELS[drivetrain]}, {feature}, {extras[0]}"
            ),
        )


def _pick(rng: random.Random, cum_weights: Sequence[float]) -> int:
    return bisect.bisect_right(cum_weights, rng.random() * cum_weights[-1])


def _weighted_first(rng: random.Random, options: Sequence[str], first: float) -> str:
    if len(options) == 1 or rng.random() < first:
        return options[0]
    return options[1 + rng.randrange(len(options) - 1)]


_FUEL_WEIGHTS = {"gasoline": 1.0, "diesel": 0.12, "hybrid": 0.2, "plugin_hybrid": 0.06}


def _fuel(rng: random.Random, fuels: Sequence[str], year: int) -> str:
    if len(fuels) == 1:
        return fuels[0]
    # An electric option on a mostly-gas model (Transit, Kona) is a minority of listings, and
    # electrified versions of old model years are rarer still.
    weights = [
        _FUEL_WEIGHTS.get(f, 0.12) * (0.3 if year < 2012 and f != "gasoline" else 1.0)
        for f in fuels
    ]
    return fuels[_pick(rng, list(itertools.accumulate(weights)))]


def _transmission(rng: random.Random, make: str, body: str, fuel: str, year: int) -> str:
    if fuel == "electric":
        return "automatic"
    if fuel in ("hybrid", "plugin_hybrid") and make in ("toyota", "lexus", "ford"):
        return "cvt"
    manual = {"coupe": 0.12, "convertible": 0.1, "hatchback": 0.06, "sedan": 0.03}.get(body, 0.01)
    if year < 2012:
        manual *= 2
    if rng.random() < manual:
        return "manual"
    small = body in ("sedan", "hatchback", "suv", "wagon")
    if make in _CVT_MAKES and small and year >= 2013 and rng.random() < 0.6:
        return "cvt"
    return "automatic"


def _condition(rng: random.Random, age: int) -> str:
    roll = rng.random()
    if age <= 0:
        return "new" if roll < 0.85 else "used"
    if age == 1 and roll < 0.35:
        return "new"  # last year's models still on the lot
    if age <= 6 and roll > 0.82:
        return "certified"
    return "used"


def _mileage(rng: random.Random, age: int, condition: str) -> int:
    if condition == "new":
        return rng.randint(3, 60)
    expected = max(age, 0.4) * 12000 * rng.lognormvariate(0.0, 0.35)
    if condition == "certified":
        expected = min(expected, 75000.0)
    return min(max(int(expected), 500), MAX_MILEAGE)


def _price(
    rng: random.Random,
    model: Model,
    body: str,
    fuel: str,
    drivetrain: str,
    trim_index: int,
    age: int,
    mileage: int,
    condition: str,
) -> int:
    value = float(model.base_price)
    value *= BODY_PRICES[body] / BODY_PRICES[model.body]
    value *= FUEL_PRICE_FACTORS[fuel] / FUEL_PRICE_FACTORS[model.fuels[0]]
    value *= 1.06 if drivetrain in ("awd", "4wd") else 1.0
    value *= 1.0 + 0.08 * trim_index
    if condition == "new":
        value *= rng.uniform(0.97, 1.08)
    else:
        # ~18% off the lot, then ~12% a year; mileage above the norm costs more.
        value *= 0.82 * 0.88 ** max(age - 1, 0)
        expected = max(age, 0.4) * 12000
        value *= min(max(1.15 - 0.15 * mileage / expected, 0.75), 1.1)
        value *= 1.05 if condition == "certified" else 1.0
        value *= rng.uniform(0.92, 1.08)
    value = max(value, rng.uniform(1500.0, 4000.0))
    if rng.random() < 0.5:
        return round(value / 100.0) * 100
    return max(round(value / 1000.0), 2) * 1000 - 5  # dealer-style $27,995


def _embed_feature(rng: random.Random, model: Model, body: str, fuel: str, drivetrain: str) -> str:
    options = list(FUEL_FEATURES.get(fuel, ())) or list(BODY_FEATURES[body])
    if body == "suv":
        if drivetrain not in ("awd", "4wd"):
            options = [o for o in options if o != "off-road ready"]
        if model.base_price >= 45000 and fuel == "gasoline":
            options.append(LARGE_SUV_FEATURE)
    return options[rng.randrange(len(options))]


def _description(
    rng: random.Random,
    title: str,
    color: str,
    mileage: int,
    condition: str,
    feature: str,
    extras: Sequence[str],
) -> str:
    opening = {"new": "New", "certified": "Certified pre-owned", "used": "Used"}[condition]
    miles = "delivery miles" if condition == "new" else f"{mileage:,} miles"
    first = f"{opening} {title} in {color} with {miles}."
    second = f"Highlights: {feature}, {extras[0]} and {extras[1]}."
    sentences = [first, second]
    if condition == "new":
        sentences.append("Full factory warranty.")
    elif rng.random() < 0.4:
        sentences.append(rng.choice(("One owner, clean title.", "Clean history report.")))
    return " ".join(sentences)
