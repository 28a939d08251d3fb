"""Pure decisions of the write path: which tags a change purges (its own tag, and the full or the
attribute-scoped coarse tags), how tags are batched, and how long a failed event waits before its
next attempt."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from vsearch_query import SCOPED_ATTRIBUTES, attribute_tags, listing_tags

from origin.types import Tag, VehicleId

# A coarse query tag ("body:suv", "q:unfiltered") is purged at most once per window: it drops many
# cached searches, and a burst of new listings would otherwise purge the same tags on every write.
# So a new listing appears in matching searches within this window plus the purge lag (README).
COARSE_WINDOW_S = 30.0
# Cloudflare purges at most 100 tags per request (RESEARCH.md, "Cloudflare limits").
MAX_TAGS_PER_REQUEST = 100
# KV bulk delete takes at most 10,000 keys per request (Cloudflare API docs).
MAX_KV_KEYS_PER_REQUEST = 10_000
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 300.0
# Past this many attempts an event is reported as failed (alert); it is still retried.
FAILED_AFTER_ATTEMPTS = 10


@dataclass(frozen=True)
class WriteTags:
    """`now`: purged by the next batch; `coarse`: coalesced, within COARSE_WINDOW_S."""

    now: tuple[Tag, ...]
    coarse: tuple[Tag, ...]


def vehicle_tag(vehicle_id: VehicleId) -> Tag:
    return f"v:{vehicle_id}"


def write_tags(
    vehicle_id: VehicleId,
    old: Mapping[str, object] | None,
    new: Mapping[str, object] | None,
) -> WriteTags:
    """Tags of one vehicle change: always its own tag; when the new state is an active listing,
    also coarse query tags: only those scoped to the changed attributes when an active listing
    changed nothing but SCOPED_ATTRIBUTES, else all of its listing_tags."""
    own = (vehicle_tag(vehicle_id),)
    if new is None or new.get("status") != "active":
        # Deleted or sold: cached pages that showed it carry v:<id>; no search gains it.
        return WriteTags(own, ())
    scoped = _scoped_change(old, new)
    if scoped:
        # A price cut can make it match a price filter or move in a price sort; any other search
        # either shows it already (purged by v:<id>) or still cannot gain it.
        return WriteTags(own, attribute_tags(new, scoped))
    return WriteTags(own, tuple(listing_tags(new)))


def _scoped_change(old: Mapping[str, object] | None, new: Mapping[str, object]) -> tuple[str, ...]:
    """The changed SCOPED_ATTRIBUTES of a listing active before and after, when no other field
    changed; () means the full coarse purge. Every other field counts, known or not (text,
    set filters, place, names, title, ...): a field this does not know about is never assumed
    to leave searches alone. (A year change through the API re-derives the title, which feeds the
    keyword fallback's full-text match: a full purge.)"""
    if old is None or old.get("status") != "active":
        return ()  # new or reactivated: it can appear in any search it matches
    changed = {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}
    if not changed or not changed.issubset(SCOPED_ATTRIBUTES):
        return ()
    return tuple(a for a in SCOPED_ATTRIBUTES if a in changed)


def merge_write_tags(changes: Sequence[WriteTags]) -> WriteTags:
    """One event for a bulk write: the union, each tag once, in a stable order."""
    now = sorted({t for c in changes for t in c.now})
    coarse = sorted({t for c in changes for t in c.coarse})
    return WriteTags(tuple(now), tuple(coarse))


def chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def backoff_s(
    attempts: int, *, retry_after_s: float | None = None, rng: random.Random | None = None
) -> float:
    """Exponential backoff with equal jitter (half fixed, half random); never before Retry-After."""
    rng = rng or random.Random()
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0 ** max(attempts - 1, 0))
    delay: float = ceiling / 2 + rng.uniform(0, ceiling / 2)
    if retry_after_s is not None:
        delay = max(delay, retry_after_s)
    return delay
