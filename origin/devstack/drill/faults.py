"""The faults, one at a time under load: how each is injected and restored (and recovery timed),
and its row of figures: fault, requests, errors, p99_ms, stale, purges_lost, recovery_s."""

from __future__ import annotations

import logging
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from origin.devstack.drill.load import Load, p99_ms, wait_until
from origin.devstack.drill.processes import OriginProcess, ready
from origin.devstack.drill.purges import PurgeWriter
from origin.devstack.drill.stack import Stack

log = logging.getLogger(__name__)
# Every answer of the database this late: the vector path (5+ round trips) overruns its 300 ms
# budget, the keyword fallback (about 3) still answers within haproxy's 1 s, and a health check
# (2) within its 400 ms. Far slower, only cached answers can be served (docs/reliability.md).
SLOW_DATABASE_S = 0.12
RECOVERY_TIMEOUT_S = 60.0


@dataclass
class Fault:
    name: str
    inject: Callable[[], None]
    restore: Callable[[], float]  # restores, and returns the seconds until recovered
    # Only searches answered before, during it: the edge alone answers (from its copies).
    seen_only: bool = False


def standard_faults(stack: Stack) -> list[Fault]:
    """kill -9, SIGSTOP, Redis down, a slow database; every origin down when the edge is there."""
    first, second = stack.origins[0], stack.origins[1]
    faults = [
        Fault("kill -9 one origin", lambda: first.process.send_signal(signal.SIGKILL),
              lambda: _timed(first.restart)),
        Fault("SIGSTOP one origin", lambda: second.process.send_signal(signal.SIGSTOP),
              lambda: _resume(second)),
        Fault("Redis down", stack.redis.stop, lambda: _restart_redis(stack)),
        Fault("slow database", lambda: stack.database.slow(SLOW_DATABASE_S),
              lambda: _restore_database(stack)),
    ]  # fmt: skip
    if stack.edge is not None:
        faults.append(
            Fault("every origin down", lambda: _kill_all(stack.origins),
                  lambda: _timed(lambda: _restart_all(stack)), seen_only=True)
        )  # fmt: skip
    return faults


def run_fault(
    fault: Fault, load: Load, writer: PurgeWriter | None, seconds: float, settle_s: float = 1.0
) -> float:
    """Inject, hold `seconds`, restore, settle; the samples are tagged with the fault's name
    (then "after <name>" for the settling time). Returns the recovery time."""
    log.info("drill: fault injected", extra={"fault": fault.name, "seconds": seconds})
    _phase(load, writer, fault.name)
    load.seen_only = fault.seen_only
    fault.inject()
    time.sleep(seconds)
    recovery = fault.restore()
    log.info("drill: fault restored", extra={"fault": fault.name, "recovery_s": recovery})
    time.sleep(settle_s)
    load.seen_only = False
    _phase(load, writer, f"after {fault.name}")
    return recovery


def row(
    name: str, load: Load, lost: Counter[str], recovery_s: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fault's row (the drill table's columns) and details the table leaves out."""
    samples = load.of(name)
    figures = {
        "fault": name, "requests": len(samples),
        "errors": sum(1 for s in samples if s.status != 200),
        "p99_ms": p99_ms(samples), "stale": sum(1 for s in samples if s.stale),
        "purges_lost": lost[name] + lost[f"after {name}"], "recovery_s": round(recovery_s, 2),
    }  # fmt: skip
    details = {
        "degraded": sum(1 for s in samples if s.degraded),
        "statuses": dict(sorted(Counter(s.status for s in samples).items())),
    }
    return figures, details


def _phase(load: Load, writer: PurgeWriter | None, phase: str) -> None:
    load.phase = phase
    if writer is not None:
        writer.phase = phase


def _timed(action: Callable[[], object]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def _resume(origin: OriginProcess) -> float:
    origin.process.send_signal(signal.SIGCONT)
    return wait_until(lambda: ready(origin.url), RECOVERY_TIMEOUT_S)


def _restart_redis(stack: Stack) -> float:
    stack.redis.start()
    # Recovered once every origin uses Redis again (its circuit closed).
    return wait_until(
        lambda: all(ready(o.url, redis=True) for o in stack.origins), RECOVERY_TIMEOUT_S
    )


def _restore_database(stack: Stack) -> float:
    stack.database.restore()

    # Recovered once an unseen search is answered by the vector path again.
    def semantic() -> bool:
        params = {"q": f"electric pickup recovery{time.time_ns()}"}
        try:
            response = httpx.get(f"{stack.haproxy.url}/v1/search", params=params, timeout=2)
            return response.status_code == 200 and "degraded" not in response.json()
        except (httpx.HTTPError, ValueError):
            return False

    return wait_until(semantic, RECOVERY_TIMEOUT_S)


def _kill_all(origins: list[OriginProcess]) -> None:
    for origin in origins:
        origin.process.send_signal(signal.SIGKILL)


def _restart_all(stack: Stack) -> None:
    for origin in stack.origins:
        origin.restart()
    wait_until(lambda: ready(stack.haproxy.url), RECOVERY_TIMEOUT_S)
