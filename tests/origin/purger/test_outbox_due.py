"""When a purger sleeps until: an event another purger holds is due when its lease ends, not at
its available_at (which made an idle purger poll the database in a tight loop)."""

from __future__ import annotations

import asyncio

import asyncpg
from write_db import fetch

from origin.db import outbox


def _next_due_in_s(dsn: str) -> float:
    async def run() -> float:
        conn = await asyncpg.connect(dsn)
        try:
            due = await outbox.next_due(conn)
            now = await conn.fetchval("SELECT now()")
        finally:
            await conn.close()
        assert due is not None
        return float((due - now).total_seconds())

    return asyncio.run(run())


def test_an_event_leased_elsewhere_is_due_when_its_lease_expires(write_database_url: str) -> None:
    db = write_database_url
    fetch(db, "UPDATE purge_outbox SET done_at = now() WHERE done_at IS NULL")
    fetch(db, "DELETE FROM purge_coarse_tags")
    fetch(
        db,
        """INSERT INTO purge_outbox (tags, reason, leased_until, lease_owner)
           VALUES (ARRAY['v:4000001'], 'manual', now() + interval '20 seconds', 'other')""",
    )
    try:
        assert 15 < _next_due_in_s(db) <= 20
        fetch(db, "INSERT INTO purge_outbox (tags, reason) VALUES (ARRAY['v:4000002'], 'manual')")
        assert _next_due_in_s(db) <= 0  # a free event is due at once
    finally:
        fetch(db, "UPDATE purge_outbox SET done_at = now() WHERE done_at IS NULL")
