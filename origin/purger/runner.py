"""Wiring of the purger from settings (write path): which tiers are configured, their clients,
and the loop's lifetime, shared by `vsearch purger` and `vsearch serve`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from dataclasses import replace

import asyncpg
import cloudflare
import httpx

from origin.purger.cloudflare import CloudflareCacheTarget, CloudflareKVTarget, TokenBucket
from origin.purger.targets import LocalEdgeTarget, OriginCacheTarget, PurgeTarget, TagPurger
from origin.purger.worker import Purger
from origin.settings import Settings

log = logging.getLogger(__name__)
# Every outside call of the purger is bounded; a hung tier becomes a retry, not a stuck batch.
HTTP_TIMEOUT = httpx.Timeout(10.0, connect=3.0)
# KV deletes are not purge requests; they share the account-wide API limit (1,200 per 5 min,
# kept by cloudflare.ACCOUNT_CALLS).
KV_RATE = (4.0, 20.0)


@contextlib.asynccontextmanager
async def purger_for(
    settings: Settings, pool: asyncpg.Pool, tag_purger: TagPurger | None
) -> AsyncIterator[Purger]:
    """A Purger over the configured tiers, in purge order; its HTTP clients closed on exit."""
    async with contextlib.AsyncExitStack() as stack:
        targets: list[PurgeTarget] = []
        key_finder: TagPurger | None = None
        cache_target: CloudflareCacheTarget | None = None
        if tag_purger is not None:
            targets.append(OriginCacheTarget(tag_purger))
        if settings.cloudflare_api_token:
            http = await stack.enter_async_context(httpx.AsyncClient(timeout=HTTP_TIMEOUT))
            # Our own retries (backoff, Retry-After, the outbox) replace the SDK's.
            client = cloudflare.AsyncCloudflare(
                api_token=settings.cloudflare_api_token, http_client=http, max_retries=0,
                base_url=settings.cloudflare_api_url,
            )  # fmt: skip
            if settings.cloudflare_account_id and settings.cloudflare_kv_namespace_id:
                targets.append(
                    CloudflareKVTarget(
                        client, settings.cloudflare_account_id,
                        settings.cloudflare_kv_namespace_id, TokenBucket(*KV_RATE),
                    )
                )  # fmt: skip
                key_finder = tag_purger
            if settings.cloudflare_zone_id:
                bucket = TokenBucket.for_plan(settings.cloudflare_plan)
                cache_target = CloudflareCacheTarget(client, settings.cloudflare_zone_id, bucket)
                targets.append(cache_target)
        if settings.edge_admin_url and settings.edge_admin_token:
            edge_http = await stack.enter_async_context(httpx.AsyncClient(timeout=HTTP_TIMEOUT))
            targets.append(
                LocalEdgeTarget(settings.edge_admin_url, settings.edge_admin_token, edge_http)
            )
        yield Purger(
            pool, _in_order(targets), key_finder=key_finder,
            lease_s=settings.purger_lease_s, poll_s=settings.purger_poll_s,
            coarse=cache_target, max_delay_s=settings.purge_max_delay_s,
        )  # fmt: skip


def _in_order(targets: list[PurgeTarget]) -> list[PurgeTarget]:
    # Redis first: once the origin answers fresh, an edge refill cannot re-cache the old page.
    order = ["origin_cache", "cloudflare_kv", "cloudflare_cache", "local_edge"]
    return sorted(targets, key=lambda t: order.index(t.name))


async def run_purger(
    settings: Settings,
    pool: asyncpg.Pool,
    tag_purger: TagPurger | None,
    stop: asyncio.Event,
    listen_dsn: str | None,
) -> None:
    async with purger_for(settings, pool, tag_purger) as purger:
        await purger.run(stop, listen_dsn)


@contextlib.asynccontextmanager
async def background_purger(
    settings: Settings,
    pool: asyncpg.Pool,
    tag_purger: TagPurger | None,
    listen_dsn: str | None,
    stop: asyncio.Event | None = None,
) -> AsyncIterator[asyncio.Task[None]]:
    """The purger inside `vsearch serve`; on `stop` (SIGTERM's drain) or at exit it finishes its
    batch (bounded by the lease: past it another purger takes the batch over), then is cancelled."""
    stop = asyncio.Event() if stop is None else stop
    task = asyncio.create_task(
        run_purger(settings, pool, tag_purger, stop, listen_dsn), name="purger"
    )
    try:
        yield task
    finally:
        stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=settings.purger_lease_s)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, 5)
        except Exception:
            log.exception("purger ended with an error")


async def serve_standalone(settings: Settings, dsn: str) -> int:
    """`vsearch purger`: drain until SIGTERM/SIGINT (the batch in hand is finished); a second
    signal stops at once (the lease hands the batch to another purger)."""
    from origin.cache.redis import RedisTier, connect
    from origin.db.migrate import migrate_database
    from origin.db.pool import create_pool

    # Migrations and LISTEN hold session state: never through a transaction pooler.
    direct_dsn = settings.direct_database_url or dsn
    await migrate_database(direct_dsn)
    pool = await create_pool(dsn, replace(settings, pool_min=1, pool_max=3))
    redis = None
    if settings.redis_url:
        redis = RedisTier(connect(settings.redis_url, settings.redis_timeout_s), settings)
    stop = asyncio.Event()
    task = asyncio.create_task(run_purger(settings, pool, redis, stop, direct_dsn), name="purger")

    def on_signal() -> None:
        if stop.is_set():
            task.cancel()
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    try:
        await task
    except asyncio.CancelledError:
        log.warning("purger forced to stop; its batch returns to the outbox when the lease ends")
    finally:
        if redis is not None:
            await redis.close()
        await pool.close()
    return 0
