"""The purge tier's fault drill: a real `vsearch purger` process, a real database and the local
Cloudflare fake (`cloudflare_fake.py`). The purger is killed in the middle of a batch; then the
API answers 429 with Retry-After, then 5xx. Every event must still reach Cloudflare: 0 lost."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import asyncpg

from origin.bench.stats import percentile
from origin.db import outbox
from origin.devstack.cloudflare_fake import Call, CloudflareFake
from origin.settings import REPO_ROOT

TOKEN, ZONE, ACCOUNT, NAMESPACE = "drill-token", "drill-zone", "drill-account", "drill-namespace"
# 30 events of 5 tags, half with KV keys: a batch is one KV delete and two purge requests (100 +
# 50 tags), and the kill lands while the second purge request is in flight.
BATCH_EVENTS, TAGS_PER_EVENT, HELD_AFTER_CALLS = 30, 5, 2
INSERT_EVERY_S = 0.25  # one write this often during the Cloudflare faults
POLL_S = 0.05


@dataclass
class FaultResult:
    """One fault's figures (`row()`: the drill table's columns) and the invariants checked."""

    fault: str
    requests: int  # Cloudflare API calls the fake received during the fault and the recovery
    errors: int  # non-2xx answers the purger got
    p99_ms: float  # p99 purge lag of the fault's events (commit to done)
    purges_lost: int  # events not done, or done without every tag and KV key reaching the fake
    recovery_s: float
    answers: dict[int, int] = field(default_factory=dict)  # status -> calls; 0: no answer
    checks: dict[str, bool] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        # stale = 0: this drill reads no cached answers (the search drill counts those).
        return {
            "fault": self.fault, "requests": self.requests, "errors": self.errors,
            "p99_ms": self.p99_ms, "stale": 0, "purges_lost": self.purges_lost,
            "recovery_s": self.recovery_s,
        }  # fmt: skip


@dataclass(frozen=True)
class DrillEvent:
    id: int
    tags: tuple[str, ...]
    kv_keys: tuple[str, ...]
    committed_at: float  # time.monotonic() once the insert returned


class PurgerProcess:
    """`vsearch purger` whose Cloudflare API is the fake; no Redis, no local edge."""

    def __init__(self, database_url: str, api_url: str, log: Path, lease_s: float, plan: str):
        self.log = log
        self.env = {
            **os.environ, "DATABASE_URL": database_url, "CLOUDFLARE_API_TOKEN": TOKEN,
            "CLOUDFLARE_ZONE_ID": ZONE, "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
            "CLOUDFLARE_KV_NAMESPACE_ID": NAMESPACE, "VSEARCH_CLOUDFLARE_API_URL": api_url,
            "VSEARCH_CLOUDFLARE_PLAN": plan, "VSEARCH_PURGER_LEASE_S": str(lease_s),
            "VSEARCH_PURGER_POLL_S": "0.2",
        }  # fmt: skip
        for name in ("REDIS_URL", "VSEARCH_EDGE_ADMIN_URL", "VSEARCH_DIRECT_DATABASE_URL"):
            self.env.pop(name, None)
        with log.open("ab") as out:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", "origin.cli", "purger"], cwd=REPO_ROOT, env=self.env,
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int:
        """SIGTERM (the batch in hand is finished); its exit status."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                return self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait(10)


class _Drill:
    """The fake, one database connection and the drill's events (unique tags per event)."""

    def __init__(self, conn: asyncpg.Connection, fake: CloudflareFake, drain_timeout_s: float):
        self.conn, self.fake, self.drain_timeout_s = conn, fake, drain_timeout_s
        # Tags unique across runs on one database: the fake sees only this run's calls.
        self.numbers = count(int(time.time() * 1000) % 10**9 * 100)

    async def insert(self, n: int) -> list[DrillEvent]:
        """`n` events as the write path adds them (then one NOTIFY); every other one with KV keys
        (as if found through the Redis tag index by an earlier attempt)."""
        specs = []
        for _ in range(n):
            i = next(self.numbers)
            tags = [f"v:drill-{i}-{j}" for j in range(TAGS_PER_EVENT)]
            specs.append((",".join(tags), f"v1:drill-{i}" if i % 2 else ""))
        rows = await self.conn.fetch(
            """INSERT INTO purge_outbox (tags, reason, kv_keys)
               SELECT string_to_array(t, ','), 'drill',
                      coalesce(string_to_array(nullif(k, ''), ','), '{}')
               FROM unnest($1::text[], $2::text[]) AS u(t, k)
               RETURNING id, tags, kv_keys""",
            [t for t, _ in specs],
            [k for _, k in specs],
        )
        await self.conn.execute("SELECT pg_notify($1, 'drill')", outbox.CHANNEL)
        now = time.monotonic()
        return [DrillEvent(r["id"], tuple(r["tags"]), tuple(r["kv_keys"] or ()), now) for r in rows]

    async def write_for(self, seconds: float) -> list[DrillEvent]:
        """One event every INSERT_EVERY_S for `seconds`."""
        events: list[DrillEvent] = []
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            events += await self.insert(1)
            await asyncio.sleep(min(INSERT_EVERY_S, max(until - time.monotonic(), 0)))
        return events

    async def states(self, events: Sequence[DrillEvent]) -> dict[int, asyncpg.Record]:
        rows = await self.conn.fetch(
            """SELECT id, created_at, done_at, attempts FROM purge_outbox
               WHERE id = ANY($1::bigint[])""",
            [e.id for e in events],
        )
        return {r["id"]: r for r in rows}

    async def wait_done(self, events: Sequence[DrillEvent]) -> dict[int, asyncpg.Record]:
        """Until every event is done or the drain timeout; their rows."""
        deadline = time.monotonic() + self.drain_timeout_s
        while True:
            rows = await self.states(events)
            if all(r["done_at"] is not None for r in rows.values()) or time.monotonic() > deadline:
                return rows
            await asyncio.sleep(POLL_S)

    def result(
        self, fault: str, events: Sequence[DrillEvent], rows: dict[int, asyncpg.Record],
        calls: Sequence[Call], recovery_s: float, checks: dict[str, bool],
    ) -> FaultResult:  # fmt: skip
        lags = [(r["done_at"] - r["created_at"]).total_seconds() * 1000
                for r in rows.values() if r["done_at"] is not None]  # fmt: skip
        answers = Counter(c.status for c in calls)
        return FaultResult(
            fault, requests=len(calls),
            errors=sum(n for status, n in answers.items() if status and not 200 <= status < 300),
            p99_ms=percentile(lags, 99) if lags else 0.0, purges_lost=lost(events, rows, calls),
            recovery_s=round(recovery_s, 2), answers=dict(sorted(answers.items())), checks=checks,
        )  # fmt: skip


def lost(
    events: Sequence[DrillEvent], rows: dict[int, asyncpg.Record], calls: Sequence[Call]
) -> int:
    """Events not done, or done although a tag or KV key of theirs never reached the fake in an
    accepted call (a purge_everything accepted after their commit covers every tag)."""
    purged = {
        t for c in calls if c.accepted and c.operation == "purge_tags" for t in c.body["tags"]
    }
    deleted = {k for c in calls if c.accepted and c.operation == "kv_delete" for k in c.body}
    everything = [c.received_at for c in calls if c.accepted and c.operation == "purge_everything"]
    missing = 0
    for event in events:
        row = rows.get(event.id)
        tags_gone = set(event.tags) <= purged or any(t > event.committed_at for t in everything)
        if row is None or row["done_at"] is None or not tags_gone or set(event.kv_keys) - deleted:
            missing += 1
    return missing


def retry_after_violations(calls: Sequence[Call]) -> int:
    """Calls received after a 429 was answered and before its Retry-After had elapsed."""
    limited = [(c.answered_at, c.answered_at + c.retry_after_s)
               for c in calls if c.status == 429 and c.retry_after_s]  # fmt: skip
    return sum(1 for c in calls if any(start < c.received_at < end for start, end in limited))


async def _until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(POLL_S)


async def _kill_mid_batch(drill: _Drill, start_purger: Callable[[], PurgerProcess]) -> tuple[
    FaultResult, PurgerProcess
]:  # fmt: skip
    """SIGKILL while a batch's second purge request is in flight; a new purger takes the batch
    over once the lease expires. Returns the new purger, still running."""
    fake, first_call = drill.fake, len(drill.fake.calls())
    events = await drill.insert(BATCH_EVENTS)
    fake.hold_next(skip=HELD_AFTER_CALLS)
    first = start_purger()
    try:
        await _until(fake.held.is_set, 60, f"the purger sent no held request: {first.log}")
        before = await drill.states(events)
        first.kill()
    finally:
        if first.process.poll() is None:
            first.process.kill()
    killed = time.monotonic()
    fake.release()
    # Writes while no purger runs.
    events += await drill.insert(5)
    second = start_purger()
    rows = await drill.wait_done(events)
    recovery = time.monotonic() - killed
    calls = fake.calls()[first_call:]
    passed = [c.operation for c in calls[:HELD_AFTER_CALLS] if c.accepted]
    checks = {
        "killed_mid_batch": passed == ["kv_delete", "purge_tags"]
        and all(r["done_at"] is None for r in before.values()),
        "held_request_unanswered": len(calls) > HELD_AFTER_CALLS
        and calls[HELD_AFTER_CALLS].status == 0,
        # Claimed by the killed purger, then once more by the new one when the lease expired.
        "batch_taken_over": all(rows[e.id]["attempts"] == 2 for e in events[:BATCH_EVENTS]),
    }
    return drill.result("purger killed mid-batch", events, rows, calls, recovery, checks), second


async def _rate_limited_then_5xx(
    drill: _Drill, purger: PurgerProcess, fault_s: float, retry_after_s: int
) -> FaultResult:
    """`fault_s` of 429 + Retry-After, then `fault_s` of 503, writes throughout; then restored."""
    fake, first_call = drill.fake, len(drill.fake.calls())
    fake.set_mode("rate_limited", retry_after_s=retry_after_s)
    events = await drill.write_for(fault_s)
    fake.set_mode("error", status=503)
    events += await drill.write_for(fault_s)
    fake.set_mode("ok")
    restored = time.monotonic()
    rows = await drill.wait_done(events)
    recovery = time.monotonic() - restored
    calls = fake.calls()[first_call:]
    statuses = {c.status for c in calls}
    checks = {
        "rate_limited": 429 in statuses,
        "retry_after_honoured": retry_after_violations(calls) == 0,
        "5xx_answered": 503 in statuses,
        "purger_survived": purger.process.poll() is None,
    }
    return drill.result("cloudflare 429 then 5xx", events, rows, calls, recovery, checks)


async def purge_fault_results(
    database_url: str, workdir: Path, *, fault_s: float = 4.0, retry_after_s: int = 2,
    lease_s: float = 2.0, plan: str = "pro", drain_timeout_s: float = 90.0,
) -> list[FaultResult]:  # fmt: skip
    """Both faults in turn with every check (see `run_purge_faults`)."""
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    log = workdir / "purger.log"
    conn = await asyncpg.connect(database_url)
    purgers: list[PurgerProcess] = []
    try:
        with CloudflareFake(TOKEN, ZONE, ACCOUNT, NAMESPACE) as fake:

            def start_purger() -> PurgerProcess:
                purgers.append(PurgerProcess(database_url, fake.url, log, lease_s, plan))
                return purgers[-1]

            drill = _Drill(conn, fake, drain_timeout_s)
            killed, purger = await _kill_mid_batch(drill, start_purger)
            limited = await _rate_limited_then_5xx(drill, purger, fault_s, retry_after_s)
            limited.checks["clean_exit"] = purger.stop() == 0
    finally:
        for process in purgers:
            if process.process.poll() is None:
                process.process.kill()
                process.process.wait(10)
        await conn.close()
    return [killed, limited]


def run_purge_faults(
    database_url: str, workdir: Path, *, fault_s: float = 4.0, retry_after_s: int = 2,
    lease_s: float = 2.0, plan: str = "pro",
) -> list[dict[str, Any]]:  # fmt: skip
    """The purge faults against `database_url` (migrated; NO other purger may drain its outbox,
    an origin's in-serve one included, or it would take the drill's events): a `vsearch purger`
    killed mid-batch (recovery: kill to every event done, past the `lease_s` lease), then
    Cloudflare answering 429 with `Retry-After: retry_after_s` for `fault_s`, 503 for `fault_s`,
    then ok (recovery: restore to drained). Rows of fault, requests, errors, p99_ms, stale,
    purges_lost, recovery_s. `plan`: the purge rate followed (pro by default: on free, a bucket
    emptied by a 429 gives one request per 12 s). Logs go to `workdir`. Call it outside a running
    event loop; `purge_fault_results` also gives the checks (Retry-After honoured, ...)."""
    results = asyncio.run(
        purge_fault_results(
            database_url, workdir, fault_s=fault_s, retry_after_s=retry_after_s,
            lease_s=lease_s, plan=plan,
        )
    )  # fmt: skip
    return [r.row() for r in results]
