"""The read path's one entry: a parsed query -> a search response (the shape of SPEC.md).

Vector path (embed, plan, kNN) under a time budget, keyword fallback when it fails; facets from
the filters alone; keyset cursors. Caching tiers wrap this service; it never caches results.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import asyncpg
import numpy as np
from vsearch_query import SearchQuery, cache_key, canonical_form, query_tags

from origin.cache.breaker import CircuitBreaker
from origin.db import vehicles as db
from origin.errors import BadRequest, ServiceUnavailable
from origin.metrics import DB_CIRCUIT_OPEN, FACETS_COMPUTED
from origin.search.cursor import Cursor, decode_cursor, encode_cursor
from origin.search.filters import GeoPoint, build_counts_where, build_where, distance_sql
from origin.search.planner import Strategy, choose_vector_strategy
from origin.settings import Settings
from origin.types import JSONDict

log = logging.getLogger(__name__)

RESULT_FIELDS = (
    "id", "make", "model", "make_name", "model_name", "year", "price", "mileage", "body", "fuel",
    "drivetrain", "transmission", "color", "condition", "zip", "city", "state", "region",
    "dealer", "title", "description", "score", "distance_mi",
)  # fmt: skip
FACETS_TTL_S = 30.0
DB_DOWN = "the database is unavailable; retry shortly"
# What a down, restarting or hanging database raises (asyncpg's pool acquire times out as
# TimeoutError; a refused or reset connection is an OSError).
DATABASE_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
FACETS_STALE_S = 60.0
_T = TypeVar("_T")
# With free text and a non-relevance sort, the most relevant N are sorted by the chosen column.
SORT_CANDIDATES = 500


@dataclass
class Timings:
    embed_ms: float = 0.0
    db_ms: float = 0.0
    facets_ms: float = 0.0


@dataclass
class SearchOutcome:
    body: JSONDict
    key: str
    tags: list[str]
    timings: Timings = field(default_factory=Timings)


class _Lru:
    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any) -> Any:
        value = self.data.get(key)
        if value is not None:
            self.data.move_to_end(key)
        return value

    def put(self, key: Any, value: Any) -> None:
        self.data[key] = value
        self.data.move_to_end(key)
        while len(self.data) > self.size:
            self.data.popitem(last=False)


EmbedFn = Callable[[str], np.ndarray]
Rows = list[dict[str, Any]]


class SearchService:
    def __init__(self, pool: asyncpg.Pool, embed: EmbedFn, settings: Settings) -> None:
        self.pool = pool
        self.embed = embed
        self.settings = settings
        self._vectors = _Lru(4096)
        self._zips = _Lru(8192)
        self._facets_cache = _Lru(2048)
        self._facets_pending: dict[str, asyncio.Future[JSONDict]] = {}
        # Past 3 failures in a row the database is skipped for a second: a down or hanging server
        # costs shoppers an immediate 503 (answered stale by the edge), not a 2 s wait each.
        self.db_breaker = CircuitBreaker(threshold=3, cooldown_s=1.0, gauge=DB_CIRCUIT_OPEN)

    async def search(self, query: SearchQuery) -> SearchOutcome:
        """The response for `query`; ServiceUnavailable (503) when the database cannot answer
        even the keyword fallback (the vector path's failures fall back inside)."""
        if not self.db_breaker.allow():
            raise ServiceUnavailable(DB_DOWN, code="database_unavailable")
        try:
            outcome = await self._search(query)
        except DATABASE_ERRORS as exc:
            self.db_breaker.failure()
            log.warning("search failed: database", extra={"error": type(exc).__name__})
            raise ServiceUnavailable(DB_DOWN, code="database_unavailable") from exc
        except BaseException:
            # A 4xx the database answered, or a cancel (which must not leave a probe pending).
            self.db_breaker.success()
            raise
        self.db_breaker.success()
        return outcome

    async def _search(self, query: SearchQuery) -> SearchOutcome:
        started = time.perf_counter()
        timings = Timings()
        _check_fields(query.fields)
        point = await self._point(query)
        if query.sort == "distance" and point is None:
            raise BadRequest("sort=distance needs a zip", code="missing_parameter", field="zip")
        cursor = decode_cursor(query.cursor, query.sort) if query.cursor else None
        facets_task = asyncio.create_task(self._facets(query, point, timings))
        try:
            rows, strategy, next_cursor = await self._rows(query, point, cursor, timings)
        except BaseException:
            facets_task.cancel()
            raise
        facets = await facets_task
        results = [_result(row, query.fields) for row in rows]
        body: JSONDict = {
            "results": results,
            "facets": facets,
            "next_cursor": next_cursor,
            "query": {
                "text": query.raw_text,
                "embedded_text": query.text,
                "filters": _jsonable(query.filters),
                "extracted": _jsonable(query.extracted),
                "sort": query.sort,
                "limit": query.limit,
            },
            "strategy": strategy.value,
            "took_ms": round((time.perf_counter() - started) * 1000, 2),
        }
        if strategy is Strategy.KEYWORD_FALLBACK and query.text:
            body["degraded"] = "semantic search unavailable; keyword results"
        tags = [f"v:{r['id']}" for r in rows] + list(query_tags(query))
        return SearchOutcome(body=body, key=cache_key(query), tags=tags, timings=timings)

    async def _point(self, query: SearchQuery) -> GeoPoint | None:
        zip_code = query.filters.get("zip")
        if not isinstance(zip_code, str):
            return None
        cached = self._zips.get(zip_code)
        if cached is None:
            async with self.pool.acquire() as conn:
                cached = await db.zip_point(conn, zip_code)
            if cached is None:
                raise BadRequest(f"unknown ZIP code {zip_code}", code="unknown_zip", field="zip")
            self._zips.put(zip_code, cached)
        return GeoPoint(*cached)

    async def _facets(
        self, query: SearchQuery, point: GeoPoint | None, timings: Timings
    ) -> JSONDict:
        # Facets depend on the filters alone, never on the text or the page: many searches share
        # them. Their counts may lag writes by FACETS_TTL_S (the documented freshness window).
        # Past that, for FACETS_STALE_S more, the old counts answer at once while one background
        # task refreshes them (stale-while-revalidate): an expiry never blocks a search.
        key = filters_key(query)
        cached = self._facets_cache.get(key)  # (fresh until, facets, computed at)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]  # type: ignore[no-any-return]
        if cached is not None and now - cached[2] < FACETS_TTL_S + FACETS_STALE_S:
            # Claimed for one TTL so concurrent asks do not refresh too; the refresh replaces it.
            self._facets_cache.put(key, (now + FACETS_TTL_S, cached[1], cached[2]))
            refresh = asyncio.ensure_future(self._facets_fetch(key, query, point))
            _winding_down.add(refresh)  # held until done; a failed refresh keeps the old counts
            refresh.add_done_callback(_wound_down)
            return cached[1]  # type: ignore[no-any-return]
        started = time.perf_counter()
        # Concurrent searches with the same filters (other texts, pages) share one computation.
        pending = self._facets_pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._facets_fetch(key, query, point))
            self._facets_pending[key] = pending
            pending.add_done_callback(lambda done: self._facets_done(key, done))
        result: JSONDict = await asyncio.shield(pending)
        timings.facets_ms = (time.perf_counter() - started) * 1000
        return result

    def _facets_done(self, key: str, done: asyncio.Future[JSONDict]) -> None:
        self._facets_pending.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved: the searches that awaited it got it already

    async def _facets_fetch(self, key: str, query: SearchQuery, point: GeoPoint | None) -> JSONDict:
        counts_where = build_counts_where(query.filters, point)
        FACETS_COMPUTED.labels(source="listings" if counts_where is None else "counts").inc()
        async with self.pool.acquire() as conn:
            result: JSONDict = await (
                db.facets(conn, build_where(query.filters, point))
                if counts_where is None
                else db.facets_from_counts(conn, counts_where)
            )
        self._facets_cache.put(key, (time.monotonic() + FACETS_TTL_S, result, time.monotonic()))
        return result

    async def _rows(
        self,
        query: SearchQuery,
        point: GeoPoint | None,
        cursor: Cursor | None,
        timings: Timings,
    ) -> tuple[Rows, Strategy, str | None]:
        if not query.text:
            return await self._sorted(query, point, cursor, timings)
        if cursor is None or not cursor.fallback:
            budget = self.settings.vector_budget_ms / 1000
            try:
                return await _within(self._semantic(query, point, cursor, timings), budget)
            # The fallback is the boundary of the vector path: whatever breaks in the model or
            # the kNN query (or its time budget), a keyword answer beats an error.
            except Exception as exc:
                log.warning(
                    "vector path failed, keyword fallback",
                    extra={"error": type(exc).__name__, "key": cache_key(query)},
                )
        return await self._keyword(query, point, cursor, timings)

    async def _vector(self, text: str, timings: Timings) -> np.ndarray:
        vector = self._vectors.get(text)
        if vector is None:
            started = time.perf_counter()
            vector = await asyncio.to_thread(self.embed, text)
            timings.embed_ms = (time.perf_counter() - started) * 1000
            self._vectors.put(text, vector)
        return vector  # type: ignore[no-any-return]

    async def _semantic(
        self,
        query: SearchQuery,
        point: GeoPoint | None,
        cursor: Cursor | None,
        timings: Timings,
    ) -> tuple[Rows, Strategy, str | None]:
        where = build_where(query.filters, point)
        relevance = query.sort == "relevance"
        k = query.limit + 1 if relevance else SORT_CANDIDATES
        after = (cursor.value, cursor.last_id) if relevance and cursor else None
        max_rows, max_texts = self.settings.exact_max_rows, self.settings.exact_max_texts
        body = _only(query.filters.get("body"))
        own_graph = body in db.BODY_GRAPHS and where.text_sql(without="body") is None
        async with self.pool.acquire() as conn:
            # The match count needs no vector: the database counts while the text is embedded.
            counting = asyncio.ensure_future(db.count_upto(conn, where, max_rows, max_texts))
            try:
                vector = await self._vector(query.text, timings)
            except BaseException:
                counting.cancel()  # and wait for it: the connection goes back to the pool next
                await asyncio.gather(counting, return_exceptions=True)
                raise
            started = time.perf_counter()
            rows_upto, texts_upto = await counting
            strategy = choose_vector_strategy(
                rows_upto, max_rows, texts_upto, max_texts, own_graph=own_graph
            )
            records = await db.knn(
                conn,
                where,
                vector,
                k,
                strategy=strategy,
                after=after,
                ef_search=self.settings.hnsw_ef_search,
                max_scan_tuples=self.settings.hnsw_max_scan_tuples,
                body=body,
            )
        timings.db_ms = (time.perf_counter() - started) * 1000
        rows = [_with_score(r, point) for r in records]
        if not relevance:
            page, nxt = _sort_candidates(rows, query, cursor)
            return page, strategy, nxt
        page = rows[: query.limit]
        next_cursor = None
        if len(rows) > query.limit:
            # The keyset position is the exact distance, not the rounded score.
            last = page[-1]
            next_cursor = encode_cursor(Cursor(query.sort, last["_distance"], int(last["id"])))
        return page, strategy, next_cursor

    async def _sorted(
        self,
        query: SearchQuery,
        point: GeoPoint | None,
        cursor: Cursor | None,
        timings: Timings,
    ) -> tuple[Rows, Strategy, str | None]:
        # Without free text, "relevance" means newest first.
        sort = "year_desc" if query.sort == "relevance" else query.sort
        where = build_where(query.filters, point)
        distance = None
        if point is not None:
            lat = where.param(point.lat) + "::float8"
            lon = where.param(point.lon) + "::float8"
            distance = distance_sql(lat, lon)
        after = (cursor.value, cursor.last_id) if cursor else None
        started = time.perf_counter()
        async with self.pool.acquire() as conn:
            rows = await db.sorted_page(
                conn, where, sort, query.limit + 1, after=after, distance_expr=distance
            )
        timings.db_ms = (time.perf_counter() - started) * 1000
        page = [_with_score(r, point) for r in rows[: query.limit]]
        nxt = None
        if len(rows) > query.limit:
            last = rows[query.limit - 1]
            nxt = encode_cursor(Cursor(query.sort, float(last["sort_value"]), int(last["id"])))
        return page, Strategy.FILTERED_SORT, nxt

    async def _keyword(
        self,
        query: SearchQuery,
        point: GeoPoint | None,
        cursor: Cursor | None,
        timings: Timings,
    ) -> tuple[Rows, Strategy, str | None]:
        offset = int(cursor.value) if cursor and cursor.fallback else 0
        words = [w for w in query.text.split() if w.isalnum()]
        where = build_where(query.filters, point)
        started = time.perf_counter()
        async with self.pool.acquire() as conn:
            rows = await db.keyword_search(conn, where, words, offset + query.limit + 1)
        timings.db_ms = (time.perf_counter() - started) * 1000
        window = rows[offset:]
        page = [_with_score(r, point) for r in window[: query.limit]]
        nxt = None
        if len(window) > query.limit:
            last_id = int(window[query.limit - 1]["id"])
            cur = Cursor(query.sort, float(offset + query.limit), last_id, fallback=True)
            nxt = encode_cursor(cur)
        return page, Strategy.KEYWORD_FALLBACK, nxt


async def _within(work: Coroutine[Any, Any, _T], budget_s: float) -> _T:
    """`work`'s result, or TimeoutError once `budget_s` has passed. Unlike asyncio.wait_for, it
    does not wait for the cancelled work to wind down: on a slow database, a cancelled query's
    cancel request and connection reset cost round trips as slow, past the budget they enforce."""
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=budget_s)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if task in done:
        return task.result()
    task.cancel()
    # The loop keeps only weak references to tasks: hold it until it has wound down.
    _winding_down.add(task)
    task.add_done_callback(_wound_down)
    raise TimeoutError(f"over the {budget_s * 1000:.0f} ms budget")


def _only(values: object) -> str | None:
    """The value of a one-value set filter, else None."""
    if isinstance(values, (list, tuple)) and len(values) == 1 and isinstance(values[0], str):
        return values[0]
    return None


_winding_down: set[asyncio.Future[Any]] = set()


def _wound_down(task: asyncio.Future[Any]) -> None:
    _winding_down.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: a failure while cancelling is no news


def filters_key(query: SearchQuery) -> str:
    """The canonical form of the query's filters only: no text, sort or page."""
    page_free = replace(query, text="", sort="relevance", limit=20, cursor=None, fields=None)
    return canonical_form(page_free)


def _sort_candidates(
    rows: Rows, query: SearchQuery, cursor: Cursor | None
) -> tuple[Rows, str | None]:
    column, descending = (
        ("distance_mi", False) if query.sort == "distance" else db.ORDERINGS[query.sort]
    )
    sign = -1.0 if descending else 1.0

    def position(row: Mapping[str, Any]) -> tuple[float, int]:
        return (sign * float(row[column]), int(sign * row["id"]))

    ordered = sorted(rows, key=position)
    if cursor is not None:
        start = (sign * cursor.value, int(sign * cursor.last_id))
        ordered = [r for r in ordered if position(r) > start]
    page = ordered[: query.limit]
    nxt = None
    if len(ordered) > query.limit:
        last = page[-1]
        nxt = encode_cursor(Cursor(query.sort, float(last[column]), int(last["id"])))
    return page, nxt


def _with_score(row: Mapping[str, Any], point: GeoPoint | None) -> dict[str, Any]:
    out = dict(row)
    distance = out.pop("distance", None)
    out.pop("sort_value", None)
    rank = out.pop("rank", None)
    if distance is not None:
        out["_distance"] = float(distance)
        out["score"] = round(-float(distance), 4)
    elif rank is not None:
        out["score"] = round(float(rank), 4)
    else:
        out["score"] = None
    if point is not None and "distance_mi" not in out:
        out["distance_mi"] = _haversine_mi(point, out)
    if "distance_mi" in out and out["distance_mi"] is not None:
        out["distance_mi"] = round(float(out["distance_mi"]), 1)
    return out


def _haversine_mi(point: GeoPoint, row: Mapping[str, Any]) -> float | None:
    lat, lon = row.get("lat"), row.get("lon")
    if lat is None or lon is None:
        return None
    p1, p2 = math.radians(point.lat), math.radians(float(lat))
    dp, dl = p2 - p1, math.radians(float(lon) - point.lon)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 3958.8 * math.asin(math.sqrt(a))


def _result(row: Mapping[str, Any], fields: tuple[str, ...] | None) -> dict[str, Any]:
    out = {name: row[name] for name in RESULT_FIELDS if name in row}
    if fields is None:
        return out
    return {name: out.get(name) for name in fields}


def _check_fields(fields: tuple[str, ...] | None) -> None:
    for name in fields or ():
        if name not in RESULT_FIELDS:
            raise BadRequest(f"unknown field {name!r}", code="unknown_field", field="fields")


def _jsonable(filters: Mapping[str, object]) -> dict[str, object]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in filters.items()}
