"""Fakes beside the seams: an in-memory Tier, a scripted origin Transport, a rate-limit binding,
and tiny stand-ins for the Workers runtime modules (`js`, `workers`, `pyodide.ffi`) so CPython can
import entry.py.
"""

from __future__ import annotations

import asyncio
import sys
import types
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from edge_cache import Layer, StoredResponse
from edge_http import OriginFailure, OriginTimeout
from origin_fetch import OriginReply


class MemoryTier:
    """A Tier in a dict; `writes` records what the service stored."""

    def __init__(self, layer: Layer) -> None:
        self.layer = layer
        self.entries: dict[str, StoredResponse] = {}
        self.writes: list[str] = []
        self.fail_reads = False

    async def read(self, key: str) -> StoredResponse | None:
        if self.fail_reads:
            raise RuntimeError("tier down")
        return self.entries.get(key)

    async def write(self, key: str, entry: StoredResponse) -> None:
        self.writes.append(key)
        self.entries[key] = entry


@dataclass
class FakeOrigin:
    """A Transport: answers per origin base URL, counts calls, can fail, hang or 5xx."""

    ttl: int = 60
    swr: int = 0
    sie: int = 300
    popular: bool = False
    delay_s: float = 0.0
    down: set[str] = field(default_factory=set)
    slow: set[str] = field(default_factory=set)
    status: int = 200
    mismatch_key: str | None = None
    calls: list[str] = field(default_factory=list)
    seen_headers: list[Mapping[str, str]] = field(default_factory=list)

    async def __call__(self, url: str, headers: Mapping[str, str], timeout_s: float) -> OriginReply:
        self.calls.append(url)
        self.seen_headers.append(dict(headers))
        base = url.split("/search")[0]
        if base in self.down:
            raise OriginFailure(f"{base} refused")
        if base in self.slow:
            await asyncio.sleep(timeout_s)
            raise OriginTimeout(f"{base} timed out")
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.status != 200:
            body = '{"error": {"code": "x", "message": "x", "field": "q"}}'
            return OriginReply(self.status, {"content-type": "application/json"}, body)
        reply_headers = {
            "content-type": "application/json",
            "cache-control": f"public, max-age={self.ttl}, stale-while-revalidate={self.swr}, "
            f"stale-if-error={self.sie}",
            "cache-tag": "v:12,v:99",
            "x-cache-key": self.mismatch_key or headers["x-cache-key"],
        }
        if self.popular:
            reply_headers["x-popular"] = "1"
        return OriginReply(200, reply_headers, f'{{"results": [], "call": {len(self.calls)}}}')


class Clock:
    """A settable wall clock for freshness decisions."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Background:
    """Collects `schedule`d coroutines as tasks, like ctx.waitUntil; `drain` awaits them."""

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[None]] = []

    def __call__(self, work: Any) -> None:
        self.tasks.append(asyncio.ensure_future(work))

    async def drain(self) -> None:
        while self.tasks:
            await self.tasks.pop(0)


# ---- the Workers runtime, reduced to what js_bindings and entry touch ---------------------


class FakeHeaders:
    def __init__(self, headers: Mapping[str, str] | None = None) -> None:
        self._h = {k.lower(): v for k, v in (headers or {}).items()}

    def get(self, name: str) -> str | None:
        return self._h.get(name.lower())


class FakeResponse:
    """Stands in for both a JS Response and `workers.Response`."""

    def __init__(
        self, body: str = "", status: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        self.body = body
        self.status = status
        self.headers = FakeHeaders(headers)
        self.raw_headers = dict(headers or {})
        self.js_object = self

    async def text(self) -> str:
        return self.body


class FakeCache:
    """caches.default keyed by URL string."""

    def __init__(self) -> None:
        self.store: dict[str, FakeResponse] = {}

    async def match(self, url: str) -> FakeResponse | None:
        return self.store.get(url)

    async def put(self, url: str, response: FakeResponse) -> None:
        self.store[url] = response


class FakeKV:
    """A KV binding; records the expirationTtl of each put."""

    def __init__(self) -> None:
        self.store: dict[str, str] = {}
        self.ttls: dict[str, int] = {}

    async def get(self, key: str) -> str | None:
        return self.store.get(key)

    async def put(self, key: str, value: str, expirationTtl: int) -> None:
        assert expirationTtl >= 60, "Cloudflare rejects expirationTtl below 60"
        self.store[key] = value
        self.ttls[key] = expirationTtl


class FakeRateLimit:
    """A Workers Rate Limiting binding: `limit({"key": k})` succeeds `limit` times per key (no
    window: a test is shorter than a period); `keys` records what was counted."""

    def __init__(self, limit: int, *, broken: bool = False) -> None:
        self.limit_per_key = limit
        self.broken = broken
        self.keys: list[str] = []

    async def limit(self, options: Mapping[str, str]) -> types.SimpleNamespace:
        if self.broken:
            raise RuntimeError("rate limit binding unavailable")
        self.keys.append(options["key"])
        return types.SimpleNamespace(success=self.keys.count(options["key"]) <= self.limit_per_key)


class FakeSignal:
    def __init__(self, ms: int) -> None:
        self.ms = ms
        self.aborted = False


@dataclass
class Runtime:
    """The fake runtime's state a test inspects and steers."""

    cache: FakeCache
    origin: Callable[..., Any]
    fetched: list[tuple[str, dict[str, str]]] = field(default_factory=list)


@contextmanager
def workers_runtime(origin: Callable[[str, dict[str, str]], Any]) -> Iterator[Runtime]:
    """Install fake `js`, `workers`, `pyodide.ffi`; yield; then remove them and the modules."""
    runtime = Runtime(cache=FakeCache(), origin=origin)

    async def fetch(url: str, *, headers: dict[str, str], signal: FakeSignal) -> Any:
        runtime.fetched.append((url, headers))
        try:
            return await asyncio.wait_for(origin(url, headers), signal.ms / 1000)
        except TimeoutError:
            signal.aborted = True
            raise OSError("The operation was aborted") from None

    class WorkerEntrypoint:
        def __init__(self, ctx: Any, env: Any) -> None:
            self.ctx = ctx
            self.env = env

    js = types.ModuleType("js")
    js.caches = types.SimpleNamespace(default=runtime.cache)  # type: ignore[attr-defined]
    js.AbortSignal = types.SimpleNamespace(timeout=FakeSignal)  # type: ignore[attr-defined]
    js.Object = types.SimpleNamespace(fromEntries=dict)  # type: ignore[attr-defined]
    workers = types.ModuleType("workers")
    workers.Response = FakeResponse  # type: ignore[attr-defined]
    workers.WorkerEntrypoint = WorkerEntrypoint  # type: ignore[attr-defined]
    workers.fetch = fetch  # type: ignore[attr-defined]
    pyodide = types.ModuleType("pyodide")
    ffi = types.ModuleType("pyodide.ffi")
    ffi.to_js = lambda value, **_: value  # type: ignore[attr-defined]
    pyodide.ffi = ffi  # type: ignore[attr-defined]
    fakes = {"js": js, "workers": workers, "pyodide": pyodide, "pyodide.ffi": ffi}
    saved = {name: sys.modules.get(name) for name in [*fakes, "js_bindings", "entry"]}
    sys.modules.update(fakes)
    sys.modules.pop("js_bindings", None)
    sys.modules.pop("entry", None)
    try:
        yield runtime
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
