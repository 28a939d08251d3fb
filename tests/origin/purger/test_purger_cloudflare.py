"""The purger against real PostgreSQL with Cloudflare mocked (respx): every request is the one
Cloudflare documents, and 429s, 5xx and timeouts leave events in the outbox until they succeed."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
import respx
from prometheus_client import REGISTRY

from origin.cache.base import CacheEntry
from origin.cache.memory import MemoryTier
from origin.db import outbox
from origin.db.pool import create_pool
from origin.purger import plan
from origin.purger.runner import purger_for
from origin.purger.worker import Purger
from origin.settings import Settings, load_settings

API = "https://api.cloudflare.com/client/v4"
TOKEN, ZONE, ACCOUNT, NAMESPACE = "cf-test-token", "zone123", "acc456", "ns789"
PURGE_URL = f"{API}/zones/{ZONE}/purge_cache"
KV_URL = f"{API}/accounts/{ACCOUNT}/storage/kv/namespaces/{NAMESPACE}/bulk/delete"
OK_PURGE = {"success": True, "errors": [], "messages": [], "result": {"id": ZONE}}
OK_KV = {"success": True, "errors": [], "messages": [],
         "result": {"successful_key_count": 2, "unsuccessful_keys": []}}  # fmt: skip
LIMITED = {"success": False, "messages": [],
           "errors": [{"code": 971, "message": "Please wait and consider throttling"}]}  # fmt: skip


@pytest.fixture
def cf_settings(write_database_url: str) -> Settings:
    return load_settings(
        {}, database_url=write_database_url, cloudflare_api_token=TOKEN, cloudflare_zone_id=ZONE,
        cloudflare_account_id=ACCOUNT, cloudflare_kv_namespace_id=NAMESPACE,
        cloudflare_plan="enterprise", purger_poll_s=30.0,
    )  # fmt: skip


@pytest.fixture
async def pool(cf_settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    assert cf_settings.database_url is not None
    pool = await create_pool(cf_settings.database_url, cf_settings)
    async with pool.acquire() as conn:  # start from an empty outbox
        await conn.execute("UPDATE purge_outbox SET done_at = now() WHERE done_at IS NULL")
        await conn.execute("UPDATE purge_coarse_tags SET due_at = NULL")
    yield pool
    await pool.close()


@pytest.fixture
async def origin_cache() -> MemoryTier:
    """The in-memory tier doubles as the Redis tag index: two entries that KV also holds."""
    tier = MemoryTier(100, 300)
    await tier.put("v1:aaa", CacheEntry({}, ("v:1", "q:all"), 0.0))
    await tier.put("v1:bbb", CacheEntry({}, ("v:2",), 0.0))
    return tier


async def add(pool: asyncpg.Pool, tags: list[str]) -> int:
    async with pool.acquire() as conn:
        return await outbox.add_event(conn, tags, reason="manual")


async def row(pool: asyncpg.Pool, event_id: int) -> asyncpg.Record:
    async with pool.acquire() as conn:
        return await conn.fetchrow("SELECT * FROM purge_outbox WHERE id = $1", event_id)


async def make_due(pool: asyncpg.Pool) -> None:
    """Skip the backoff wait (its length is asserted separately)."""
    async with pool.acquire() as conn:
        await conn.execute("UPDATE purge_outbox SET available_at = now() WHERE done_at IS NULL")


def requests_made(router: respx.MockRouter) -> list[tuple[str, str, Any, str]]:
    return [
        (c.request.method, str(c.request.url), json.loads(c.request.content),
         c.request.headers["authorization"])
        for c in router.calls
    ]  # fmt: skip


def lag_count() -> float:
    return REGISTRY.get_sample_value("vsearch_purge_lag_seconds_count") or 0.0


async def test_every_cloudflare_request_is_the_documented_one(
    cf_settings: Settings, pool: asyncpg.Pool, origin_cache: MemoryTier
) -> None:
    tags = [f"v:{i}" for i in range(1, 251)]
    event = await add(pool, tags)
    lags = lag_count()
    with respx.mock(assert_all_mocked=True, assert_all_called=True) as router:
        router.post(KV_URL).respond(200, json=OK_KV)
        router.post(PURGE_URL).respond(200, json=OK_PURGE)
        async with purger_for(cf_settings, pool, origin_cache) as purger:
            assert purger.tier_names == ["origin_cache", "cloudflare_kv", "cloudflare_cache"]
            assert await purger.run_once() == 1
        made = requests_made(router)
    ordered = sorted(tags)
    bearer = f"Bearer {TOKEN}"
    assert made == [
        ("POST", KV_URL, ["v1:aaa", "v1:bbb"], bearer),
        ("POST", PURGE_URL, {"tags": ordered[:100]}, bearer),
        ("POST", PURGE_URL, {"tags": ordered[100:200]}, bearer),
        ("POST", PURGE_URL, {"tags": ordered[200:]}, bearer),
    ]
    done = await row(pool, event)
    assert done["done_at"] is not None and done["kv_keys"] == ["v1:aaa", "v1:bbb"]
    assert await origin_cache.keys_for_tags(["v:1", "v:2"]) == []
    assert lag_count() == lags + 1


async def test_a_429_keeps_the_event_until_retry_after_then_it_completes(
    cf_settings: Settings, pool: asyncpg.Pool
) -> None:
    settings = load_settings({}, **{**cf_settings.__dict__, "cloudflare_kv_namespace_id": None})
    event = await add(pool, ["v:9"])
    with respx.mock(assert_all_mocked=True) as router:
        route = router.post(PURGE_URL)
        route.side_effect = [
            httpx.Response(429, json=LIMITED, headers={"Retry-After": "1"}),
            httpx.Response(200, json=OK_PURGE),
        ]
        async with purger_for(settings, pool, None) as purger:
            assert await purger.run_once() == 1
            failed = await row(pool, event)
            assert failed["done_at"] is None and "429" in failed["last_error"]
            async with pool.acquire() as conn:
                wait = await conn.fetchval(
                    "SELECT extract(epoch FROM available_at - now()) FROM purge_outbox "
                    "WHERE id = $1", event)  # fmt: skip
            assert 0.9 <= float(wait) <= 1.1  # Retry-After: 1, over a shorter backoff
            assert await purger.run_once() == 0  # not due before Retry-After
            await asyncio.sleep(1.05)
            started = time.monotonic()
            assert await purger.run_once() == 1
            assert time.monotonic() - started < 1.0
        assert route.call_count == 2
    assert (await row(pool, event))["done_at"] is not None
    assert REGISTRY.get_sample_value(
        "vsearch_cloudflare_api_calls_total", {"operation": "purge_tags", "outcome": "429"}
    )


@pytest.mark.parametrize(
    "failure",
    [httpx.Response(502, text="<html>bad gateway</html>"), httpx.ReadTimeout("slow"),
     httpx.ConnectError("refused"), httpx.Response(200, json={**OK_KV, "result": {
         "successful_key_count": 1, "unsuccessful_keys": ["v1:bbb"]}})],
    ids=["5xx", "timeout", "refused", "kv-keys-not-deleted"],
)  # fmt: skip
async def test_failures_leave_the_event_in_the_outbox_until_a_retry_succeeds(
    cf_settings: Settings, pool: asyncpg.Pool, origin_cache: MemoryTier, failure: Any
) -> None:
    event = await add(pool, ["v:1", "v:2"])
    with respx.mock(assert_all_mocked=True) as router:
        kv = router.post(KV_URL)
        purge = router.post(PURGE_URL)
        failing = kv if "unsuccessful_keys" in str(getattr(failure, "content", b"")) else purge
        other = purge if failing is kv else kv
        failing.side_effect = [failure, failure, httpx.Response(200, json=OK_KV
                               if failing is kv else OK_PURGE)]  # fmt: skip
        other.respond(200, json=OK_PURGE if other is purge else OK_KV)
        async with purger_for(cf_settings, pool, origin_cache) as purger:
            for attempt in (1, 2):
                assert await purger.run_once() == 1
                state = await row(pool, event)
                assert state["done_at"] is None and state["attempts"] == attempt
                async with pool.acquire() as conn:
                    delay = await conn.fetchval(
                        "SELECT extract(epoch FROM available_at - now()) FROM purge_outbox "
                        "WHERE id = $1", event)  # fmt: skip
                low = plan.BACKOFF_BASE_S * 2 ** (attempt - 1) / 2
                assert low - 0.1 <= float(delay) <= 2 * low + 0.1  # exponential, jittered
                await make_due(pool)
            assert await purger.run_once() == 1
        assert kv.calls[-1].request.content == b'["v1:aaa","v1:bbb"]'
    done = await row(pool, event)
    assert done["done_at"] is not None and done["attempts"] == 3
    # The KV keys found before the origin tier was purged survived the failed attempts.
    assert done["kv_keys"] == ["v1:aaa", "v1:bbb"]


async def test_the_loop_wakes_on_notify_and_retries_until_done(
    cf_settings: Settings, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plan, "BACKOFF_BASE_S", 0.05)
    settings = load_settings({}, **{**cf_settings.__dict__, "cloudflare_kv_namespace_id": None})
    stop = asyncio.Event()
    with respx.mock(assert_all_mocked=True) as router:
        route = router.post(PURGE_URL)
        route.side_effect = [httpx.Response(503), httpx.Response(500),
                             httpx.Response(200, json=OK_PURGE)]  # fmt: skip
        async with purger_for(settings, pool, None) as purger:
            task = asyncio.create_task(purger.run(stop, settings.database_url))
            await asyncio.sleep(0.3)  # LISTEN in place; polling is every 30 s here
            started = time.monotonic()
            event = await add(pool, ["v:77"])
            while (await row(pool, event))["done_at"] is None:
                assert time.monotonic() - started < 5, "not woken by NOTIFY"
                await asyncio.sleep(0.02)
            stop.set()
            await asyncio.wait_for(task, 5)
        assert [json.loads(c.request.content) for c in route.calls] == [{"tags": ["v:77"]}] * 3


async def test_an_event_is_done_only_when_every_tier_succeeded(
    cf_settings: Settings, pool: asyncpg.Pool
) -> None:
    settings = load_settings(
        {}, **{**cf_settings.__dict__, "cloudflare_kv_namespace_id": None,
               "edge_admin_url": "http://edge.test", "edge_admin_token": "edge-token"},
    )  # fmt: skip
    event = await add(pool, ["v:5"])
    with respx.mock(assert_all_mocked=True) as router:
        router.post(PURGE_URL).respond(200, json=OK_PURGE)
        edge = router.post("http://edge.test/__local/purge")
        edge.side_effect = [httpx.Response(500), httpx.Response(200, json={"purged_keys": []})]
        async with purger_for(settings, pool, None) as purger:
            assert isinstance(purger, Purger)
            await purger.run_once()
            assert (await row(pool, event))["done_at"] is None
            await make_due(pool)
            await purger.run_once()
        assert edge.calls[-1].request.headers["authorization"] == "Bearer edge-token"
        assert json.loads(edge.calls[-1].request.content) == {"tags": ["v:5"]}
    assert (await row(pool, event))["done_at"] is not None
