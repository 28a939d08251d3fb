"""The systems under load, each on free loopback ports: origin (+ Redis), the local edge in front
of it, nginx's URL-keyed cache in front of an uncached origin, or the uncached origin alone."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from origin.bench import nginx, procs
from origin.settings import REPO_ROOT

TARGETS = ("edge", "origin", "nginx", "nocache")
DESCRIPTIONS = {
    "edge": "local edge (KV + Cache API, canonical key) -> origin (L1 + Redis)",
    "origin": "origin alone (L1 + Redis, canonical key)",
    "nginx": "nginx proxy_cache keyed by the raw URL -> origin with caching off",
    "nocache": "origin with caching off (VSEARCH_CACHE_ENABLED=0)",
}


@dataclass
class Stack:
    """A running target: where to send searches and writes, and which processes to watch."""

    name: str
    base: str
    search_path: str
    origin: str
    pids: dict[str, list[int]] = field(default_factory=dict)


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    """A private redis-server on a free loopback port, no persistence."""
    port = procs.free_port()
    process = subprocess.Popen(  # noqa: S603 (fixed arguments, no shell)
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.3)
    return process, f"redis://127.0.0.1:{port}/0"


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2)
    try:
        client.flushall()
    finally:
        client.close()


def _start_edge(
    port: int, origin: str, persist: Path, token: str
) -> tuple[subprocess.Popen[str], str]:
    command = [str(REPO_ROOT / "scripts/edge/run"), "--port", str(port), "--origins", origin]
    command += ["--persist", str(persist)]
    env = dict(os.environ, VSEARCH_EDGE_ADMIN_TOKEN=token)
    process = subprocess.Popen(  # noqa: S603 (fixed arguments, no shell)
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 90
    for line in process.stdout:  # bounded: the host prints a few lines, then edge_ready
        if json.loads(line).get("event") == "edge_ready":
            return process, f"http://127.0.0.1:{port}"
        if time.monotonic() > deadline:
            break
    process.kill()
    raise RuntimeError("edge host did not start")


def _tree(pid: int) -> list[int]:
    try:
        return [pid] + [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return [pid]


@contextlib.contextmanager
def running(name: str, redis_url: str, admin_token: str) -> Iterator[Stack]:
    """Start target `name` (one of TARGETS) with fresh caches; stop all it started on exit."""
    if name not in TARGETS:
        raise ValueError(f"unknown target {name!r}")
    cached = name in ("edge", "origin")
    env = {"VSEARCH_ADMIN_TOKEN": admin_token, "VSEARCH_CACHE_ENABLED": "1" if cached else "0"}
    if cached:
        flush_redis(redis_url)
        env["REDIS_URL"] = redis_url
    edge_port = procs.free_port()
    if name == "edge":
        env["VSEARCH_EDGE_ADMIN_URL"] = f"http://127.0.0.1:{edge_port}"
        env["VSEARCH_EDGE_ADMIN_TOKEN"] = admin_token
    started: list[subprocess.Popen[bytes] | subprocess.Popen[str]] = []
    with tempfile.TemporaryDirectory(prefix="vsearch-load-") as tmp:
        try:
            origin_process, origin = procs.start_origin(env)
            started.append(origin_process)
            # With VSEARCH_WORKERS > 1: uvicorn's supervisor and its workers.
            stack = Stack(name, origin, "/v1/search", origin, {"origin": _tree(origin_process.pid)})
            if name == "edge":
                edge_process, base = _start_edge(edge_port, origin, Path(tmp) / "edge", admin_token)
                started.append(edge_process)
                stack.base, stack.search_path = base, "/search"
                stack.pids["edge"] = _tree(edge_process.pid)
            elif name == "nginx":
                # nginx's workers run as `nobody` when started as root: they must reach the cache.
                Path(tmp).chmod(0o755)
                nginx_process, base = nginx.start(origin.removeprefix("http://"), Path(tmp) / "ng")
                started.append(nginx_process)
                stack.base = base
                stack.pids["nginx"] = _tree(nginx_process.pid)
            yield stack
        finally:
            for process in reversed(started):
                procs.stop(process)


def postgres_pids(pgdata: Path) -> list[int]:
    """The postmaster of the embedded cluster and its backends (shared with other users)."""
    pidfile = pgdata / "postmaster.pid"
    if not pidfile.exists():
        return []
    return _tree(int(pidfile.read_text().split()[0]))


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each process still alive."""
    out: dict[int, float] = {}
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            out[pid] = times.user + times.system
    return out


def healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
