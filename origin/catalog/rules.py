"""Curated knowledge the data packages lack: which makes shoppers know, how to name a model,
and the documented fallback rules for fuel, drivetrain, price and popularity.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class MakeSpec:
    name: str  # display name
    source_name: str  # spelling in list-of-cars ("" for vPIC-only makes)
    vpic_name: str  # spelling in vPIC's Make table (matched case-insensitively)
    tier: str  # economy, mainstream, premium, luxury, exotic
    popularity: float  # relative share of used-car listings, roughly US registrations
    price_factor: float  # base price relative to a mainstream make


def _m(
    name: str, tier: str, popularity: float, price: float, source: str | None = None
) -> MakeSpec:
    return MakeSpec(name, name if source is None else source, name, tier, popularity, price)


# The passenger makes a US shopper knows. Dropped from list-of-cars: commercial (Freightliner),
# tiny or long-gone (Panoz, Daihatsu, Eagle, Geo, Daewoo, Fisker), sub-brands sold under a
# parent (SRT, Maybach). A make vPIC does not know (Scion) drops out in build.py's cross-check.
MAKES: tuple[MakeSpec, ...] = (
    _m("Acura", "premium", 1.2, 1.45),
    _m("Alfa Romeo", "premium", 0.15, 1.6),
    _m("Aston Martin", "exotic", 0.02, 6.0),
    _m("Audi", "premium", 1.5, 1.6),
    _m("BMW", "premium", 2.5, 1.7),
    _m("Bentley", "exotic", 0.03, 7.0),
    _m("Buick", "mainstream", 1.5, 1.15),
    _m("Cadillac", "premium", 1.2, 1.7),
    _m("Chevrolet", "mainstream", 13.0, 1.0),
    _m("Chrysler", "mainstream", 1.0, 1.05),
    _m("Dodge", "mainstream", 2.5, 1.05),
    _m("FIAT", "economy", 0.15, 0.8),
    _m("Ferrari", "exotic", 0.03, 9.0),
    _m("Ford", "mainstream", 13.0, 1.0),
    _m("GMC", "mainstream", 4.5, 1.15),
    _m("Genesis", "premium", 0.4, 1.5),
    _m("HUMMER", "premium", 0.1, 1.5),
    _m("Honda", "mainstream", 9.0, 1.0),
    _m("Hyundai", "mainstream", 5.0, 0.92),
    _m("INFINITI", "premium", 0.6, 1.45),
    _m("Isuzu", "economy", 0.03, 0.85),
    _m("Jaguar", "premium", 0.2, 1.9),
    _m("Jeep", "mainstream", 5.0, 1.05),
    _m("Kia", "mainstream", 5.0, 0.9),
    _m("Lamborghini", "exotic", 0.02, 9.0),
    _m("Land Rover", "luxury", 0.6, 2.3),
    _m("Lexus", "premium", 2.0, 1.55),
    _m("Lincoln", "premium", 0.8, 1.55),
    _m("Lotus", "exotic", 0.01, 3.5),
    _m("Lucid", "luxury", 0.05, 2.4),
    _m("MINI", "mainstream", 0.4, 1.05),
    _m("Maserati", "luxury", 0.1, 2.8),
    _m("Mazda", "mainstream", 2.5, 0.95, "MAZDA"),
    _m("McLaren", "exotic", 0.01, 8.0),
    _m("Mercedes-Benz", "premium", 2.5, 1.75),
    _m("Mercury", "mainstream", 0.15, 0.95),
    _m("Mitsubishi", "economy", 0.8, 0.85),
    _m("Nissan", "mainstream", 7.0, 0.95),
    _m("Oldsmobile", "mainstream", 0.05, 0.95),
    _m("Plymouth", "economy", 0.02, 0.85),
    _m("Polestar", "premium", 0.08, 1.6, ""),
    _m("Pontiac", "mainstream", 0.3, 0.95),
    _m("Porsche", "luxury", 0.5, 2.8),
    _m("Ram", "mainstream", 5.0, 1.05),
    _m("Rivian", "premium", 0.3, 1.8, ""),
    _m("Rolls-Royce", "exotic", 0.01, 11.0),
    _m("Saab", "mainstream", 0.05, 1.1),
    _m("Saturn", "economy", 0.15, 0.85),
    _m("Scion", "economy", 0.15, 0.85),
    _m("Subaru", "mainstream", 4.0, 1.0),
    _m("Suzuki", "economy", 0.1, 0.8),
    _m("Tesla", "premium", 2.5, 1.45),
    _m("Toyota", "mainstream", 14.0, 1.0),
    _m("Volkswagen", "mainstream", 2.5, 1.0),
    _m("Volvo", "premium", 1.0, 1.5),
    _m("smart", "economy", 0.05, 0.75),
)

# Best sellers first; the rest of a make's models are ranked by how many recent years they span.
TOP_MODELS: dict[str, tuple[str, ...]] = {
    "toyota": ("rav4", "camry", "corolla", "tacoma", "highlander", "tundra", "4runner", "prius"),
    "ford": ("f-150", "explorer", "escape", "mustang", "ranger", "bronco", "edge", "expedition"),
    "chevrolet": ("silverado-1500", "equinox", "malibu", "tahoe", "traverse", "colorado", "trax"),
    "honda": ("cr-v", "civic", "accord", "pilot", "hr-v", "odyssey", "ridgeline"),
    "nissan": ("rogue", "altima", "sentra", "pathfinder", "frontier", "kicks", "murano"),
    "hyundai": ("tucson", "elantra", "santa-fe", "sonata", "kona", "palisade"),
    "kia": ("sportage", "forte", "sorento", "telluride", "soul", "k5", "optima"),
    "jeep": ("grand-cherokee", "wrangler", "cherokee", "compass", "gladiator"),
    "ram": ("1500", "2500", "3500"),
    "gmc": ("sierra-1500", "terrain", "acadia", "yukon", "sierra-2500-hd", "canyon"),
    "subaru": ("outback", "forester", "crosstrek", "impreza", "ascent", "legacy"),
    "tesla": ("model-y", "model-3", "model-s", "model-x", "cybertruck"),
    "bmw": ("3-series", "x5", "x3", "5-series", "x1", "4-series"),
    "mercedes-benz": ("c-class", "gle", "e-class", "glc", "gla", "s-class"),
    "lexus": ("rx", "es", "nx", "is", "gx"),
    "volkswagen": ("jetta", "tiguan", "atlas", "passat", "golf"),
    "mazda": ("cx-5", "mazda3", "cx-30", "cx-9", "mazda6", "mx-5-miata"),
    "dodge": ("charger", "durango", "challenger", "grand-caravan", "journey"),
    "audi": ("q5", "a4", "q7", "a6", "q3"),
    "rivian": ("r1s", "r1t"),
}

# Fuel types that vPIC's VIN patterns cannot show (hybrids sold under the base model's VINs),
# from the makers' line-ups.
FUEL_ADDITIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("toyota", "rav4"): ("hybrid", "plugin_hybrid"),
    ("toyota", "camry"): ("hybrid",),
    ("toyota", "corolla"): ("hybrid",),
    ("toyota", "highlander"): ("hybrid",),
    ("toyota", "sienna"): ("hybrid",),
    ("toyota", "venza"): ("hybrid",),
    ("toyota", "tundra"): ("hybrid",),
    ("honda", "cr-v"): ("hybrid",),
    ("honda", "accord"): ("hybrid",),
    ("ford", "escape"): ("hybrid", "plugin_hybrid"),
    ("ford", "maverick"): ("hybrid",),
    ("ford", "f-150"): ("hybrid",),
    ("hyundai", "tucson"): ("hybrid", "plugin_hybrid"),
    ("hyundai", "santa-fe"): ("hybrid",),
    ("kia", "sportage"): ("hybrid", "plugin_hybrid"),
    ("jeep", "grand-cherokee"): ("plugin_hybrid",),
    ("chrysler", "pacifica"): ("plugin_hybrid",),
    ("lexus", "rx"): ("hybrid",),
    ("lexus", "nx"): ("hybrid",),
    ("volvo", "xc90"): ("plugin_hybrid",),
    ("volvo", "xc60"): ("plugin_hybrid",),
}

# Where vPIC's pattern counts mislead (fuel patterns shared across a whole VIN schema).
FUEL_OVERRIDES: dict[tuple[str, str], tuple[str, ...]] = {
    ("kia", "sorento"): ("gasoline", "hybrid", "plugin_hybrid"),
    ("kia", "niro"): ("hybrid", "plugin_hybrid", "electric"),
    ("hyundai", "ioniq"): ("hybrid", "plugin_hybrid", "electric"),
    ("mitsubishi", "outlander"): ("gasoline", "plugin_hybrid"),
    ("toyota", "prius"): ("hybrid", "plugin_hybrid"),
    ("toyota", "prius-prime"): ("plugin_hybrid",),
    ("toyota", "rav4-prime"): ("plugin_hybrid",),
    ("honda", "clarity"): ("plugin_hybrid", "electric"),
    ("honda", "insight"): ("hybrid",),
    ("chevrolet", "volt"): ("plugin_hybrid",),
    ("kia", "telluride"): ("gasoline",),
    ("ford", "focus-st"): ("gasoline",),
    ("mitsubishi", "i-miev"): ("electric",),
    ("volkswagen", "e-golf"): ("electric",),
    ("polestar", "polestar-1"): ("plugin_hybrid",),
    ("polestar", "polestar-2"): ("electric",),
    ("bmw", "xm"): ("plugin_hybrid",),
    ("bmw", "i8"): ("plugin_hybrid",),
    ("bmw", "m5"): ("gasoline",),
    ("jeep", "wrangler"): ("gasoline", "diesel", "plugin_hybrid"),
    ("jeep", "wrangler-unlimited"): ("gasoline", "diesel", "plugin_hybrid"),
    ("dodge", "journey"): ("gasoline",),
    ("chrysler", "300"): ("gasoline",),
    ("cadillac", "xt4"): ("gasoline",),
    ("bentley", "bentayga"): ("gasoline", "plugin_hybrid"),
}

# Electric versions sold under their own name while vPIC files them under the base model.
# (make slug, base model slug) -> (display name, first model year)
EV_VARIANTS: dict[tuple[str, str], tuple[str, int]] = {
    ("ford", "f-150"): ("F-150 Lightning", 2022),
    ("ford", "transit"): ("E-Transit", 2022),
    ("chevrolet", "silverado-1500"): ("Silverado EV", 2024),
    ("chevrolet", "equinox"): ("Equinox EV", 2024),
    ("chevrolet", "blazer"): ("Blazer EV", 2024),
    ("gmc", "sierra-1500"): ("Sierra EV", 2024),
}

# Hydrogen cars (no fuel slot for them) and names that are not a shopper-facing model.
DROP_MODELS: dict[str, tuple[str, ...]] = {
    "hyundai": ("nexo", "tucson-fuel-cell"),
    "honda": ("clarity-fuel-cell",),
    "tesla": ("semi",),
    "toyota": ("mirai", "regular-cab", "xtra-cab"),
    "nissan": ("king-cab", "regular-cab"),
    "isuzu": ("regular-cab",),
    "gmc": ("cruise-origin-av",),
    "mercedes-benz": ("s-600",),
}

LIST_OF_CARS_BODIES = {
    "SUV": "suv",
    "Sedan": "sedan",
    "Pickup": "pickup",
    "Coupe": "coupe",
    "Hatchback": "hatchback",
    "Convertible": "convertible",
    "Wagon": "wagon",
    "Van/Minivan": "van",  # build.py splits cargo/passenger vans from minivans
}

# vPIC BodyStyle ids -> our body types (chassis cabs, buses, step vans and trucks map to none).
VPIC_BODIES = {
    "1": "convertible",
    "2": "minivan",
    "3": "coupe",
    "5": "hatchback",
    "7": "suv",
    "8": "suv",
    "9": "van",
    "10": "convertible",
    "13": "sedan",
    "15": "wagon",
    "60": "pickup",
    "95": "van",
    "119": "pickup",
}

_VAN_NAMES = re.compile(
    r"Express|Savana|Transit|Sprinter|ProMaster|Econoline|E-Series|Metris|City Express|"
    r"NV\d*\b|Vandura|Sportvan|G-Series|Rally|Club Wagon|Chevy Van|Ram Van|Ram Wagon|Cargo"
)


def is_cargo_van(name: str) -> bool:
    return bool(_VAN_NAMES.search(name))


@dataclass(frozen=True)
class ModelName:
    name: str  # cleaned display name of this variant
    fuel: str  # what the name says about its fuel ("gasoline" when it says nothing)
    variant_of: str | None  # the base model when the name is base + fuel or body suffix


_CAB = re.compile(
    r"\s+(?:(?:Regular|Extended|Crew|Double|Quad|Mega|Access|Super|Club(?: Coupe)?|King|Single|"
    r"Standard)\s+Cab|SuperCab|SuperCrew(?:\s+Cab)?|Xtra\s?[Cc]ab|CrewMax|Club Coupe|Crew|Cab Plus|"
    r"Space\s?[Cc]ab|\d Door)"
    r"\b"
)
_VAN_SUFFIX = re.compile(r"\s+(?:Cargo(?: Van)?|Passenger(?: Van)?|Window Van|Van|WORKER)\b")
_VAN_CLASS = re.compile(r"\s+(?:[BGE]?\d{2,4}(?:\s?(?:HD|XD))?)(?:\s+Super Duty)?$")
_FUEL_SUFFIX = (
    (re.compile(r"\s+(?:Plug-[Ii]n Hybrid|Energi|PHEV|e)$"), "plugin_hybrid"),
    (re.compile(r"\s+Hybrid$"), "hybrid"),
    (re.compile(r"\s+(?:Electric|EV)$"), "electric"),
)
_LEGACY_SUFFIX = re.compile(r"\s+(?:Limited|Classic|LD|MPV|Hatchback)$")
_SPELLING = {
    "Mazda": {"MAZDA2": "Mazda2", "MAZDA3": "Mazda3", "MAZDA5": "Mazda5", "MAZDA6": "Mazda6"},
    # list-of-cars lost these to a spreadsheet's date parsing
    "Saab": {"3-Sep": "9-3", "5-Sep": "9-5"},
    "Polestar": {"PS1": "Polestar 1", "PS2": "Polestar 2"},
    "Dodge": {"Ram": "Ram Van"},
    "Mercedes-Benz": {"GT": "AMG GT"},
}
# vPIC names that are trims or engines, not models shoppers search for ("M340i", "750e").
_TRIM_NAMES = re.compile(r"^(?:M?\d{3}[A-Za-z]{0,3}|Alpina B\d|B\d)$")


def normalize_model_name(make: str, raw: str) -> ModelName | None:
    """'F150 SuperCrew Cab' -> F-150; 'RAV4 Hybrid' -> RAV4 + hybrid; None to drop the row."""
    name = re.sub(r"\s*\((?:PHEV)\)", " PHEV", raw)
    name = re.sub(r"\s*\([^)]*\)", "", name)
    name = _CAB.sub("", name)
    is_van = bool(_VAN_SUFFIX.search(name)) or is_cargo_van(name)
    name = re.sub(r"(?<=\d)\s+Wagon$", "", _VAN_SUFFIX.sub("", name))
    if make == "Ford" and re.match(r"^(?:Econoline\s+)?E-?\d{3}\b", name):
        name = "E-Series"
    elif is_van:
        name = _VAN_CLASS.sub("", name)
    name = re.sub(r"^F(\d{3})\b", r"F-\1", name)  # Ford spells its trucks F-150
    if make == "Mercedes-Benz":
        name = re.sub(r"^Mercedes-(?:AMG|Maybach)\s+", "", name)
    name = _SPELLING.get(make, {}).get(name, name)
    name = re.sub(r"\s+", " ", name).strip()
    if not name or (make == "BMW" and _TRIM_NAMES.match(name)):
        return None
    if "Fuel Cell" in name:
        return None
    for pattern, fuel in _FUEL_SUFFIX:
        if pattern.search(name):
            return ModelName(name, fuel, pattern.sub("", name))
    if _LEGACY_SUFFIX.search(name):
        return ModelName(name, "gasoline", _LEGACY_SUFFIX.sub("", name))
    if make == "Mercedes-Benz" and name.endswith("-Class"):
        return ModelName(name, "gasoline", name.removesuffix("-Class"))
    return ModelName(name, "gasoline", None)


def rank_models(make_slug: str, models: Sequence[tuple[str, Collection[int]]]) -> dict[str, int]:
    """Rank within a make: curated best sellers, then the longest-running recent models."""
    top = TOP_MODELS.get(make_slug, ())
    order = sorted(
        models,
        key=lambda m: (
            top.index(m[0]) if m[0] in top else len(top),
            -sum(1 for y in m[1] if y >= 2012),
            -len(m[1]),
            m[0],
        ),
    )
    return {slug: rank for rank, (slug, _) in enumerate(order)}


_BOF_SUVS = re.compile(
    r"^(?:Tahoe|Suburban|Yukon|Expedition|4Runner|Sequoia|Land Cruiser|Armada|Escalade|Navigator|"
    r"G-Class|GX|LX|QX80|QX56|Bronco(?! Sport)|Excursion|Durango|Trailblazer|Envoy|FJ Cruiser|"
    r"Xterra|Pathfinder|Montero|Trooper|Rodeo|Blazer|Jimmy|Explorer|Mountaineer|H\d)\b"
)
_RWD_CARS = re.compile(
    r"^(?:Mustang|Camaro|Corvette|Challenger|Charger|86|GR86|BRZ|Supra|GR Supra|MX-5|Miata|"
    r"\d{3}Z|Nissan Z|S2000|Viper|GT|Crown Victoria|Grand Marquis|Town Car|SS|Solstice|Sky|G8|"
    r"GTO|RX-7|RX-8|300|Genesis|Equus|Stinger|Firebird|Thunderbird|Caprice|Roadster|Magnum|"
    r"IS|GS|LS|RC|LC|SC|G\d\d|Q50|Q60|Q70|M\d\d|FR-S)\b"
)
_SMALL_PICKUPS = re.compile(r"^(?:Maverick|Santa Cruz|Ridgeline)\b")
_RWD_MAKES = {
    "BMW",
    "Mercedes-Benz",
    "Genesis",
    "Cadillac",
    "Alfa Romeo",
    "Maserati",
    "Jaguar",
    "Porsche",
    "Rolls-Royce",
    "Bentley",
    "Ferrari",
    "Aston Martin",
    "McLaren",
    "Lotus",
    "Tesla",
    "Lucid",
}
# vPIC DriveType ids -> our drivetrains ("4x2" is a two-wheel-drive truck: rear-driven).
_VPIC_DRIVES = {"1": "fwd", "2": "4wd", "3": "awd", "4": "rwd", "7": "rwd"}
_DRIVE_ORDER = ("fwd", "rwd", "awd", "4wd")


def drivetrains_for(
    spec: MakeSpec,
    slug: str,
    name: str,
    body: str,
    fuels: Sequence[str],
    vpic_drives: Counter[str],
) -> tuple[str, ...]:
    """vPIC's drive types when it records enough of them, else rules by body, make and name."""
    total = sum(vpic_drives.values())
    if total >= 3:
        counts: Counter[str] = Counter()
        for value, n in vpic_drives.items():
            if value in _VPIC_DRIVES:
                counts[_VPIC_DRIVES[value]] += n
        found = [d for d in _DRIVE_ORDER if counts[d] >= 0.15 * total]
        if found:
            return tuple(found[:2]) if body != "pickup" else tuple(found)
    return _drive_rules(spec, name, body, fuels)


def _drive_rules(spec: MakeSpec, name: str, body: str, fuels: Sequence[str]) -> tuple[str, ...]:
    if spec.name == "Subaru":
        return ("awd",)
    if spec.name in ("Jeep", "Land Rover", "HUMMER") and body in ("suv", "pickup"):
        return ("4wd",)
    if body == "pickup":
        if "electric" in fuels:
            return ("awd",)
        return ("fwd", "awd") if _SMALL_PICKUPS.match(name) else ("rwd", "4wd")
    if body == "van":
        return ("rwd",)
    if body == "minivan":
        return ("fwd", "awd") if name in ("Sienna", "Pacifica") else ("fwd",)
    if fuels == ("electric",):
        return ("rwd", "awd") if spec.tier != "mainstream" else ("fwd", "awd")
    if body == "suv":
        if _BOF_SUVS.match(name):
            return ("rwd", "4wd")
        return ("awd",) if spec.tier in ("premium", "luxury", "exotic") else ("fwd", "awd")
    if spec.name in _RWD_MAKES or _RWD_CARS.match(name):
        return ("rwd", "awd") if body in ("sedan", "wagon") else ("rwd",)
    if spec.name == "Audi":
        return ("fwd", "awd")
    return ("fwd",)


# New-car base price (USD) of a mainstream model of each body, before make and fuel factors.
BODY_PRICES = {
    "sedan": 27000,
    "hatchback": 23000,
    "coupe": 31000,
    "convertible": 36000,
    "wagon": 29000,
    "suv": 34000,
    "pickup": 40000,
    "van": 42000,
    "minivan": 38000,
}
FUEL_PRICE_FACTORS = {
    "gasoline": 1.0,
    "diesel": 1.12,
    "hybrid": 1.08,
    "plugin_hybrid": 1.2,
    "electric": 1.25,
}
_HEAVY_DUTY = re.compile(r"\b(?:[2-5]500|HD|Super Duty|F-[2-5]50)\b")
_FULL_SIZE = re.compile(
    r"^(?:Tahoe|Suburban|Yukon|Expedition|Sequoia|Land Cruiser|Armada|Escalade|Navigator|"
    r"QX80|LX|GX|G-Class|GLS|X7|Q7|Q8|Range Rover|Grand Wagoneer|Wagoneer|Telluride|Palisade|"
    r"Atlas|Ascent|Pilot|Highlander|Traverse|Explorer|Grand Cherokee|Durango|Model X|R1S)\b"
)
_PERFORMANCE = re.compile(r"^(?:Corvette|GT-R|GT|Viper|NSX|AMG GT|i8|R8|M\d|RS ?\d|Type R)\b")


def base_price(spec: MakeSpec, name: str, body: str, fuels: Sequence[str]) -> int:
    """A new-car base price estimate: body x make factor x size/duty/performance x primary fuel."""
    price = BODY_PRICES[body] * spec.price_factor
    if _HEAVY_DUTY.search(name):
        price *= 1.3
    if _FULL_SIZE.match(name):
        price *= 1.35
    if _PERFORMANCE.match(name):
        price *= 2.0
    price *= FUEL_PRICE_FACTORS[fuels[0]]
    return round(price / 500) * 500


# US Census Bureau regions by state (DC counts as South).
STATE_REGIONS: dict[str, str] = {
    **dict.fromkeys(("CT", "ME", "MA", "NH", "RI", "VT", "NJ", "NY", "PA"), "northeast"),
    **dict.fromkeys(
        ("IL", "IN", "MI", "OH", "WI", "IA", "KS", "MN", "MO", "NE", "ND", "SD"), "midwest"
    ),
    **dict.fromkeys(
        [
            "DE",
            "DC",
            "FL",
            "GA",
            "MD",
            "NC",
            "SC",
            "VA",
            "WV",
            "AL",
            "KY",
            "MS",
            "TN",
            "AR",
            "LA",
            "OK",
            "TX",
        ],
        "south",
    ),
    **dict.fromkeys(
        ("AZ", "CO", "ID", "MT", "NV", "NM", "UT", "WY", "AK", "CA", "HI", "OR", "WA"), "west"
    ),
}
