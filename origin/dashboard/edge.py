"""The edge's per-layer counts for the dashboard: the local edge host tallies the Worker's Analytics
Engine data points (GET /__local/counts); here they become counters of the sample."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import httpx

from origin.dashboard.sample import EDGE_LAYERS, Fields, deltas

log = logging.getLogger(__name__)
# The local edge answers in milliseconds; the recorder must never wait long on it.
TIMEOUT_S = 0.3
# (X-Cache, X-Cache-Layer) -> field; a STALE answer counts as stale whichever tier held it.
_HITS = {("HIT", "kv"): "edge_kv", ("HIT", "cache"): "edge_cache", ("MISS", "origin"): "edge_miss"}
EDGE_FIELDS = tuple(f"edge_{layer}" for layer in EDGE_LAYERS)


def layer_field(x_cache: str, layer: str) -> str | None:
    """The field of one data point's first two blobs; None for pages, rejects and errors ('-')."""
    return "edge_stale" if x_cache == "STALE" else _HITS.get((x_cache, layer))


def parse_counts(body: object) -> Fields:
    """`{"counts": {"HIT/kv": 3, "MISS/origin": 5, "-/-": 1}}` -> running totals per field.

    Raises ValueError when the body is not that shape."""
    counts = body.get("counts") if isinstance(body, Mapping) else None
    if not isinstance(counts, Mapping):
        raise ValueError("edge counts: no `counts` object")
    fields: Fields = dict.fromkeys(EDGE_FIELDS, 0.0)
    for key, value in counts.items():
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ValueError(f"edge counts: {key!r} is not a number")
        x_cache, _, layer = str(key).partition("/")
        field = layer_field(x_cache, layer)
        if field is not None:
            fields[field] += float(value)
    return fields


async def read_counts(client: httpx.AsyncClient, base_url: str, token: str) -> Fields | None:
    """The edge's running totals, or None when it does not answer well in time."""
    try:
        response = await client.get(
            f"{base_url.rstrip('/')}/__local/counts",
            headers={"authorization": f"Bearer {token}"},
            timeout=TIMEOUT_S,
        )
        response.raise_for_status()
        return parse_counts(response.json())
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        # An edge that is down or restarting is a gap in its chart, not an error of the origin.
        log.debug("edge counts unavailable", extra={"error": repr(exc)})
        return None


def edge_deltas(previous: Fields | None, current: Fields | None) -> Fields:
    """One second of edge counts plus `edge_seconds` 1 (this instance read the edge); nothing
    unless both readings exist, so a missed reading never turns a running total into one second.

    Every instance reads the same edge: the dashboard divides the sums by `edge_seconds`."""
    if previous is None or current is None:
        return {}
    return {**deltas(previous, current), "edge_seconds": 1.0}
