"""The drill's system on loopback: the fault proxy in front of PostgreSQL, Redis, N origins
behind haproxy, and (optionally) the local edge in front; started together, stopped together."""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from origin.bench.procs import free_port
from origin.devstack.drill.edge import ADMIN_TOKEN as EDGE_TOKEN
from origin.devstack.drill.edge import EdgeHost
from origin.devstack.drill.load import wait_until
from origin.devstack.drill.processes import Haproxy, OriginProcess, RedisProcess, ready
from origin.devstack.fault_proxy import FaultProxy, upstream_of, via_proxy

log = logging.getLogger(__name__)
ADMIN_TOKEN = "drill-admin-token"  # noqa: S105 (the origins' purge API, on loopback)
ORIGIN_ENV = {
    # A 1 s max-age and no stale-while-revalidate: the edge revalidates all the time (so the
    # origins' faults show through it), and once the origins are gone, only stale-if-error
    # can answer. A short lease: a killed instance's purge batch is taken over within 3 s.
    "VSEARCH_CACHE_MAX_AGE_S": "1", "VSEARCH_CACHE_SWR_S": "0", "VSEARCH_SHUTDOWN_DRAIN_S": "0.3",
    "VSEARCH_PURGER_LEASE_S": "3", "VSEARCH_PURGER_POLL_S": "1", "VSEARCH_ADMIN_TOKEN": ADMIN_TOKEN,
    # The pool a loaded instance has grown to: one load thread alone keeps 2 connections, and a
    # connection opened while the database is slow costs ~13 of its round trips (startup,
    # authentication, pgvector's type registration), past haproxy's 1 s (docs/reliability.md).
    "VSEARCH_POOL_MIN": "4",
}  # fmt: skip


@dataclass
class Stack:
    origins: list[OriginProcess]
    redis: RedisProcess
    haproxy: Haproxy
    database: FaultProxy  # every origin reaches PostgreSQL through it
    edge: EdgeHost | None

    @property
    def front(self) -> str:
        """Where shoppers' searches go: the edge when there is one, else haproxy."""
        return self.edge.url if self.edge is not None else self.haproxy.url


@contextlib.contextmanager
def drill_stack(
    database_url: str, work_dir: Path, *, origins: int = 2, edge: bool = False, **env: str
) -> Iterator[Stack]:
    """Start it all (origins on `database_url` through the proxy, ORIGIN_ENV + `env`), wait
    until haproxy sees every origin up; stop all on exit, whatever state the faults left."""
    database = FaultProxy(upstream_of(database_url))
    started: list[OriginProcess] = []
    redis = proxy = host = None
    try:
        redis = RedisProcess(work_dir)
        edge_port = free_port()
        variables = {**ORIGIN_ENV, "REDIS_URL": redis.url, **env}
        if edge:
            variables["VSEARCH_EDGE_ADMIN_URL"] = f"http://127.0.0.1:{edge_port}"
            variables["VSEARCH_EDGE_ADMIN_TOKEN"] = EDGE_TOKEN
        proxied = via_proxy(database_url, database.port)
        for _ in range(origins):
            started.append(OriginProcess(proxied, work_dir, **variables))
            log.info("drill: origin up", extra={"port": started[-1].port})
        proxy = Haproxy([o.port for o in started], work_dir)
        wait_until(lambda: ready(proxy.url), 10)
        time.sleep(1.0)  # every server seen up by haproxy's checks (rise 2 x 300 ms)
        if edge:
            host = EdgeHost(work_dir / "edge-persist", proxy.url, port=edge_port)
            log.info("drill: edge up", extra={"port": edge_port})
        yield Stack(started, redis, proxy, database, host)
    finally:
        if host is not None:
            host.stop()
        for origin in started:
            if origin.process.poll() is None:
                origin.process.send_signal(signal.SIGCONT)
            origin.stop()
        if proxy is not None:
            proxy.stop()
        if redis is not None:
            redis.stop()
        database.close()
