"""Edge cache entries for KV and the Cache API, and the stale bookkeeping neither does for us.

The Cache API ignores stale-while-revalidate and stale-if-error, so every entry carries its own
stored-at time and windows, and `freshness` decides; entries are kept for ttl + the longer window.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Protocol

from edge_http import JSON_TYPE

CACHE_URL_BASE = "https://vsearch-cache.internal/"
# Cloudflare caps the Cache-Tag header at 16 KB; a response whose tags do not fit is not cached,
# because a truncated tag list would let a purge miss it.
MAX_CACHE_TAG_BYTES = 16 * 1024
ENVELOPE_VERSION = 1

_DIRECTIVE = re.compile(r"\s*([a-zA-Z-]+)\s*(?:=\s*\"?(\d+)\"?)?\s*")


class Layer(StrEnum):
    """Where an answer came from (the `X-Cache-Layer` header)."""

    KV = "kv"
    CACHE = "cache"
    ORIGIN = "origin"


class Freshness(Enum):
    """What an entry of a given age may be used for."""

    FRESH = "fresh"  # serve it
    REVALIDATE = "revalidate"  # serve it and refresh in the background
    IF_ERROR = "if_error"  # serve it only when the origin fails
    EXPIRED = "expired"  # never serve it


@dataclass(frozen=True)
class CachePolicy:
    """The origin's Cache-Control, reduced to what the edge acts on."""

    ttl: int
    swr: int
    sie: int
    storable: bool


def parse_cache_control(
    value: str | None, *, default_swr: int = 0, default_sie: int = 0
) -> CachePolicy:
    """Read max-age / s-maxage, stale-while-revalidate, stale-if-error, no-store, private."""
    directives: dict[str, int | None] = {}
    for part in (value or "").split(","):
        match = _DIRECTIVE.fullmatch(part)
        if match:
            directives[match.group(1).lower()] = int(match.group(2)) if match.group(2) else None
    ttl = directives.get("s-maxage", directives.get("max-age"))
    blocked = "no-store" in directives or "private" in directives or "no-cache" in directives
    return CachePolicy(
        ttl=ttl or 0,
        swr=directives.get("stale-while-revalidate") or default_swr,
        sie=directives.get("stale-if-error") or default_sie,
        storable=not blocked and bool(ttl),
    )


@dataclass(frozen=True)
class StoredResponse:
    """One cached search answer and the edge's own freshness record of it."""

    body: str
    stored_at: float
    ttl: int
    swr: int = 0
    sie: int = 0
    tags: tuple[str, ...] = ()
    status: int = 200
    content_type: str = JSON_TYPE

    @property
    def retention_s(self) -> int:
        """How long a tier must keep the entry so its stale windows stay usable."""
        return self.ttl + max(self.swr, self.sie)

    def age(self, now: float) -> float:
        """Seconds since the edge stored it (clock skew never makes it negative)."""
        return max(0.0, now - self.stored_at)

    def freshness(self, now: float) -> Freshness:
        """Fresh within ttl; then usable stale within each window."""
        age = self.age(now)
        if age < self.ttl:
            return Freshness.FRESH
        if age < self.ttl + self.swr:
            return Freshness.REVALIDATE
        if age < self.ttl + self.sie:
            return Freshness.IF_ERROR
        return Freshness.EXPIRED

    def remaining_s(self, now: float) -> int:
        """Whole seconds of freshness left, for the shopper's own Cache-Control."""
        return max(0, int(self.ttl - self.age(now)))


def cache_url(key: str) -> str:
    """The synthetic Cache API URL of a key: never a real host, so it cannot collide."""
    return CACHE_URL_BASE + key


def cache_tag_header(tags: tuple[str, ...]) -> str | None:
    """The Cache-Tag value, or None when it would exceed Cloudflare's header limit."""
    value = ",".join(tags)
    return value if len(value.encode("utf-8")) <= MAX_CACHE_TAG_BYTES else None


def kv_expiration_ttl(entry: StoredResponse, min_ttl: int = 60) -> int:
    """KV expirationTtl: the entry's retention, at least KV's 60 s minimum."""
    return max(min_ttl, 60, entry.retention_s)


def to_kv_value(entry: StoredResponse) -> str:
    """The JSON envelope stored in KV (body, headers, stored_at, ttl and windows)."""
    return json.dumps(
        {
            "v": ENVELOPE_VERSION,
            "status": entry.status,
            "headers": {"content-type": entry.content_type},
            "body": entry.body,
            "stored_at": entry.stored_at,
            "ttl": entry.ttl,
            "swr": entry.swr,
            "sie": entry.sie,
            "tags": list(entry.tags),
        },
        separators=(",", ":"),
    )


def from_kv_value(raw: str | None) -> StoredResponse | None:
    """Parse a KV envelope; an unreadable or other-version one is a miss, not an error."""
    if not raw:
        return None
    try:
        data = json.loads(raw)
        if data.get("v") != ENVELOPE_VERSION:
            return None
        return StoredResponse(
            body=str(data["body"]),
            stored_at=float(data["stored_at"]),
            ttl=int(data["ttl"]),
            swr=int(data.get("swr", 0)),
            sie=int(data.get("sie", 0)),
            tags=tuple(str(t) for t in data.get("tags", ())),
            status=int(data.get("status", 200)),
            content_type=str(data.get("headers", {}).get("content-type", JSON_TYPE)),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def to_cache_headers(entry: StoredResponse, tag_header: str) -> dict[str, str]:
    """Headers of the Cache API copy: kept for the retention, with our own freshness record."""
    return {
        "content-type": entry.content_type,
        "cache-control": f"public, max-age={entry.retention_s}",
        "cache-tag": tag_header,
        "x-edge-stored-at": repr(entry.stored_at),
        "x-edge-ttl": str(entry.ttl),
        "x-edge-swr": str(entry.swr),
        "x-edge-sie": str(entry.sie),
    }


def from_cache_entry(header: Callable[[str], str | None], body: str) -> StoredResponse | None:
    """Rebuild an entry from a Cache API match; one without our headers is ignored."""
    try:
        stored_at = header("x-edge-stored-at")
        ttl = header("x-edge-ttl")
        if stored_at is None or ttl is None:
            return None
        tags = tuple(t.strip() for t in (header("cache-tag") or "").split(",") if t.strip())
        return StoredResponse(
            body=body,
            stored_at=float(stored_at),
            ttl=int(ttl),
            swr=int(header("x-edge-swr") or 0),
            sie=int(header("x-edge-sie") or 0),
            tags=tags,
            content_type=header("content-type") or JSON_TYPE,
        )
    except ValueError:
        return None


class Tier(Protocol):
    """One edge storage tier (KV or the Cache API) holding StoredResponses by key."""

    layer: Layer

    async def read(self, key: str) -> StoredResponse | None:
        """The entry under `key`, or None."""
        ...

    async def write(self, key: str, entry: StoredResponse) -> None:
        """Store `entry` for at least its retention."""
        ...
