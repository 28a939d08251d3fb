"""The purge faults of the drill, short (docs/reliability.md): a real `vsearch purger` killed in the
middle of a batch, then the Cloudflare API (a local fake) answering 429 with Retry-After, then
503. Zero lost purges, Retry-After honoured, 5xx retried, the purger still up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import cloudflare
import pytest
from write_db import create_database_copy, drop_database, fetch

from origin.devstack.cloudflare_fake import Call, CloudflareFake
from origin.devstack.purge_drill import (
    ACCOUNT,
    NAMESPACE,
    TOKEN,
    ZONE,
    DrillEvent,
    lost,
    purge_fault_results,
    retry_after_violations,
)  # fmt: skip
from origin.purger.cloudflare import (
    AccountBudget,
    CloudflareCacheTarget,
    CloudflareKVTarget,
    TokenBucket,
)  # fmt: skip
from origin.purger.targets import TierError

PURGE_DB = "vsearch_purge_drill_test"
ROW_KEYS = {"fault", "requests", "errors", "p99_ms", "stale", "purges_lost", "recovery_s"}


@pytest.fixture(scope="module")
def purge_db(database_url: str, inventory: object) -> Iterator[str]:
    """A private copy: no other test's purger (nor a concurrent session) drains its outbox."""
    url = create_database_copy(database_url, PURGE_DB)
    fetch(url, "UPDATE purge_outbox SET done_at = now() WHERE done_at IS NULL")
    yield url
    drop_database(database_url, PURGE_DB)


def test_a_killed_purger_and_cloudflare_429_then_5xx_lose_no_purge(
    purge_db: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    killed, limited = asyncio.run(
        purge_fault_results(purge_db, tmp_path, fault_s=3.0, retry_after_s=2, lease_s=2.0)
    )
    elapsed = time.monotonic() - started
    print(f"\npurge drill in {elapsed:.1f} s")
    for result in (killed, limited):
        print(result.row(), result.answers, result.checks)
        assert set(result.row()) == ROW_KEYS
    log = (tmp_path / "purger.log").read_text()[-3000:]

    assert killed.checks == {
        "killed_mid_batch": True, "held_request_unanswered": True, "batch_taken_over": True,
    }, log  # fmt: skip
    assert killed.purges_lost == 0, log

    assert limited.checks == {
        "rate_limited": True, "retry_after_honoured": True, "5xx_answered": True,
        "purger_survived": True, "clean_exit": True,
    }, log  # fmt: skip
    assert limited.purges_lost == 0, log
    # Retried past every 429 and 503: more calls failed than events were written.
    assert limited.errors == limited.answers[429] + limited.answers[503] > 0
    assert limited.answers[200] > 0
    assert elapsed < 120  # generous: about 20 s on 2 busy cores


def test_the_checks_count_a_lost_purge_and_an_early_retry() -> None:
    """The drill's verdicts can fail: a tag that never reached Cloudflare, a call inside a
    429's Retry-After."""
    event = DrillEvent(1, ("v:a", "v:b"), ("v1:a",), committed_at=10.0)
    done = {1: {"done_at": 1.0}}
    kv = Call(11.0, "kv_delete", ["v1:a"], 200, 11.1)
    purged = Call(11.2, "purge_tags", {"tags": ["v:a"]}, 200, 11.3)
    assert lost([event], done, [kv, purged]) == 1  # v:b never purged, yet acknowledged
    everything = Call(11.4, "purge_everything", {"purge_everything": True}, 200, 11.5)
    assert lost([event], done, [kv, purged, everything]) == 0
    assert lost([event], {1: {"done_at": None}}, [kv, purged, everything]) == 1
    limited = Call(12.0, "purge_tags", {"tags": ["v:b"]}, 429, 12.1, retry_after_s=2)
    early = Call(13.0, "kv_delete", ["v1:a"], 200, 13.1)
    late = Call(14.2, "purge_tags", {"tags": ["v:b"]}, 200, 14.3)
    assert retry_after_violations([limited, early, late]) == 1
    assert retry_after_violations([limited, late]) == 0


async def test_the_fake_answers_as_cloudflare_does() -> None:
    """Through the official SDK: the envelope, the bearer check, 429 + Retry-After, 5xx."""
    with CloudflareFake(TOKEN, ZONE, ACCOUNT, NAMESPACE) as fake:
        client = cloudflare.AsyncCloudflare(api_token=TOKEN, base_url=fake.url, max_retries=0)
        purged = await client.cache.purge(zone_id=ZONE, tags=["v:1"])
        assert purged is not None and purged.id == ZONE
        deleted = await client.kv.namespaces.bulk_delete(NAMESPACE, account_id=ACCOUNT, body=["k"])
        assert deleted is not None and deleted.successful_key_count == 1
        fake.set_mode("rate_limited", retry_after_s=7)
        with pytest.raises(cloudflare.RateLimitError) as limited:
            await client.cache.purge(zone_id=ZONE, tags=["v:2"])
        assert limited.value.response.headers["retry-after"] == "7"
        fake.set_mode("error", status=502)
        with pytest.raises(cloudflare.InternalServerError):
            await client.cache.purge(zone_id=ZONE, purge_everything=True)
        intruder = cloudflare.AsyncCloudflare(api_token="wrong", base_url=fake.url, max_retries=0)
        with pytest.raises(cloudflare.PermissionDeniedError):
            await intruder.cache.purge(zone_id=ZONE, tags=["v:3"])
        await client.close()
        await intruder.close()
        calls = fake.calls()
    assert [(c.operation, c.status) for c in calls] == [
        ("purge_tags", 200), ("kv_delete", 200), ("purge_tags", 429), ("purge_everything", 502),
        ("invalid", 403),
    ]  # fmt: skip
    assert calls[0].body == {"tags": ["v:1"]} and calls[1].body == ["k"]


async def test_a_429_from_one_endpoint_holds_every_cloudflare_call() -> None:
    """The fix the drill found: a KV delete's 429 used to pause only the KV bucket, so the next
    purge request went out inside its Retry-After. A 429 does not say which limit it was, and
    past the account-wide one Cloudflare blocks every call."""
    now, slept = [100.0], []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    def clock() -> float:
        return now[0]

    account = AccountBudget(clock=clock, sleep=sleep)
    with CloudflareFake(TOKEN, ZONE, ACCOUNT, NAMESPACE) as fake:
        client = cloudflare.AsyncCloudflare(api_token=TOKEN, base_url=fake.url, max_retries=0)
        kv = CloudflareKVTarget(
            client, ACCOUNT, NAMESPACE, TokenBucket(4.0, 20, clock, sleep), account
        )
        cache = CloudflareCacheTarget(client, ZONE, TokenBucket(5.0, 25, clock, sleep), account)
        fake.set_mode("rate_limited", retry_after_s=7)
        with pytest.raises(TierError) as limited:
            await kv.purge([], ["v1:a"])
        assert limited.value.retry_after_s == 7
        fake.set_mode("ok")
        assert cache.requests_time_s(1) == 7
        await cache.purge(["v:1"], [])
        await client.close()
        assert [(c.operation, c.status) for c in fake.calls()] == [
            ("kv_delete", 429), ("purge_tags", 200),
        ]  # fmt: skip
    assert slept == [7]  # the purge request waited out the KV delete's Retry-After
