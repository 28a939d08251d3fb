"""SQL of the purge outbox (write path): add events inside a write's transaction, coalesce coarse
tags, claim with a lease (FOR UPDATE SKIP LOCKED), acknowledge, reschedule, report depth."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from origin.types import Tag

CHANNEL = "vsearch_purge"


@dataclass(frozen=True)
class Event:
    id: int
    tags: tuple[Tag, ...]
    reason: str
    created_at: datetime
    attempts: int
    kv_keys: tuple[str, ...]


async def add_event(conn: asyncpg.Connection, tags: Sequence[Tag], *, reason: str) -> int:
    """Insert one event and NOTIFY; call inside the write's transaction (both happen at commit)."""
    event_id = await conn.fetchval(
        "INSERT INTO purge_outbox (tags, reason) VALUES ($1, $2) RETURNING id",
        sorted(set(tags)),
        reason,
    )
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, str(event_id))
    return int(event_id)


async def add_coarse_tags(conn: asyncpg.Connection, tags: Sequence[Tag], window_s: float) -> None:
    """Ask for coarse tags to be purged: now if not purged within the window, else when it ends.

    A tag already due keeps its due time (coalesced). Sorted, so concurrent writers lock the rows
    in one order and cannot deadlock; run it last in the transaction, the rows are hot.
    """
    if not tags:
        return
    await conn.execute(
        """INSERT INTO purge_coarse_tags (tag, due_at)
           SELECT t, now() FROM unnest($1::text[]) AS t ORDER BY t
           ON CONFLICT (tag) DO UPDATE SET due_at = COALESCE(
               purge_coarse_tags.due_at,
               greatest(now(), purge_coarse_tags.last_purged_at
                               + make_interval(secs => $2::float8)))""",
        sorted(set(tags)),
        window_s,
    )


async def release_due_coarse_tags(conn: asyncpg.Connection) -> int | None:
    """Turn every due coarse tag into ONE outbox event, atomically (so none is lost); its id."""
    async with conn.transaction():
        tags = await conn.fetchval(
            """WITH due AS (
                   UPDATE purge_coarse_tags SET due_at = NULL, last_purged_at = now()
                   WHERE tag IN (SELECT tag FROM purge_coarse_tags
                                 WHERE due_at <= now() ORDER BY tag FOR UPDATE SKIP LOCKED)
                   RETURNING tag)
               SELECT array_agg(tag ORDER BY tag) FROM due"""
        )
        if not tags:
            return None
        return await add_event(conn, tags, reason="coarse")


async def next_due(conn: asyncpg.Connection) -> datetime | None:
    """When the next event or coarse tag becomes claimable (to sleep exactly that long)."""
    # An event leased by another purger is claimable only when its lease expires: counting it
    # as due at available_at made an idle purger poll ~500 times a second meanwhile.
    value: datetime | None = await conn.fetchval(
        """SELECT least(
               (SELECT min(greatest(available_at, coalesce(leased_until, available_at)))
                FROM purge_outbox WHERE done_at IS NULL),
               (SELECT min(due_at) FROM purge_coarse_tags WHERE due_at IS NOT NULL))"""
    )
    return value


async def claim(conn: asyncpg.Connection, *, owner: str, limit: int, lease_s: float) -> list[Event]:
    """Lease up to `limit` due events; others skip them until the lease expires."""
    rows = await conn.fetch(
        """WITH picked AS (
               SELECT id FROM purge_outbox
               WHERE done_at IS NULL AND available_at <= now()
                 AND (leased_until IS NULL OR leased_until < now())
               ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
           UPDATE purge_outbox o
           SET leased_until = now() + make_interval(secs => $2::float8), lease_owner = $3,
               attempts = o.attempts + 1
           FROM picked WHERE o.id = picked.id
           RETURNING o.id, o.tags, o.reason, o.created_at, o.attempts, o.kv_keys""",
        limit,
        lease_s,
        owner,
    )
    events = [
        Event(r["id"], tuple(r["tags"]), r["reason"], r["created_at"], r["attempts"],
              tuple(r["kv_keys"]))
        for r in rows
    ]  # fmt: skip
    return sorted(events, key=lambda e: e.id)


async def remember_kv_keys(
    conn: asyncpg.Connection, event_ids: Sequence[int], keys: Sequence[str]
) -> None:
    """Store the KV keys found for these events before the Redis tag index is purged."""
    await conn.execute(
        """UPDATE purge_outbox
           SET kv_keys = ARRAY(SELECT DISTINCT k FROM unnest(kv_keys || $2::text[]) AS k ORDER BY k)
           WHERE id = ANY($1::bigint[])""",
        list(event_ids),
        list(keys),
    )


async def mark_done(conn: asyncpg.Connection, event_ids: Sequence[int]) -> None:
    # Done whoever holds the lease now: every tier was purged after these events committed.
    await conn.execute(
        """UPDATE purge_outbox SET done_at = now(), leased_until = NULL, last_error = NULL
           WHERE id = ANY($1::bigint[]) AND done_at IS NULL""",
        list(event_ids),
    )


async def reschedule(
    conn: asyncpg.Connection, delays_s: dict[int, float], error: str, *, owner: str
) -> None:
    """Give failed events back with their backoff; only if this purger still holds the lease."""
    await conn.execute(
        """UPDATE purge_outbox o
           SET available_at = now() + make_interval(secs => d.delay), leased_until = NULL,
               lease_owner = NULL, last_error = $3
           FROM unnest($1::bigint[], $2::float8[]) AS d(id, delay)
           WHERE o.id = d.id AND o.done_at IS NULL AND o.lease_owner = $4""",
        list(delays_s),
        list(delays_s.values()),
        error[:500],
        owner,
    )


async def depth(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM purge_outbox WHERE done_at IS NULL"))


async def delete_done(conn: asyncpg.Connection, older_than_s: float) -> int:
    """Retention: done events are kept a while for inspection, then removed."""
    status = await conn.execute(
        "DELETE FROM purge_outbox WHERE done_at < now() - make_interval(secs => $1::float8)",
        older_than_s,
    )
    return int(status.split()[-1])
