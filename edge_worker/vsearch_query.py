"""A search request as a canonical query: parse it, lift constraints out of `q`, derive its key;
and the cache tags that tie cached searches to the listings whose changes must purge them.

Shared verbatim by the Worker (Pyodide) and the origin (CPython), so standard library only.
The rules are a spec with test vectors: docs/cache-key.md, tests/edge_worker/cache_key_vectors.json.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import vsearch_vocab

__all__ = [
    "BODIES",
    "COLORS",
    "DEFAULT_LIMIT",
    "DEFAULT_RADIUS_MI",
    "DRIVETRAINS",
    "FUELS",
    "KEY_VERSION",
    "MAX_LIMIT",
    "MAX_QUERY_LENGTH",
    "SCOPED_ATTRIBUTES",
    "SORTS",
    "TRANSMISSIONS",
    "QueryError",
    "SearchQuery",
    "attribute_tags",
    "cache_key",
    "canonical_form",
    "canonical_params",
    "listing_tags",
    "parse_search",
    "query_tags",
]

KEY_VERSION = "v1"
MAX_QUERY_LENGTH = 256
DEFAULT_LIMIT = 20
MAX_LIMIT = 50
DEFAULT_RADIUS_MI = 50
_MAX_RADIUS_MI = 500
_MAX_CURSOR_LENGTH = 512
_MAX_PARAMS = 100
_LOW_MILEAGE_MAX = 30_000  # what "low miles" / "low mileage" means
_YEAR_RANGE = (1900, 2100)
_PRICE_RANGE = (0, 10_000_000)
_MILEAGE_RANGE = (0, 2_000_000)

BODIES = ("sedan", "suv", "pickup", "coupe", "hatchback", "convertible", "wagon", "van", "minivan")
FUELS = ("gasoline", "diesel", "hybrid", "plugin_hybrid", "electric")
DRIVETRAINS = ("fwd", "rwd", "awd", "4wd")
TRANSMISSIONS = ("automatic", "manual", "cvt")
COLORS = (
    "white", "black", "gray", "silver", "blue", "red", "green",
    "brown", "beige", "orange", "yellow", "gold", "purple",
)  # fmt: skip
SORTS = ("relevance", "price_asc", "price_desc", "mileage_asc", "year_desc", "distance")

# The order of the canonical form, of `filters` and of canonical_params (SPEC's API contract).
_FILTER_ORDER = (
    "make", "model", "year_min", "year_max", "price_min", "price_max", "mileage_max",
    "body", "fuel", "drivetrain", "transmission", "color", "zip", "radius_mi", "dealer",
)  # fmt: skip
_SET_PARAMS = ("make", "model", "body", "fuel", "drivetrain", "transmission", "color", "dealer")
_SINGLE_PARAMS = frozenset(
    ("q", "year_min", "year_max", "price_min", "price_max", "mileage_max", "zip", "radius_mi",
     "sort", "limit", "cursor")
)  # fmt: skip
# Dropped before anything else: they never change the answer (docs/cache-key.md lists them).
_TRACKING_PARAMS = frozenset(
    ("fbclid", "gclid", "gbraid", "wbraid", "dclid", "msclkid", "yclid", "twclid", "ttclid",
     "igshid", "li_fat_id", "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok",
     "srsltid", "ref", "ref_src")
)  # fmt: skip

# Synonyms of the enum values. Each alias is compared by its compact form (case, accents,
# spaces, hyphens and underscores removed), so "plug-in hybrid" = "Plug In Hybrid" = "pluginhybrid".
_ENUM_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "body": {
        "sedan": ("sedan", "saloon"),
        "suv": ("suv", "crossover", "cuv", "sport utility", "sport utility vehicle"),
        "pickup": ("pickup", "pick up", "pickup truck", "truck"),
        "coupe": ("coupe",),
        "hatchback": ("hatchback", "hatch"),
        "convertible": ("convertible", "cabriolet", "cabrio", "roadster"),
        "wagon": ("wagon", "station wagon", "estate"),
        "van": ("van", "cargo van", "passenger van"),
        "minivan": ("minivan", "mini van"),
    },
    "fuel": {
        "gasoline": ("gasoline", "petrol"),
        "diesel": ("diesel",),
        "hybrid": ("hybrid", "hev"),
        "plugin_hybrid": ("plugin hybrid", "plug in hybrid", "plug in", "phev"),
        "electric": (
            "electric",
            "ev",
            "bev",
            "battery electric",
            "electric vehicle",
            "all electric",
        ),
    },
    "drivetrain": {
        "fwd": ("fwd", "front wheel drive"),
        "rwd": ("rwd", "rear wheel drive"),
        "awd": ("awd", "all wheel drive"),
        "4wd": ("4wd", "4x4", "four wheel drive", "4 wheel drive", "four by four"),
    },
    "transmission": {
        "automatic": ("automatic", "automatic transmission", "auto transmission"),
        "manual": ("manual", "manual transmission", "stick", "stick shift"),
        "cvt": ("cvt",),
    },
    "color": {c: (c,) for c in COLORS} | {"gray": ("gray", "grey")},
}
# Accepted as explicit parameter values only: in free text they usually mean something else
# ("good on gas", "auto loan").
_PARAM_ONLY_ALIASES = {"gas": ("fuel", "gasoline"), "auto": ("transmission", "automatic")}
_MAKE_ALIASES = {
    "chevy": "chevrolet", "vw": "volkswagen", "mercedes": "mercedes-benz", "benz": "mercedes-benz",
    "merc": "mercedes-benz", "bimmer": "bmw", "beemer": "bmw", "caddy": "cadillac",
    "alfa": "alfa-romeo", "landrover": "land-rover",
}  # fmt: skip
_MODEL_ALIASES = {"vette": ("chevrolet", "corvette"), "rav": ("toyota", "rav4")}
# Names that are everyday words: recognised in `q` only as part of a make + model phrase
# ("honda fit", "mini cooper"), never alone ("fit a family", "mini fridge").
_COMMON_WORDS = frozenset({
    "accent", "air", "ascent", "aspire", "aura", "avalanche", "azure", "blazer", "bolt", "breeze",
    "california", "canyon", "capri", "carnival", "century", "charger", "clarity", "classic",
    "colorado", "commander", "compass", "concorde", "continental", "contour", "crown", "cube",
    "dart", "dawn", "discovery", "echo", "eclipse", "edge", "element", "envision", "envoy",
    "equator", "escape", "escort", "excel", "excursion", "expedition", "expo", "express", "fit",
    "flex", "focus", "fox", "freestyle", "fusion", "genesis", "ghost", "golf", "gravity",
    "hardtop", "hornet", "impulse", "insight", "integra", "intrigue", "ion", "journey", "kicks",
    "laser", "leaf", "legacy", "legend", "liberty", "magnum", "matrix", "metro", "milan", "mini",
    "mirage", "model", "models", "montana", "navigator", "neon", "oasis", "one", "outlook",
    "passport", "phantom", "pilot", "probe", "prologue", "quest", "rabbit", "raider", "recon",
    "regency", "relay", "reno", "roma", "sable", "safari", "shadow", "sky", "smart", "sonic",
    "soul", "spark", "spectre", "spider", "spirit", "stealth", "swift", "tempo", "terrain",
    "torrent", "tracker", "transit", "traverse", "tribute", "valiant", "valour", "venture",
    "venue", "vibe", "viper", "virage", "volt", "wraith",
})  # fmt: skip
_STOPWORDS = frozenset({
    "a", "an", "the", "for", "with", "and", "or", "in", "near", "of", "to", "my", "me", "i",
    "want", "looking", "look", "car", "cars", "vehicle", "vehicles", "auto", "autos", "need",
    "buy", "buying", "find", "show", "some", "any", "on", "at", "is", "it", "that", "this", "by",
    "please", "s", "t", "sale", "around", "like",
})  # fmt: skip
_SORT_ALIASES = {
    "best": "relevance", "best_match": "relevance", "price": "price_asc", "cheapest": "price_asc",
    "newest": "year_desc", "year": "year_desc", "mileage": "mileage_asc", "nearest": "distance",
    "closest": "distance",
}  # fmt: skip


class QueryError(ValueError):
    """A request that cannot become a SearchQuery; rendered as HTTP 400 {"error": {...}}."""

    status_code = 400

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True)
class SearchQuery:
    text: str
    raw_text: str
    filters: dict[str, object]
    extracted: dict[str, object]
    sort: str = "relevance"
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None
    fields: tuple[str, ...] | None = None


# ---- text normalisation ---------------------------------------------------------------------


def _clean(value: str) -> str:
    """NFKC and whitespace collapse: what a value means does not depend on how it was typed."""
    return " ".join(unicodedata.normalize("NFKC", value).split())


def _fold(value: str) -> str:
    """_clean + casefold + Latin accents dropped ("Coupé" -> "coupe", "Citroën" -> "citroen")."""
    value = _clean(value).casefold()
    if value.isascii():
        return value
    decomposed = unicodedata.normalize("NFD", value)
    kept = [
        c
        for i, c in enumerate(decomposed)
        if not (unicodedata.combining(c) and i and decomposed[i - 1].isascii())
    ]
    return unicodedata.normalize("NFC", "".join(kept))


_NON_WORD = re.compile(r"[\W_]+")
_NON_SLUG = re.compile(r"[^a-z0-9]+")


def _compact(value: str) -> str:
    return _NON_WORD.sub("", _fold(value))


def _slug(value: str) -> str:
    """The catalog's slug rule (vsearch_vocab): lowercase ASCII, '-' for runs of anything else."""
    return _NON_SLUG.sub("-", _fold(value)).strip("-")


# ---- alias tables, compiled once at import ----------------------------------------------------


@dataclass(frozen=True)
class _Phrase:
    field: str  # a set-valued filter name
    values: tuple[str, ...]
    makes: tuple[str, ...] = ()  # for a model: the makes that have it; for a make: itself
    guarded: bool = False  # an everyday word: only inside a make + model phrase


_PHRASES: dict[str, _Phrase] = {}  # compact spelling -> what it means in `q`
_PARAM_KEYS: dict[str, dict[str, tuple[str, ...]]] = {f: {} for f in _SET_PARAMS}
_MODEL_OWNERS: dict[str, set[str]] = {}
_TOKEN_RUN = re.compile(r"[a-z]+|[0-9]+")
_max_tokens = 1


def _learn(key: str, phrase: _Phrase, spelling: str, *, plural: bool = True) -> None:
    global _max_tokens
    keys = (key, key + "s") if plural and not key.endswith("s") else (key,)
    params = _PARAM_KEYS[phrase.field]
    for k in keys:
        old = _PHRASES.get(k)
        if old is None:
            _PHRASES[k] = phrase
        elif old.field == phrase.field == "model" and k == key and old != phrase:
            # One name, several makes ("1500", "express"): it means all of them.
            values = tuple(sorted({*old.values, *phrase.values}))
            makes = tuple(sorted({*old.makes, *phrase.makes}))
            _PHRASES[k] = _Phrase("model", values, makes, old.guarded or phrase.guarded)
        have = params.get(k, ())
        if not set(phrase.values).issubset(have):
            params[k] = tuple(sorted({*have, *phrase.values}))
    _max_tokens = max(_max_tokens, len(_TOKEN_RUN.findall(_fold(spelling))))


def _is_common(key: str) -> bool:
    return key in _COMMON_WORDS or key in _STOPWORDS or key.isdigit() or len(key) <= 2


def _build_tables() -> None:
    # Enums first: on a clash ("express", "hybrid") the filter value wins over a model name.
    for name, table in _ENUM_ALIASES.items():
        for value, aliases in table.items():
            for alias in (value, *aliases):
                _learn(_compact(alias), _Phrase(name, (value,)), alias)
    for alias, (name, value) in _PARAM_ONLY_ALIASES.items():
        _PARAM_KEYS[name][alias] = (value,)
    for make, display in vsearch_vocab.MAKE_NAMES.items():
        phrase = _Phrase("make", (make,), (make,), _compact(make) in _COMMON_WORDS)
        for spelling in {make, display.casefold()}:
            _learn(_compact(spelling), phrase, spelling)
    for alias, make in _MAKE_ALIASES.items():
        if make in vsearch_vocab.MAKE_NAMES:
            _learn(alias, _Phrase("make", (make,), (make,)), alias)
    for make, models in vsearch_vocab.MODEL_NAMES.items():
        for model, display in models.items():
            _MODEL_OWNERS.setdefault(model, set()).add(make)
            for spelling in {model, display.casefold()}:
                key = _compact(spelling)
                _learn(key, _Phrase("model", (model,), (make,), _is_common(key)), spelling)
    for alias, (make, model) in _MODEL_ALIASES.items():
        if model in vsearch_vocab.MODEL_NAMES.get(make, {}):
            _learn(alias, _Phrase("model", (model,), (make,)), alias, plural=False)


_build_tables()
_MAX_TOKENS = min(_max_tokens, 6)


# ---- numbers ----------------------------------------------------------------------------------

_QUOTES = "'\u2018\u2019"  # '19 as typed by phones too
_AMOUNT = re.compile(
    r"(\$)?\s?(\d{1,3}(?:,\d{3})+|\d{1,12})(?:\.(\d{1,6}))?\s?(k|thousand|grand)?\s?(?:usd|dollars?)?"
)


def _amount(text: str) -> tuple[int, bool, bool] | None:
    """ "$30,000.00", "30k", "30 thousand" -> (30000, marked as money, had a k suffix)."""
    m = _AMOUNT.fullmatch(text.strip())
    if m is None:
        return None
    dollar, whole, frac, suffix = m.groups()
    frac = frac or ""
    scaled = int(whole.replace(",", "") + frac) * (1000 if suffix else 1)
    if scaled % 10 ** len(frac):  # whole units only: "29999.99" is not a price here
        return None
    marked = bool(dollar or suffix or "," in whole or "dollar" in text or "usd" in text)
    return scaled // 10 ** len(frac), marked, bool(suffix)


def _year(text: str, century_of: int | None = None) -> int:
    """ "2019" -> 2019; "'19" -> 2019 and "'95" -> 1995 (fixed pivot, never the clock)."""
    digits = text.lstrip(_QUOTES)
    if len(digits) == 4:
        return int(digits)
    yy = int(digits)
    if century_of is not None:
        return century_of - century_of % 100 + yy
    return 2000 + yy if yy < 50 else 1900 + yy


# ---- understanding `q` ------------------------------------------------------------------------


@dataclass
class _Spoken:
    """Constraints heard in `q`, before they are combined with the explicit parameters."""

    sets: dict[str, set[str]] = field(default_factory=dict)
    mins: dict[str, list[int]] = field(default_factory=dict)  # "year", "price"
    maxs: dict[str, list[int]] = field(default_factory=dict)  # "year", "price", "mileage"
    years: list[int] = field(default_factory=list)  # bare years: they span, not intersect
    zips: list[str] = field(default_factory=list)
    radii: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.sets or self.mins or self.maxs or self.years or self.zips)

    def bound(self, kind: str, name: str, value: int) -> bool:
        (self.mins if kind == "min" else self.maxs).setdefault(name, []).append(value)
        return True


_B = r"(?<![\w.,$'\u2018\u2019])"  # a number starts here
_E = r"(?!\w|[.,]\d)"  # and ends here
_AMT = (
    r"(\$?\s?(?:\d{1,3}(?:,\d{3})+|\d{1,12})(?:\.\d{1,6})?(?:\s?(?:k|thousand|grand)\b)?"
    r"(?:\s?(?:usd|dollars?)\b)?)"
)
_Y = r"((?:19|20)\d{2}|['\u2018\u2019]\d{2})"
_Y2 = r"((?:19|20)\d{2}|['\u2018\u2019]?\d{2})"  # the second year of "2015-18"
_TO = r" ?(?:-|\u2013|\u2014|to|and|through|thru) ?"
_NOT_MILES = r"(?!\s?(?:miles?|mi|mileage|km)\b)"
_MILES = r"\s?(?:miles?|mi|mileage)\b"
_UPPER = (
    r"(?:under|below|less than|cheaper than|no more than|not more than|at most|max(?:imum)?"
    r"|up to|budget(?: of| is)?|<=?)"
)
_LOWER = r"(?:over|above|more than|at least|min(?:imum)?|starting at|from|>=?)"

_Handler = Callable[[re.Match[str], _Spoken], bool]


def _price_max(m: re.Match[str], sp: _Spoken) -> bool:
    return _price(m, sp, "max")


def _price_min(m: re.Match[str], sp: _Spoken) -> bool:
    return _price(m, sp, "min")


def _price(m: re.Match[str], sp: _Spoken, kind: str) -> bool:
    parsed = _amount(m.group(1))
    # A bare small number ("under 30") is not a price: it stays in the text.
    return bool(parsed and (parsed[1] or parsed[0] >= 1000) and sp.bound(kind, "price", parsed[0]))


def _price_range(m: re.Match[str], sp: _Spoken) -> bool:
    low, high = _amount(m.group(1)), _amount(m.group(2))
    if low is None or high is None:
        return False
    lo = low[0] * 1000 if high[2] and not low[1] else low[0]  # "20-30k": the k covers both
    if not (low[1] or high[1] or lo >= 1000):
        return False
    sp.bound("min", "price", min(lo, high[0]))
    return sp.bound("max", "price", max(lo, high[0]))


def _mileage(m: re.Match[str], sp: _Spoken) -> bool:
    parsed = _amount(m.group(1))
    return bool(parsed and sp.bound("max", "mileage", parsed[0]))


def _year_range(m: re.Match[str], sp: _Spoken) -> bool:
    a = _year(m.group(1))
    b = _year(m.group(2), a if len(m.group(2)) == 2 else None)
    sp.bound("min", "year", min(a, b))
    return sp.bound("max", "year", max(a, b))


def _year_bound(kind: str, shift: int) -> _Handler:
    return lambda m, sp: sp.bound(kind, "year", _year(m.group(1)) + shift)


def _bare_year(m: re.Match[str], sp: _Spoken) -> bool:
    sp.years.append(_year(m.group(1)))
    return True


def _near(m: re.Match[str], sp: _Spoken) -> bool:
    if m.group(1):
        sp.radii.append(int(m.group(1)))
    sp.zips.append(m.group(2))
    return True


# Applied in this order, each to what the previous ones left: places, then miles (so "under 50k
# miles" is never a price), year phrases, prices, and bare years last ("under 2000" is a price).
_RULE_SOURCES: tuple[tuple[str, _Handler], ...] = (
    (r"\b(?:within (\d{1,3})" + _MILES + r" (?:of|from|around) |(?:near|in|around|zip"
     r"(?: ?code)?) )(\d{5})" + _E, _near),
    (r"(?:" + _UPPER + r"|fewer than) ?" + _B + _AMT + _MILES, _mileage),
    (_B + _AMT + _MILES + r" (?:or (?:less|fewer|under|below)|max(?:imum)?)\b", _mileage),
    (r"(?:(?:between|from) )?" + _B + _Y + _TO + _Y2 + _E, _year_range),
    (_B + _Y + r"(?: ?\+| (?:or|and) (?:newer|later|up|above)| onwards?)",
     _year_bound("min", 0)),
    (r"\b(?:newer than|after) " + _Y + _E, _year_bound("min", 1)),
    (r"\b(?:since|from|no older than) " + _Y + _E, _year_bound("min", 0)),
    (_B + _Y + r" (?:or|and) (?:older|earlier|before)\b", _year_bound("max", 0)),
    (r"\b(?:older than|before|pre) " + _Y + _E, _year_bound("max", -1)),
    (r"\b(?:until|no newer than) " + _Y + _E, _year_bound("max", 0)),
    (r"(?:(?:between|from) )?" + _B + _AMT + _TO + _AMT + _E + _NOT_MILES, _price_range),
    (_UPPER + r" ?" + _B + _AMT + _E + _NOT_MILES, _price_max),
    (_B + _AMT + r" (?:or less|or under|or below|and under|and below|max(?:imum)?|budget)\b",
     _price_max),
    (_LOWER + r" ?" + _B + _AMT + _E + _NOT_MILES, _price_min),
    (_B + _AMT + r"(?: ?\+| or more| or above| and up| and above)", _price_min),
    (_B + _Y + _E + _NOT_MILES, _bare_year),
)  # fmt: skip
_NUMBER_RULES = tuple((re.compile(pattern), handler) for pattern, handler in _RULE_SOURCES)
_LOW_MILES = re.compile(r"\blow (?:miles?|mileage)\b")
_HAS_DIGIT = re.compile(r"\d")
_BARRIER = "|"  # replaces an extracted phrase, so the words around it never join into a name
_WORD = re.compile(r"[^\W_]+")


def _replacer(handler: _Handler, sp: _Spoken) -> Callable[[re.Match[str]], str]:
    return lambda m: _BARRIER if handler(m, sp) else m.group(0)


def _hear(text: str, sp: _Spoken) -> list[str]:
    """Record the constraints in `text` on `sp`; return the words left over, in order."""
    text = _fold(text).replace(_BARRIER, " ")
    if _HAS_DIGIT.search(text):
        for pattern, handler in _NUMBER_RULES:
            text = pattern.sub(_replacer(handler, sp), text)
    if "low" in text:
        text, n = _LOW_MILES.subn(_BARRIER, text)
        if n:
            sp.bound("max", "mileage", _LOW_MILEAGE_MAX)
    rest: list[str] = []
    for segment in text.split(_BARRIER):
        _scan(_WORD.findall(segment), sp, rest)
    return rest


def _scan(tokens: list[str], sp: _Spoken, rest: list[str]) -> None:
    """Greedy longest match of names: "f 150", "f-150" and "F150" all join to the key "f150"."""
    i, n = 0, len(tokens)
    after_make: tuple[int, tuple[str, ...]] = (-1, ())
    while i < n:
        for span in range(min(_MAX_TOKENS, n - i), 0, -1):
            phrase = _PHRASES.get("".join(tokens[i : i + span]))
            if phrase is None:
                continue
            if phrase.guarded and not _guard_ok(phrase, tokens, i, span, after_make):
                continue
            if phrase.field == "model" and _make_then_model(tokens, i, span):
                continue  # "ram 1500" is make Ram + model 1500, not the old Dodge "Ram 1500"
            sp.sets.setdefault(phrase.field, set()).update(phrase.values)
            i += span
            if phrase.field == "make":
                after_make = (i, phrase.values)
            break
        else:
            rest.append(tokens[i])
            i += 1


def _make_then_model(tokens: list[str], i: int, span: int) -> bool:
    """Whether tokens[i:i+span] also read as a make followed by one of that make's models."""
    for cut in range(1, span):
        make = _PHRASES.get("".join(tokens[i : i + cut]))
        model = _PHRASES.get("".join(tokens[i + cut : i + span]))
        if (
            make
            and model
            and make.field == "make"
            and model.field == "model"
            and make.values[0] in model.makes
        ):
            return True
    return False


def _guard_ok(
    phrase: _Phrase, tokens: list[str], i: int, span: int, after_make: tuple[int, tuple[str, ...]]
) -> bool:
    if phrase.field == "model":  # right after one of its makes
        return after_make[0] == i and not set(phrase.makes).isdisjoint(after_make[1])
    if phrase.field == "make":  # right before one of its models
        for span2 in range(1, min(_MAX_TOKENS, len(tokens) - i - span) + 1):
            nxt = _PHRASES.get("".join(tokens[i + span : i + span + span2]))
            if nxt and nxt.field == "model" and phrase.values[0] in nxt.makes:
                return True
    return False


def _understand(q: str) -> tuple[_Spoken, str]:
    """Constraints of `q` and the residual text, a fixed point: nothing in it is left to hear."""
    sp = _Spoken()
    words = _hear(q, sp)
    while True:
        text = " ".join(sorted({w for w in words if w not in _STOPWORDS}))
        again = _Spoken()
        words = _hear(text, again)
        if not again:  # sorting can bring words together ("miles ... low"): hear them too
            return sp, text
        for name, values in again.sets.items():
            sp.sets.setdefault(name, set()).update(values)
        for kind in ("mins", "maxs"):
            for name, bounds in getattr(again, kind).items():
                getattr(sp, kind).setdefault(name, []).extend(bounds)
        sp.years += again.years
        sp.zips += again.zips
        sp.radii += again.radii


# ---- explicit parameters ----------------------------------------------------------------------


def _pairs(params: str | Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    if isinstance(params, str):
        try:
            return parse_qsl(params.lstrip("?"), keep_blank_values=True, max_num_fields=_MAX_PARAMS)
        except ValueError as exc:
            raise QueryError("invalid_parameter", f"more than {_MAX_PARAMS} parameters") from exc
    pairs = list(params)
    if len(pairs) > _MAX_PARAMS:
        raise QueryError("invalid_parameter", f"more than {_MAX_PARAMS} parameters")
    return pairs


def _set_values(name: str, raw: list[str]) -> tuple[str, ...]:
    out: set[str] = set()
    for piece in (p for value in raw for p in value.split(",")):
        if not piece.strip():
            continue
        known = _PARAM_KEYS[name].get(_compact(piece))
        if known is not None:
            out.update(known)
        elif name in ("make", "model", "dealer") and _slug(piece):
            out.add(_slug(piece))  # not in the vocabulary (yet): the origin simply finds none
        else:
            allowed = ", ".join(_ENUM_ALIASES[name]) if name in _ENUM_ALIASES else "a name"
            raise QueryError("invalid_parameter", f"{name} must be one of: {allowed}", name)
    return tuple(sorted(out))


def _int(name: str, value: str, low: int, high: int, *, amount: bool = False) -> int:
    parsed = _amount(value.casefold()) if amount else None
    if amount and parsed is not None:
        number = parsed[0]
    elif value.isascii() and value.isdigit() and (not name.startswith("year") or len(value) == 4):
        number = int(value)
    else:
        kind = "a 4-digit year" if name.startswith("year") else "a whole number"
        raise QueryError("invalid_parameter", f"{name} must be {kind}, not {value!r}", name)
    if not low <= number <= high:
        raise QueryError("out_of_range", f"{name} must be between {low} and {high}", name)
    return number


_LIMITS = {
    "year_min": _YEAR_RANGE, "year_max": _YEAR_RANGE, "price_min": _PRICE_RANGE,
    "price_max": _PRICE_RANGE, "mileage_max": _MILEAGE_RANGE,
}  # fmt: skip
_CURSOR = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_ZIP = re.compile(r"(\d{5})(?:-\d{4})?")


def parse_search(params: str | Iterable[tuple[str, str]]) -> SearchQuery:
    """A raw query string ("q=..&make=..") or decoded pairs -> SearchQuery; QueryError if bad."""
    single: dict[str, str] = {}
    sets: dict[str, list[str]] = {}
    fields: list[str] | None = None
    for raw_name, raw_value in _pairs(params):
        name = _fold(raw_name)
        if name.startswith("utm_") or name in _TRACKING_PARAMS:
            continue
        value = _clean(raw_value)
        if name in _SET_PARAMS:
            sets.setdefault(name, []).append(value)
        elif name == "fields":
            fields = (fields or []) + [f for f in value.casefold().replace(" ", "").split(",") if f]
        elif name not in _SINGLE_PARAMS:
            shown = name[:40]
            raise QueryError("unknown_parameter", f"unknown parameter {shown!r}", shown)
        elif value and single.setdefault(name, value) != value:
            raise QueryError("invalid_parameter", f"{name} is given twice, differently", name)

    q = single.get("q", "")
    if len(q) > MAX_QUERY_LENGTH:
        raise QueryError("query_too_long", f"q is longer than {MAX_QUERY_LENGTH} characters", "q")
    spoken, text = _understand(q) if q else (_Spoken(), "")

    filters: dict[str, object] = {}
    extracted: dict[str, object] = {}
    chosen: dict[str, tuple[str, ...]] = {}
    for name in _SET_PARAMS:
        explicit = _set_values(name, sets.get(name, []))
        if explicit:
            chosen[name] = explicit
        elif name in spoken.sets:  # explicit set filters win over the same filter spoken in q
            chosen[name] = extracted[name] = tuple(sorted(spoken.sets[name]))
    owners = [_MODEL_OWNERS.get(m, set()) for m in chosen.get("model", ())]
    if owners and all(owners) and "make" not in chosen:
        # A model implies its make(s): "camry" and "toyota camry" are one search.
        chosen["make"] = tuple(sorted(set().union(*owners)))
        if "model" in extracted:
            extracted["make"] = chosen["make"]
    filters.update(chosen)
    if spoken.years:  # bare years span: "2019 or 2020 camry" is 2019-2020
        spoken.bound("min", "year", min(spoken.years))
        spoken.bound("max", "year", max(spoken.years))
    for base in ("year", "price", "mileage"):
        _merge_range(base, single, spoken, filters, extracted)

    zip_code = single.get("zip")
    if zip_code is not None:
        m = _ZIP.fullmatch(zip_code)
        if m is None:
            raise QueryError("invalid_parameter", "zip must be a 5-digit US ZIP code", "zip")
        filters["zip"] = m.group(1)
    elif spoken.zips:
        filters["zip"] = extracted["zip"] = min(spoken.zips)
    if "radius_mi" in single:
        if "zip" not in filters:
            raise QueryError("invalid_parameter", "radius_mi requires zip", "radius_mi")
        filters["radius_mi"] = _int("radius_mi", single["radius_mi"], 1, _MAX_RADIUS_MI)
    elif "zip" in filters:
        radius = min(spoken.radii) if spoken.radii and "zip" in extracted else DEFAULT_RADIUS_MI
        if not 1 <= radius <= _MAX_RADIUS_MI:
            raise QueryError("out_of_range", f"radius must be 1 to {_MAX_RADIUS_MI} miles", "q")
        filters["radius_mi"] = radius
        if radius != DEFAULT_RADIUS_MI:
            extracted["radius_mi"] = radius

    sort = single.get("sort", "relevance").casefold().replace("-", "_")
    sort = _SORT_ALIASES.get(sort, sort)
    if sort not in SORTS:
        raise QueryError("invalid_parameter", f"sort must be one of: {', '.join(SORTS)}", "sort")
    if sort == "distance" and "zip" not in filters:
        raise QueryError("invalid_parameter", "sort=distance requires zip", "sort")
    limit = _int("limit", single["limit"], 1, MAX_LIMIT) if "limit" in single else DEFAULT_LIMIT
    cursor = single.get("cursor")
    if cursor is not None and (len(cursor) > _MAX_CURSOR_LENGTH or not _CURSOR.fullmatch(cursor)):
        raise QueryError("invalid_cursor", "cursor is not one this API returned", "cursor")
    if fields is not None:
        bad = [f for f in fields if not _FIELD_NAME.fullmatch(f)]
        if bad:
            raise QueryError("invalid_parameter", f"bad field name {bad[0][:40]!r}", "fields")
    return SearchQuery(
        text=text,
        raw_text=_clean(q),
        filters={k: filters[k] for k in _FILTER_ORDER if k in filters},
        extracted={k: extracted[k] for k in _FILTER_ORDER if k in extracted},
        sort=sort,
        limit=limit,
        cursor=cursor,
        fields=tuple(sorted(set(fields))) if fields else None,
    )


def _merge_range(
    base: str,
    single: Mapping[str, str],
    spoken: _Spoken,
    filters: dict[str, object],
    extracted: dict[str, object],
) -> None:
    """Explicit and spoken bounds intersect: the tightest minimum and the tightest maximum win."""
    blame = f"{base}_min"
    for kind in ("min", "max") if base != "mileage" else ("max",):
        name, pick = f"{base}_{kind}", (max if kind == "min" else min)
        low, high = _LIMITS[name]
        bounds = (spoken.mins if kind == "min" else spoken.maxs).get(base, [])
        heard = pick(bounds) if bounds else None
        if heard is not None and not low <= heard <= high:
            raise QueryError("out_of_range", f"{name} heard in q must be {low} to {high}", "q")
        given = None
        if name in single:
            given = _int(name, single[name], low, high, amount=base != "year")
        candidates = [v for v in (heard, given) if v is not None]
        if not candidates or (name == "price_min" and pick(candidates) == 0):
            continue  # "from $0" is no lower bound at all
        filters[name] = pick(candidates)
        if heard == filters[name]:
            extracted[name] = heard
            blame = "q"
    lo, hi = filters.get(f"{base}_min"), filters.get(f"{base}_max")
    if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
        raise QueryError("out_of_range", f"{base}_min ({lo}) is above {base}_max ({hi})", blame)


# ---- the canonical form and what derives from it ----------------------------------------------


def _show(value: object) -> str:
    return ",".join(value) if isinstance(value, tuple) else str(value)


def canonical_form(query: SearchQuery) -> str:
    """ "q=<text>&<filters in API order>&sort=..&limit=..[&cursor=..][&fields=..]", unescaped."""
    parts = [f"q={query.text}"]
    parts += [f"{k}={_show(query.filters[k])}" for k in _FILTER_ORDER if k in query.filters]
    parts += [f"sort={query.sort}", f"limit={query.limit}"]
    if query.cursor is not None:
        parts.append(f"cursor={query.cursor}")
    if query.fields is not None:
        parts.append(f"fields={','.join(query.fields)}")
    return "&".join(parts)


def cache_key(query: SearchQuery) -> str:
    digest = hashlib.sha256(canonical_form(query).encode("utf-8")).hexdigest()
    return f"{KEY_VERSION}:{digest[:32]}"


def canonical_params(query: SearchQuery) -> list[tuple[str, str]]:
    """Explicit parameters with q = query.text: parsed again, they give the same cache key."""
    out = [("q", query.text)] if query.text else []
    for name in _FILTER_ORDER:
        value = query.filters.get(name)
        if value is not None and not (name == "radius_mi" and value == DEFAULT_RADIUS_MI):
            out.append((name, _show(value)))
    if query.sort != "relevance":
        out.append(("sort", query.sort))
    if query.limit != DEFAULT_LIMIT:
        out.append(("limit", str(query.limit)))
    if query.cursor is not None:
        out.append(("cursor", query.cursor))
    if query.fields is not None:
        out.append(("fields", ",".join(query.fields)))
    return out


# The most selective set-valued filter tags a query; listing_tags names every one of a listing.
_NAME_DIMENSIONS = ("make", "model", "dealer")
_TAG_DIMENSIONS = ("model", "dealer", "make", "color", "body", "fuel", "drivetrain", "transmission")

# A change of one of these attributes alone (a listing that stays active, text and set filters
# unchanged) can only change searches that filter or sort on it; they get attribute-scoped tags
# "<attribute>|<coarse tag>" so such a change purges those and not every search of its coarse tags.
SCOPED_ATTRIBUTES = ("price", "mileage", "year")
_ATTRIBUTE_FILTERS = {
    "price": ("price_min", "price_max"), "mileage": ("mileage_max",),
    "year": ("year_min", "year_max"),
}  # fmt: skip
_ATTRIBUTE_SORTS = {"price": ("price_asc", "price_desc"), "mileage": ("mileage_asc",),
                    "year": ("year_desc",)}  # fmt: skip
# Past this many coarse tags a query's scoped tags of one attribute collapse into
# "<attribute>|q:unfiltered", which every listing's attribute_tags include: at most
# 3 x 8 = 24 scoped tags per query, whatever its filters.
_MAX_SCOPED_PER_ATTRIBUTE = 8


def _orders_by(query: SearchQuery, attribute: str) -> bool:
    if query.sort in _ATTRIBUTE_SORTS[attribute]:
        return True
    # The origin's rule: without free text, "relevance" means newest first (a year sort).
    return attribute == "year" and query.sort == "relevance" and not query.text


def query_tags(query: SearchQuery) -> tuple[str, ...]:
    """ "q:all" plus the values of the query's most selective set filter, else "q:unfiltered";
    then, for each of SCOPED_ATTRIBUTES the query filters or sorts on, those tags scoped to it."""
    coarse: tuple[str, ...] = ("q:unfiltered",)
    for dim in _TAG_DIMENSIONS:
        values = query.filters.get(dim)
        if isinstance(values, tuple) and values:
            coarse = tuple(f"{dim}:{v}" for v in values)
            break
    scoped: list[str] = []
    for attribute in SCOPED_ATTRIBUTES:
        filtered = any(f in query.filters for f in _ATTRIBUTE_FILTERS[attribute])
        if filtered or _orders_by(query, attribute):
            bases = coarse if len(coarse) <= _MAX_SCOPED_PER_ATTRIBUTE else ("q:unfiltered",)
            scoped += (f"{attribute}|{t}" for t in bases)
    return ("q:all", *coarse, *scoped)


def listing_tags(listing: Mapping[str, object]) -> tuple[str, ...]:
    """Tags to purge when this listing appears, comes back, or changes beyond SCOPED_ATTRIBUTES."""
    tags = ["q:unfiltered"]
    for dim in _TAG_DIMENSIONS:
        value = listing.get(dim)
        if isinstance(value, str) and value:
            tags.append(f"{dim}:{_slug(value) if dim in _NAME_DIMENSIONS else value.casefold()}")
    return tuple(tags)


def attribute_tags(listing: Mapping[str, object], attributes: Iterable[str]) -> tuple[str, ...]:
    """Tags to purge when an active listing changed only in `attributes` (of SCOPED_ATTRIBUTES):
    its listing_tags scoped to each, so only searches that filter or sort on them are dropped."""
    wanted = set(attributes)
    unknown = wanted - set(SCOPED_ATTRIBUTES)
    if unknown:
        raise ValueError(f"not a scoped attribute: {', '.join(sorted(unknown))}")
    base = listing_tags(listing)
    return tuple(f"{a}|{t}" for a in SCOPED_ATTRIBUTES if a in wanted for t in base)
