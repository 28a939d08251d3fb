"""The purger loop (write path): claim outbox events with a lease, purge every tier in order,
acknowledge only after all succeeded, else back off and retry. Woken by NOTIFY, polling as the
fallback; a stop request finishes the batch in hand first."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg

from origin.db import outbox
from origin.metrics import OUTBOX_DEPTH, PURGE_EVENTS, PURGE_FALLBACKS, PURGE_LAG_SECONDS
from origin.purger.fallback import (
    FALLBACK_MAX_EVENTS,
    FALLBACK_TAGS_PER_CALL,
    CoarsePurge,
    Fallback,
    decide,
    due_tag_count,
)
from origin.purger.plan import FAILED_AFTER_ATTEMPTS, backoff_s, chunks
from origin.purger.targets import PurgeTarget, TagPurger, TierError

log = logging.getLogger(__name__)
BATCH_EVENTS = 100
DONE_RETENTION_S = 3600.0


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Purger:
    """One purger; several may run (instances, `vsearch purger`): leases keep batches apart."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        targets: Sequence[PurgeTarget],
        *,
        key_finder: TagPurger | None = None,
        lease_s: float = 30.0,
        poll_s: float = 5.0,
        batch_events: int = BATCH_EVENTS,
        owner: str | None = None,
        rng: random.Random | None = None,
        coarse: CoarsePurge | None = None,
        max_delay_s: float = 60.0,
    ) -> None:
        """`coarse`: the target (one of `targets`) that falls back to purging everything when
        its tag purges would keep a change longer than `max_delay_s` (`fallback.py`)."""
        self.pool, self.targets, self.key_finder = pool, list(targets), key_finder
        self.coarse, self.max_delay_s = coarse, max_delay_s
        self.lease_s, self.poll_s, self.batch_events = lease_s, poll_s, batch_events
        self.owner = owner or default_owner()
        self.rng = rng or random.Random()
        self._last_cleanup = 0.0

    async def run(self, stop: asyncio.Event, listen_dsn: str | None = None) -> None:
        """Drain until `stop` is set; the batch in hand is always finished and acknowledged."""
        wake = asyncio.Event()
        listener: asyncpg.Connection | None = None
        log.info("purger started", extra={"owner": self.owner, "tiers": self.tier_names})
        try:
            while not stop.is_set():
                if listen_dsn is not None and (listener is None or listener.is_closed()):
                    listener = await self._listen(listen_dsn, wake)
                try:
                    handled = await self.run_once()
                except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
                    log.warning("purger: database unavailable", extra={"error": repr(exc)})
                    handled = 0
                if handled == 0:
                    await self._sleep(wake, stop)
        finally:
            if listener is not None:
                with contextlib.suppress(Exception):
                    await listener.close()
            log.info("purger stopped", extra={"owner": self.owner})

    @property
    def tier_names(self) -> list[str]:
        return [t.name for t in self.targets]

    async def run_once(self) -> int:
        """Claim and process one batch; the number of events handled (0: nothing due)."""
        async with self.pool.acquire() as conn:
            await outbox.release_due_coarse_tags(conn)
            fallback = None
            if self.coarse is not None:
                fallback = decide(await due_tag_count(conn), self.coarse, self.max_delay_s)
            limit = FALLBACK_MAX_EVENTS if fallback is not None else self.batch_events
            events = await outbox.claim(conn, owner=self.owner, limit=limit, lease_s=self.lease_s)
            OUTBOX_DEPTH.set(await outbox.depth(conn))
            if time.monotonic() - self._last_cleanup > 60:
                self._last_cleanup = time.monotonic()
                await outbox.delete_done(conn, DONE_RETENTION_S)
        if events:
            await self.process(events, fallback)
        return len(events)

    async def process(
        self, events: Sequence[outbox.Event], fallback: Fallback | None = None
    ) -> bool:
        """Purge every tier for these events; True when they were acknowledged."""
        ids = [e.id for e in events]
        tags = sorted({t for e in events for t in e.tags})
        heartbeat = asyncio.create_task(self._keep_lease(ids))
        try:
            kv_keys = {k for e in events for k in e.kv_keys}
            await self._purge_tiers(ids, tags, kv_keys, fallback)
        except Exception as exc:  # every failure is a retry: a purge is delayed, never lost
            await self._retry(events, exc)
            return False
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        async with self.pool.acquire() as conn:
            await outbox.mark_done(conn, ids)
        now = datetime.now(UTC)
        for event in events:
            PURGE_LAG_SECONDS.observe(max((now - event.created_at).total_seconds(), 0.0))
        PURGE_EVENTS.labels("done").inc(len(events))
        log.info("purge done", extra={"events": len(ids), "tags": len(tags)})
        return True

    async def _purge_tiers(
        self, ids: list[int], tags: list[str], kv_keys: set[str], fallback: Fallback | None
    ) -> None:
        # KV keys are found through Redis's tag index BEFORE Redis is purged (that drops the
        # index), and stored with the events so a retry after a crash still deletes them.
        if self.key_finder is not None:
            try:
                found = await self.key_finder.keys_for_tags(tags)
            except Exception as exc:
                raise TierError("redis_index", f"{type(exc).__name__}: {exc}") from exc
            if found:
                async with self.pool.acquire() as conn:
                    await outbox.remember_kv_keys(conn, ids, found)
                kv_keys |= set(found)
        if fallback is None:
            for target in self.targets:
                await target.purge(tags, sorted(kv_keys))
            return
        # The events were committed before they were claimed, so before purge_everything is sent.
        parts = list(chunks(tags, FALLBACK_TAGS_PER_CALL)) or [[]]
        coarse = self.coarse
        for target in self.targets:
            if coarse is not None and target.name == coarse.name:
                await coarse.purge_everything(min_interval_s=self.max_delay_s / 2)
                PURGE_FALLBACKS.inc()
                log.warning(
                    "purge fallback: purge_everything instead of tags",
                    extra={"tier": target.name, "events": len(ids), "tags": fallback.tags,
                           "requests_needed": fallback.requests,
                           "estimated_s": round(fallback.estimated_s, 1),
                           "max_delay_s": self.max_delay_s},
                )  # fmt: skip
                continue
            for i, part in enumerate(parts):  # KV keys once; tags in bounded calls
                await target.purge(part, sorted(kv_keys) if i == 0 else [])

    async def _retry(self, events: Sequence[outbox.Event], exc: Exception) -> None:
        retry_after = exc.retry_after_s if isinstance(exc, TierError) else None
        if not isinstance(exc, TierError):
            log.exception("purge failed unexpectedly", extra={"events": len(events)})
        delays = {e.id: backoff_s(e.attempts, retry_after_s=retry_after, rng=self.rng)
                  for e in events}  # fmt: skip
        async with self.pool.acquire() as conn:
            await outbox.reschedule(conn, delays, str(exc), owner=self.owner)
        PURGE_EVENTS.labels("retry").inc(len(events))
        failed = sum(1 for e in events if e.attempts == FAILED_AFTER_ATTEMPTS)
        if failed:
            PURGE_EVENTS.labels("failed").inc(failed)
        log.warning(
            "purge will be retried",
            extra={"events": len(events), "error": str(exc), "min_delay_s": min(delays.values())},
        )

    async def _keep_lease(self, ids: list[int]) -> None:
        """A long batch (a slow tier, a paced Cloudflare plan) keeps its lease."""
        while True:
            await asyncio.sleep(self.lease_s / 3)
            async with self.pool.acquire() as conn:
                await conn.execute(
                    """UPDATE purge_outbox SET leased_until = now() + make_interval(secs => $2)
                       WHERE id = ANY($1::bigint[]) AND lease_owner = $3 AND done_at IS NULL""",
                    ids,
                    self.lease_s,
                    self.owner,
                )

    async def _listen(self, dsn: str, wake: asyncio.Event) -> asyncpg.Connection | None:
        try:
            conn: asyncpg.Connection = await asyncpg.connect(dsn, timeout=5)
            await conn.add_listener(outbox.CHANNEL, lambda *_: wake.set())
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            # Polling still drains the outbox; LISTEN is tried again next round.
            log.warning("purger: LISTEN unavailable, polling", extra={"error": repr(exc)})
            return None
        return conn

    async def _sleep(self, wake: asyncio.Event, stop: asyncio.Event) -> None:
        """Until NOTIFY, stop, the next due event or coarse tag, or the polling interval."""
        timeout = self.poll_s
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncio.TimeoutError):
            async with self.pool.acquire() as conn:
                due = await outbox.next_due(conn)
            if due is not None:
                timeout = min(timeout, max((due - datetime.now(UTC)).total_seconds(), 0.01))
        waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            wake.clear()
