"""Dashboard history: instances' samples add up in shared buckets, Redis keeps them for a new
client (an origin restart), the in-process store forgets what is older than its window."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from origin.cache.redis import connect
from origin.dashboard.history import DAY_S, HOUR_S, MemoryHistory, RedisHistory, record

T0 = 1_800_000_000  # a whole minute


async def add_two_instances(history: Any) -> None:
    await history.add(
        T0, {"instance_seconds": 1.0, "requests": 5.0, "pool_in_use": 2.0, "outbox": 3.0}
    )
    await history.add(
        T0, {"instance_seconds": 1.0, "requests": 7.0, "pool_in_use": 4.0, "outbox": 3.0}
    )
    await history.add(T0 + 1, {"instance_seconds": 1.0, "requests": 1.0})


async def check_sums(history: Any) -> None:
    seconds = dict(await history.seconds(T0 - 1, T0 + 1))
    assert seconds[T0 - 1] == {}
    assert seconds[T0] == {
        "instance_seconds": 2.0,
        "requests": 12.0,
        "pool_in_use": 6.0,
        "outbox": 3.0,
    }
    assert seconds[T0 + 1]["requests"] == 1.0
    ((minute, fields),) = await history.minutes(T0 + 30, T0 + 59)
    assert minute == T0
    assert fields["requests"] == 13.0 and fields["instance_seconds"] == 3.0
    assert fields["pool_in_use"] == pytest.approx(6.0 / 60)  # levels: a 60th per second


async def test_memory_history_sums_instances() -> None:
    history = MemoryHistory()
    await add_two_instances(history)
    await check_sums(history)


async def test_memory_history_forgets_past_its_windows() -> None:
    history = MemoryHistory()
    await history.add(T0, {"requests": 1.0})
    await history.add(T0 + HOUR_S + 1, {"requests": 1.0})
    assert dict(await history.seconds(T0, T0))[T0] == {}
    assert dict(await history.minutes(T0, T0))[T0] == {"requests": 1.0}
    await history.add(T0 + DAY_S + 61, {"requests": 1.0})
    assert dict(await history.minutes(T0, T0))[T0] == {}


async def test_redis_history_is_shared_and_survives_a_new_client(redis_url: str) -> None:
    first = RedisHistory(connect(redis_url, 1.0))
    # The session's Redis is shared with other tests: clear only these buckets.
    await first.client.delete(
        *(f"vsearch:dash:s:{t}" for t in range(T0 - 1, T0 + 2)), f"vsearch:dash:m:{T0}"
    )
    await add_two_instances(first)
    await first.close()
    restarted = RedisHistory(connect(redis_url, 1.0))
    try:
        await check_sums(restarted)
        assert 0 < await restarted.client.ttl(f"vsearch:dash:s:{T0}") <= HOUR_S + 60
        assert HOUR_S < await restarted.client.ttl(f"vsearch:dash:m:{T0}") <= DAY_S + 120
    finally:
        await restarted.close()


async def test_the_recorder_adds_a_sample_every_second() -> None:
    history = MemoryHistory()
    task = asyncio.create_task(record(history))
    await asyncio.sleep(2.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    written = [t for t, fields in history._seconds.items() if fields.get("instance_seconds") == 1.0]
    assert len(written) >= 2
