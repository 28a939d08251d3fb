"""Purge requests during the drill (POST /v1/purge through haproxy, from one thread) and, at the
end, the accepted ones that never finished: the purges lost, per phase (fault)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import asyncpg
import httpx


@dataclass
class PurgeWriter:
    """One purge of a unique tag every `interval_s`; `accepted` keeps (phase, outbox event id)
    of each 202. A refused request committed nothing, so it cannot be a lost purge."""

    url: str
    admin_token: str
    interval_s: float = 0.5
    phase: str = "baseline"
    accepted: list[tuple[str, int]] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        auth = {"authorization": f"Bearer {self.admin_token}"}
        run_id = int(time.time())
        with httpx.Client(base_url=self.url, timeout=10, headers=auth) as client:
            n = 0
            while not self.stop.wait(self.interval_s):
                n, phase = n + 1, self.phase
                try:
                    response = client.post("/v1/purge", json={"tags": [f"drill:{run_id}:{n}"]})
                except httpx.HTTPError:
                    self.refused[phase] += 1
                    continue
                if response.status_code == 202:
                    self.accepted.append((phase, int(response.json()["purge_event"])))
                else:
                    self.refused[phase] += 1

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        return thread


def lost_by_phase(dsn: str, accepted: list[tuple[str, int]], wait_s: float) -> Counter[str]:
    """Per phase, the accepted events not done after waiting up to `wait_s` for all of them
    (retries back off: a purge held up by a fault finishes some seconds after its restore)."""
    pending = asyncio.run(_pending(dsn, [event for _, event in accepted], wait_s))
    return Counter(phase for phase, event in accepted if event in pending)


async def _pending(dsn: str, events: list[int], wait_s: float) -> set[int]:
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            done = await conn.fetch(
                "SELECT id FROM purge_outbox WHERE id = ANY($1::bigint[]) AND done_at IS NOT NULL",
                events,
            )
            pending = set(events) - {int(r["id"]) for r in done}
            if not pending or time.monotonic() > deadline:
                return pending
            await asyncio.sleep(0.2)
    finally:
        await conn.close()
