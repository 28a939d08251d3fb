"""The locust side of the load test: shoppers replay the workload in order, normal -> spike ->
normal, and every response's latency and cache headers are kept for origin/bench/load_report.py.

Run by origin/bench/load.py: `locust -f origin/bench/locustfile.py --headless --workload ...`.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from locust import FastHttpUser, LoadTestShape, events, task
from locust.env import Environment
from locust.exception import StopUser
from vsearch_query import cache_key, parse_search, query_tags

from origin.bench.scenario import next_step_at, parse_stages
from origin.bench.workload import Request, read_jsonl

PAGES_FIELD = "next_cursor"
# Each shopper's steps start as a Poisson process of this rate (steps per second).
STEP_RATE = 1.0


class _State:
    """The shared replay position and the records (one locust process, gevent: one thread)."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.position = 0
        self.t0 = time.time()
        self.records: list[list[Any]] = []
        self.writes_skipped = 0
        self.lock = threading.Lock()
        self.rng = random.Random(0)  # re-seeded from the workload's seed at the start

    def next(self, limit: int) -> Request | None:
        with self.lock:
            if self.position >= min(limit, len(self.requests)):
                return None
            self.position += 1
            return self.requests[self.position - 1]


STATE = _State()


def _arguments(parser: argparse.ArgumentParser, **_: Any) -> None:
    parser.add_argument("--workload", default="", help="JSONL from origin/bench/workload.py")
    parser.add_argument("--search-path", default="/v1/search")
    parser.add_argument("--write-base", default="", help="origin for writes; empty = skip them")
    parser.add_argument("--admin-token-file", default="")
    parser.add_argument("--stages", default="10:15,100:15,10:15", help="users:seconds,...")
    parser.add_argument("--records", default="", help="where to write per-request records")
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42, help="of the shoppers' step timing")


def _options(environment: Environment) -> argparse.Namespace:
    options: argparse.Namespace | None = environment.parsed_options
    assert options is not None
    return options


def _start(environment: Environment, **_: Any) -> None:
    options = _options(environment)
    STATE.requests = read_jsonl(Path(options.workload))
    STATE.rng.seed(options.seed)
    STATE.t0 = time.time()


def _record(
    name: str,
    response_time: float,
    response: Any,
    context: dict[str, Any],
    exception: BaseException | None,
    start_time: float | None = None,
    **_: Any,
) -> None:
    headers = getattr(response, "headers", None) or {}
    STATE.records.append(
        [
            round((start_time or time.time()) - STATE.t0, 3),
            round(response_time, 2),
            int(getattr(response, "status_code", 0) or 0),
            headers.get("x-cache"),
            headers.get("x-cache-layer"),
            headers.get("x-nginx-cache"),
            name,
            context.get("rank", -1),
            exception is not None,
            context.get("key"),  # the canonical cache key (reads), "<write>:<vehicle>" (writes)
            context.get("tags"),  # the read's query tags (what coarse purges drop), comma-joined
            context.get("url"),  # the raw query string's hash: what a URL-keyed cache keys on
        ]
    )


def _save(environment: Environment, **_: Any) -> None:
    out = _options(environment).records
    if out:
        body = {"t0": STATE.t0, "writes_skipped": STATE.writes_skipped, "records": STATE.records}
        Path(out).write_text(json.dumps(body, separators=(",", ":")))


def _on(hook: Any, handler: Callable[..., None]) -> None:
    hook.add_listener(handler)  # locust's EventHook.add_listener is untyped


_on(events.init_command_line_parser, _arguments)
_on(events.test_start, _start)
_on(events.request, _record)
_on(events.quitting, _save)


def poisson_pacing(user: Shopper) -> float:
    """Seconds until the shopper's next step: see scenario.next_step_at."""
    now = time.monotonic()
    user.planned_at = next_step_at(getattr(user, "planned_at", now), now, STATE.rng, STEP_RATE)
    return user.planned_at - now


class Shopper(FastHttpUser):
    """One shopper: a workload step (a search, its next pages, or a write) about once a second."""

    wait_time = poisson_pacing
    planned_at: float

    def on_start(self) -> None:
        # The first step too comes an exponential gap after the shopper arrives: the shoppers a
        # spike adds arrive together, but do not all click in the same instant.
        self.wait()  # type: ignore[no-untyped-call]  # locust leaves it untyped

    network_timeout = 10.0
    connection_timeout = 5.0

    @task
    def step(self) -> None:
        options = _options(self.environment)
        request = STATE.next(options.max_requests)
        if request is None:
            raise StopUser()
        if request.kind == "write":
            self._write(request, options)
            return
        query = request.query
        for page in range(request.pages + 1):
            name = "search" if page == 0 else "page"
            context = _read_context(request.rank, query)
            path = f"{options.search_path}?{query}"
            with self.client.get(path, name=name, context=context, catch_response=True) as reply:
                cursor = None
                if request.pages > page and reply.status_code == 200:
                    cursor = (reply.json() or {}).get(PAGES_FIELD)
            if not cursor:
                return
            query = f"{request.query}&cursor={cursor}"

    def _write(self, request: Request, options: argparse.Namespace) -> None:
        if not options.write_base or not options.admin_token_file:
            STATE.writes_skipped += 1
            return
        token = Path(options.admin_token_file).read_text().strip()
        self.client.request(
            "PUT" if request.write == "new" else "PATCH",
            f"{options.write_base}/v1/vehicles/{request.vehicle}",
            name="write",
            json=request.patch,
            headers={"Authorization": f"Bearer {token}"},
            context={"key": f"{request.write or 'write'}:{request.vehicle}"},
        )


def _read_context(rank: int, query: str) -> dict[str, Any]:
    """What a read's record keeps besides the response: rank, canonical key, query tags."""
    url = format(zlib.crc32(query.encode()), "08x")
    try:
        parsed = parse_search(query)
    except ValueError:  # the origin answers 400: no key
        return {"rank": rank, "key": None, "tags": "", "url": url}
    tags = ",".join(query_tags(parsed))
    return {"rank": rank, "key": cache_key(parsed), "tags": tags, "url": url}


class SpikeShape(LoadTestShape):
    """Users per stage (normal, 10x spike, normal); stops after the last stage."""

    started: float | None = None

    def tick(self) -> tuple[int, float] | None:
        assert self.runner is not None
        stages = parse_stages(_options(self.runner.environment).stages)
        if self.started is None:
            self.started = time.monotonic()
        elapsed = time.monotonic() - self.started
        for users, seconds in stages:
            if elapsed < seconds:
                return users, 100.0  # all users start (or stop) within a second: a spike
            elapsed -= seconds
        return None
