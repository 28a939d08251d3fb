"""Deterministic shopper traffic for the load test: Zipf-popular intents spoken many ways, a tail
of unique queries, pagination and inventory writes (price changes, sales, new listings). Same seed,
same requests, in the same order.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from urllib.parse import urlencode

from vsearch_query import cache_key, canonical_form, parse_search

# (make spellings, model spellings, make slug) for models the shared parser resolves bare.
CARS: tuple[tuple[tuple[str, ...], tuple[str, ...], str], ...] = (
    (("toyota", "Toyota"), ("camry", "Camry"), "toyota"),
    (("toyota",), ("rav4", "RAV4", "rav 4"), "toyota"),
    (("toyota",), ("corolla", "Corolla"), "toyota"),
    (("toyota",), ("tacoma",), "toyota"),
    (("toyota",), ("prius", "Prius"), "toyota"),
    (("toyota",), ("highlander",), "toyota"),
    (("honda", "Honda"), ("civic", "Civic"), "honda"),
    (("honda",), ("accord",), "honda"),
    (("honda",), ("cr-v", "CRV", "cr v"), "honda"),
    (("honda",), ("odyssey",), "honda"),
    (("ford", "Ford"), ("f-150", "F150", "f 150"), "ford"),
    (("ford",), ("explorer",), "ford"),
    (("ford",), ("mustang", "Mustang"), "ford"),
    (("chevy", "chevrolet", "Chevy"), ("silverado 1500",), "chevrolet"),
    (("chevy", "chevrolet"), ("equinox",), "chevrolet"),
    (("chevy", "chevrolet"), ("tahoe",), "chevrolet"),
    (("jeep",), ("wrangler", "Wrangler"), "jeep"),
    (("subaru",), ("outback",), "subaru"),
    (("tesla", "Tesla"), ("model 3", "Model 3"), "tesla"),
    (("tesla",), ("model y", "Model Y"), "tesla"),
    (("nissan",), ("rogue",), "nissan"),
    (("mazda",), ("cx-5", "CX5"), "mazda"),
    (("hyundai",), ("tucson",), "hyundai"),
    (("kia",), ("telluride",), "kia"),
    (("vw", "volkswagen", "VW"), ("jetta",), "volkswagen"),
)
BODIES = {
    "suv": ("suv", "SUV", "crossover", "suvs"),
    "pickup": ("truck", "pickup", "pickup truck", "trucks"),
    "sedan": ("sedan", "Sedan"),
    "minivan": ("minivan", "mini van"),
    "hatchback": ("hatchback", "hatch"),
}
FUELS = {"electric": ("EV", "electric", "ev", "electric vehicle"), "hybrid": ("hybrid", "hev")}
SORTS = {"price_asc": ("price_asc", "cheapest", "price"), "year_desc": ("newest", "year_desc")}
DRIVES = {"awd": ("awd", "AWD", "all wheel drive"), "4wd": ("4x4", "4wd", "four wheel drive")}
WORDS = ("cheap", "reliable", "family", "roomy", "sporty", "luxury", "comfortable", "safe", "quiet",
         "fun", "commuter", "towing", "camping", "teen", "efficient", "spacious")  # fmt: skip
PRICES = (15_000, 20_000, 25_000, 30_000, 35_000, 40_000, 50_000)
TRACKING = (("utm_source", ("google", "facebook", "newsletter")), ("utm_medium", ("cpc", "email")))
PHRASINGS_PER_INTENT = 12
POPULAR_RANKS = 100  # intents of rank below this make "the popular workload"


@dataclass(frozen=True)
class Intent:
    """One shopper need, as structured constraints; every phrasing of it has one cache key."""

    car: int | None
    body: str | None
    fuel: str | None
    drive: str | None
    price_max: int | None
    year_min: int | None
    low_miles: bool
    sort: str | None
    words: tuple[str, ...]


@dataclass(frozen=True)
class Request:
    """One workload step: a search (`query` is its query string) or an inventory write."""

    kind: str  # search | write
    query: str = ""
    rank: int = -1  # intent popularity rank (0 = most asked); -1 = a unique tail query
    pages: int = 0  # how many times to follow next_cursor after the first page
    vehicle: int = 0
    # A write: price (PATCH price), sale (PATCH status=sold) or new (PUT of a new listing: the
    # full body of vehicle `template` with the price, mileage and year in `patch`).
    patch: dict[str, object] | None = None
    write: str = ""
    template: int = 0


def make_intent(rng: random.Random) -> Intent:
    car = rng.randrange(len(CARS)) if rng.random() < 0.55 else None
    return Intent(
        car=car,
        body=rng.choice(sorted(BODIES)) if car is None and rng.random() < 0.7 else None,
        # Not with a model: "equinox ev" is its own model (Equinox EV), not an electric Equinox.
        fuel=rng.choice(sorted(FUELS)) if car is None and rng.random() < 0.3 else None,
        drive=rng.choice(sorted(DRIVES)) if rng.random() < 0.15 else None,
        price_max=rng.choice(PRICES) if rng.random() < 0.5 else None,
        year_min=rng.randrange(2014, 2024) if rng.random() < 0.3 else None,
        low_miles=rng.random() < 0.2,
        sort=rng.choice(sorted(SORTS)) if rng.random() < 0.15 else None,
        words=tuple(sorted(rng.sample(WORDS, rng.choice((0, 1, 1, 2))))),
    )


def _price_words(rng: random.Random, value: int) -> str:
    k = value // 1000
    forms = (f"under {k}k", f"under ${value:,}", f"under {value:,}", f"less than {k}k",
             f"{k}k or less", f"under {k} grand", f"below ${k}k", f"max {k}K")  # fmt: skip
    return rng.choice(forms)


def _case(rng: random.Random, text: str) -> str:
    return rng.choice((text, text, text.lower(), text.upper(), text.title()))


def phrase(intent: Intent, rng: random.Random) -> list[tuple[str, str]]:
    """One spelling of `intent`: word order, case, number formats, synonyms, params vs words."""
    chunks: list[str] = list(intent.words)
    params: list[tuple[str, str]] = []

    def spoken_or_param(words: str, name: str, value: str) -> None:
        if rng.random() < 0.3:
            params.append((name, value))
        else:
            chunks.append(words)

    if intent.car is not None:
        makes, models, slug = CARS[intent.car]
        model = rng.choice(models)
        if rng.random() < 0.3:
            params += [("make", slug), ("model", model)]
        else:
            chunks.append(f"{rng.choice(makes)} {model}" if rng.random() < 0.6 else model)
    if intent.body is not None:
        spoken_or_param(rng.choice(BODIES[intent.body]), "body", intent.body)
    if intent.fuel is not None:
        spoken_or_param(rng.choice(FUELS[intent.fuel]), "fuel", intent.fuel)
    if intent.drive is not None:
        spoken_or_param(rng.choice(DRIVES[intent.drive]), "drivetrain", intent.drive)
    if intent.price_max is not None:
        k = intent.price_max // 1000
        form = rng.choice((str(intent.price_max), f"{k}k", f"${intent.price_max:,}"))
        spoken_or_param(_price_words(rng, intent.price_max), "price_max", form)
    if intent.year_min is not None:
        y = intent.year_min
        spoken = rng.choice((f"{y} or newer", f"{y} and up", f"since {y}", f"{y} or later"))
        spoken_or_param(spoken, "year_min", str(y))
    if intent.low_miles:
        spoken_or_param(rng.choice(("low miles", "low mileage")), "mileage_max", "30000")
    if intent.sort is not None:
        params.append(("sort", rng.choice(SORTS[intent.sort])))
    rng.shuffle(chunks)
    pairs = [("q", " ".join(_case(rng, c) for c in chunks))] if chunks else []
    pairs += params
    rng.shuffle(pairs)
    return pairs


def phrasings(intent: Intent, seed: str, count: int = PHRASINGS_PER_INTENT) -> list[str]:
    """The query strings shoppers use for `intent`; the first ones are the most common."""
    rng = random.Random(seed)
    return [urlencode(phrase(intent, rng)) for _ in range(count)]


def intents(seed: int, count: int) -> list[Intent]:
    """`count` intents with distinct cache keys, in popularity order (index = Zipf rank)."""
    out: list[Intent] = []
    seen: set[str] = set()
    for i in range(count * 20):
        if len(out) == count:
            break
        intent = make_intent(random.Random(f"{seed}:intent:{i}"))
        key = cache_key(parse_search(phrasings(intent, f"{seed}:probe:{i}", 1)[0]))
        if key not in seen:
            seen.add(key)
            out.append(intent)
    return out


def zipf_weights(n: int, s: float) -> list[float]:
    """Cumulative Zipf weights over ranks 0..n-1 (rank r has weight 1 / (r + 1) ** s)."""
    total, cum = 0.0, []
    for rank in range(n):
        total += 1.0 / (rank + 1) ** s
        cum.append(total)
    return cum


def _tail_token(n: int) -> str:
    letters = ""
    n += 26 * 26
    while n:
        n, r = divmod(n, 26)
        letters += "abcdefghijklmnopqrstuvwxyz"[r]
    return "zq" + letters


# Of the writes: price changes, sales, new listings (PUT at an id from NEW_LISTING_IDS up).
WRITE_SHARES = {"price": 0.55, "sale": 0.25, "new": 0.20}
NEW_LISTING_IDS = 900_000_000


@dataclass(frozen=True)
class Mix:
    """The shares of the workload (the rest is popular searches)."""

    tail: float = 0.08
    pages: float = 0.15
    writes: float = 0.005
    tracking: float = 0.25
    zipf_s: float = 1.0


def generate(
    seed: int, count: int, n_intents: int = 3_000, mix: Mix | None = None, vehicles: int = 100_000
) -> list[Request]:
    """`count` requests, deterministic from `seed`."""
    mix = mix or Mix()
    rng = random.Random(f"{seed}:stream")
    pool = intents(seed, n_intents)
    cum = zipf_weights(len(pool), mix.zipf_s)
    spellings: dict[int, list[str]] = {}
    choice_cum = zipf_weights(PHRASINGS_PER_INTENT, 1.0)
    out: list[Request] = []
    for i in range(count):
        roll = rng.random()
        if roll < mix.writes:
            out.append(_write(rng, vehicles))
            continue
        if roll < mix.writes + mix.tail:
            intent = pool[rng.randrange(len(pool))]
            pairs = phrase(intent, rng)
            pairs = [(k, f"{v} {_tail_token(i)}" if k == "q" else v) for k, v in pairs]
            if not any(k == "q" for k, _ in pairs):
                pairs.append(("q", _tail_token(i)))
            query, rank = urlencode(pairs), -1
        else:
            rank = rng.choices(range(len(pool)), cum_weights=cum)[0]
            if rank not in spellings:
                spellings[rank] = phrasings(pool[rank], f"{seed}:phrasings:{rank}")
            query = rng.choices(spellings[rank], cum_weights=choice_cum)[0]
        if rng.random() < mix.tracking:
            query += "&" + _tracking(rng)
        pages = (1 if rng.random() < 0.75 else 2) if rng.random() < mix.pages else 0
        out.append(Request("search", query, rank, pages))
    return out


def _tracking(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"fbclid={rng.getrandbits(64):016x}"
    return urlencode([(name, rng.choice(values)) for name, values in TRACKING])


def _write(rng: random.Random, vehicles: int) -> Request:
    vehicle = rng.randrange(1, vehicles + 1)
    roll = rng.random()
    if roll < WRITE_SHARES["price"]:
        price: dict[str, object] = {"price": rng.randrange(8_000, 60_000, 250)}
        return Request("write", vehicle=vehicle, patch=price, write="price")
    if roll < WRITE_SHARES["price"] + WRITE_SHARES["sale"]:
        return Request("write", vehicle=vehicle, patch={"status": "sold"}, write="sale")
    # A new listing like an existing one (a real make, model and ZIP), at its own new id.
    new_id = NEW_LISTING_IDS + rng.randrange(1_000_000)
    fields: dict[str, object] = {
        "price": rng.randrange(8_000, 60_000, 250),
        "mileage": rng.randrange(0, 120_000, 100),
        "year": rng.randrange(2012, 2026),
    }
    return Request("write", vehicle=new_id, patch=fields, write="new", template=vehicle)


def canonical(query: str) -> str:
    """The canonical form of a workload query string (what a canonical-key cache keys on)."""
    return canonical_form(parse_search(query))


def write_jsonl(requests: Iterable[Request], path: Path) -> None:
    path.write_text("".join(json.dumps(asdict(r), separators=(",", ":")) + "\n" for r in requests))


def read_jsonl(path: Path) -> list[Request]:
    return [Request(**json.loads(line)) for line in path.read_text().splitlines() if line]


def written_vehicles(requests: Sequence[Request]) -> list[int]:
    """Existing vehicles the workload changes (to snapshot before the run and restore after it)."""
    return sorted({r.vehicle for r in requests if r.kind == "write" and r.write != "new"})


def new_listings(requests: Sequence[Request]) -> list[int]:
    """Ids the workload creates (to delete after each target's run)."""
    return sorted({r.vehicle for r in requests if r.kind == "write" and r.write == "new"})


# What a new listing copies from its template (the rest comes from the workload or defaults).
LISTING_FIELDS = ("make", "model", "body", "fuel", "drivetrain", "transmission", "color",
                  "condition", "zip", "dealer", "description")  # fmt: skip


def with_listings(
    requests: Sequence[Request], templates: dict[int, dict[str, object]]
) -> list[Request]:
    """`requests` with each new listing's full PUT body: its template vehicle's fields (as the
    inventory API returns them) under the workload's price, mileage and year."""
    out = []
    for r in requests:
        if r.write == "new":
            template = templates[r.template]
            base = {k: template[k] for k in LISTING_FIELDS if k in template}
            r = replace(r, patch={**base, **(r.patch or {})})
        out.append(r)
    return out
