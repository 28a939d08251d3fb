"""Inventory writes (write path): each change and its purge event commit in ONE PostgreSQL
transaction (vehicle row + outbox row + NOTIFY). New or changed texts are embedded through the
`text_embeddings` cache before the transaction opens."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import numpy as np
from pgvector import Vector

from origin.catalog.inventory import BODY_LABELS, DRIVE_LABELS, FUEL_LABELS
from origin.db import outbox
from origin.db import vehicles as db
from origin.errors import BadRequest, NotFound
from origin.inventory.seed import VEHICLE_TABLE_COLUMNS
from origin.purger.plan import COARSE_WINDOW_S, WriteTags, merge_write_tags, vehicle_tag, write_tags
from origin.types import JSONDict, Tag, VehicleId

EmbedFn = Callable[[str], np.ndarray]
WRITE_COLUMNS = (*VEHICLE_TABLE_COLUMNS, "status")
# What a change is compared on (the vector follows embed_text).
_COMPARED = tuple(c for c in WRITE_COLUMNS if c != "embedding")
_PLACES = ("lat", "lon", "city", "state", "region")
# Parameter types of the columns that are not text, for the arrays _UPSERT unnests.
_NOT_TEXT = {"id": "bigint", "year": "smallint", "price": "integer", "mileage": "integer",
             "lat": "float8", "lon": "float8", "embedding": "vector"}  # fmt: skip
# One statement for every row of a write, in id order: the statement triggers (text_filters,
# facet_counts) then run once and take their shared rows in key order, so concurrent writes
# cannot deadlock on them; one statement per row would take them in the rows' order.
_UPSERT = (
    f"INSERT INTO vehicles ({', '.join(WRITE_COLUMNS)}, updated_at) "
    f"SELECT {', '.join(WRITE_COLUMNS)}, now() FROM unnest("
    + ", ".join(f"${i}::{_NOT_TEXT.get(c, 'text')}[]" for i, c in enumerate(WRITE_COLUMNS, 1))
    + f") AS written ({', '.join(WRITE_COLUMNS)}) ORDER BY id "
    "ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in WRITE_COLUMNS if c != "id")
    + ", updated_at = now()"
)


def embed_text(row: Mapping[str, Any]) -> str:
    """The seed's shape (names, body, fuel, drive) with the dealer's description in place of the
    generated feature phrases; so a description change re-embeds."""
    head = (
        f"{row['make_name']} {row['model_name']} {BODY_LABELS[row['body']]}, "
        f"{FUEL_LABELS[row['fuel']]}, {DRIVE_LABELS[row['drivetrain']]}"
    )
    description = str(row.get("description") or "").strip()
    return f"{head}. {description}" if description else head


@functools.cache
def _catalog_names() -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    from origin.catalog.build import load_catalog

    catalog = load_catalog()
    makes = {m.slug: m.name for m in catalog.makes}
    models = {(m.make, m.slug): m.name for make in catalog.makes for m in make.models}
    return makes, models


def complete(
    vehicle_id: VehicleId,
    fields: Mapping[str, Any],
    place: Mapping[str, Any],
    old: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A full row from checked fields (merged over `old` for PATCH): names from the catalog,
    title, place from the ZIP, embed_text. Derived values follow their sources unless given."""
    row: dict[str, Any] = dict(old or {"condition": "used", "status": "active", "description": ""})
    row.update(fields)
    row["id"] = vehicle_id
    makes, models = _catalog_names()
    make_changed = old is None or row["make"] != old["make"] or row["model"] != old["model"]
    if "make_name" not in fields and make_changed:
        row["make_name"] = makes.get(row["make"], row["make"].replace("-", " ").title())
    if "model_name" not in fields and make_changed:
        fallback = row["model"].replace("-", " ").title()
        row["model_name"] = models.get((row["make"], row["model"]), fallback)
    naming = ("year", "make", "model", "make_name", "model_name")
    if "title" not in fields and (old is None or any(k in fields for k in naming)):
        row["title"] = f"{row['year']} {row['make_name']} {row['model_name']}"
    row.update({k: place[k] for k in _PLACES})
    row["embed_text"] = embed_text(row)
    return row


@dataclass(frozen=True)
class WriteResult:
    vehicle: JSONDict | None
    created: bool
    changed: bool
    purge_event: int | None


@dataclass(frozen=True)
class BulkResult:
    created: int
    updated: int
    unchanged: int
    purge_event: int | None


class InventoryService:
    """Create/replace, update, delete and bulk upsert of vehicles, each with its purge event."""

    def __init__(self, pool: asyncpg.Pool, embed: EmbedFn, model_id: str) -> None:
        self.pool, self.embed, self.model_id = pool, embed, model_id

    async def put(self, vehicle_id: VehicleId, fields: Mapping[str, Any]) -> WriteResult:
        bulk = await self.bulk([(vehicle_id, fields)])
        async with self.pool.acquire() as conn:
            vehicle = await db.get_vehicle(conn, vehicle_id)
        created = bulk.created == 1
        return WriteResult(_public(vehicle), created, bulk.unchanged == 0, bulk.purge_event)

    async def bulk(self, items: Sequence[tuple[VehicleId, Mapping[str, Any]]]) -> BulkResult:
        """Up to 1,000 vehicles, one transaction, one outbox event."""
        many = len(items) > 1
        async with self.pool.acquire() as conn:
            places = await _places(conn, [(i, f["zip"]) for i, f in items], many)
            rows = [complete(vid, f, places[f["zip"]]) for vid, f in items]
            vectors = await self._vectors(conn, rows)
            async with conn.transaction():
                old = await _lock_rows(conn, [vid for vid, _ in items])
                changed = [r for r in rows if _differs(old.get(r["id"]), r)]
                await _upsert(conn, [(r, vectors[r["embed_text"]]) for r in changed])
                tags = merge_write_tags([write_tags(r["id"], old.get(r["id"]), r) for r in changed])
                event = await _enqueue(conn, tags, reason="bulk" if many else "put")
        created = sum(1 for r in changed if r["id"] not in old)
        return BulkResult(created, len(changed) - created, len(rows) - len(changed), event)

    async def patch(self, vehicle_id: VehicleId, fields: Mapping[str, Any]) -> WriteResult:
        async with self.pool.acquire() as conn, conn.transaction():
            old = (await _lock_rows(conn, [vehicle_id])).get(vehicle_id)
            if old is None:
                raise NotFound(f"no vehicle {vehicle_id}", field="id")
            zip_code = fields.get("zip", old["zip"])
            place = (await _places(conn, [(vehicle_id, zip_code)], False))[zip_code]
            row = complete(vehicle_id, fields, place, old)
            event = None
            if _differs(old, row):
                # Inside the lock: a re-embed costs ~5 ms, and the row must not change meanwhile.
                vectors = await self._vectors(conn, [row])
                await _upsert(conn, [(row, vectors[row["embed_text"]])])
                tags = write_tags(vehicle_id, old, row)
                event = await _enqueue(conn, tags, reason=f"patch:{','.join(sorted(fields))}")
            vehicle = await db.get_vehicle(conn, vehicle_id)
        return WriteResult(_public(vehicle), False, event is not None, event)

    async def delete(self, vehicle_id: VehicleId) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            status = await conn.execute("DELETE FROM vehicles WHERE id = $1", vehicle_id)
            if status == "DELETE 0":
                raise NotFound(f"no vehicle {vehicle_id}", field="id")
            return await outbox.add_event(conn, [vehicle_tag(vehicle_id)], reason="delete")

    async def purge(self, vehicle_ids: Sequence[VehicleId], tags: Sequence[Tag]) -> int:
        """POST /v1/purge: through the same outbox, purged at once (never coalesced)."""
        async with self.pool.acquire() as conn:
            wanted = [vehicle_tag(v) for v in vehicle_ids] + list(tags)
            return await outbox.add_event(conn, wanted, reason="manual")

    async def _vectors(
        self, conn: asyncpg.Connection, rows: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Vectors by the rows' texts: from the cache by content hash, the rest embedded and
        cached with their body (its graph: migrations/0008_text_body.sql)."""
        from origin.search.embedder import content_hash

        bodies = {r["embed_text"]: r["body"] for r in rows}  # the text names its body
        distinct = sorted(bodies)
        hashes = {t: content_hash(t) for t in distinct}
        found = await conn.fetch(
            "SELECT hash, embedding FROM text_embeddings WHERE model = $1 AND hash = ANY($2)",
            self.model_id,
            list(hashes.values()),
        )
        cached = {bytes(r["hash"]): r["embedding"] for r in found}
        missing = [t for t in distinct if hashes[t] not in cached]
        if missing:
            # The model is CPU work: keep the event loop free for other requests.
            fresh = await asyncio.to_thread(lambda: [self.embed(t) for t in missing])
            await conn.executemany(
                "INSERT INTO text_embeddings (hash, model, embedding, body) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (hash) DO NOTHING",
                [
                    (hashes[t], self.model_id, v, bodies[t])
                    for t, v in zip(missing, fresh, strict=True)
                ],
            )
            cached.update({hashes[t]: v for t, v in zip(missing, fresh, strict=True)})
        return {t: cached[hashes[t]] for t in distinct}


async def _enqueue(conn: asyncpg.Connection, tags: WriteTags, *, reason: str) -> int | None:
    if not tags.now and not tags.coarse:
        return None
    event = await outbox.add_event(conn, tags.now, reason=reason) if tags.now else None
    # Last: the coarse rows are shared by every writer, so hold their locks briefly.
    await outbox.add_coarse_tags(conn, tags.coarse, COARSE_WINDOW_S)
    return event


async def _places(
    conn: asyncpg.Connection, wanted: Sequence[tuple[VehicleId, str]], many: bool
) -> dict[str, Any]:
    codes = sorted({z for _, z in wanted})
    rows = await conn.fetch(
        "SELECT zip, lat, lon, city, state, region FROM zips WHERE zip = ANY($1)", codes
    )
    found = {r["zip"]: dict(r) for r in rows}
    for i, (_, code) in enumerate(wanted):
        if code not in found:
            field = f"vehicles[{i}].zip" if many else "zip"
            raise BadRequest(f"unknown ZIP code {code}", code="unknown_zip", field=field)
    return found


async def _lock_rows(conn: asyncpg.Connection, ids: Sequence[VehicleId]) -> dict[int, JSONDict]:
    # Locked in id order, so two concurrent bulk writes cannot deadlock.
    rows = await conn.fetch(
        f"SELECT {', '.join(_COMPARED)} FROM vehicles WHERE id = ANY($1) ORDER BY id FOR UPDATE",
        list(ids),
    )
    return {int(r["id"]): dict(r) for r in rows}


def _differs(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    return old is None or any(old[c] != new[c] for c in _COMPARED)


async def _upsert(conn: asyncpg.Connection, rows: Sequence[tuple[JSONDict, Any]]) -> None:
    """Writes (row, vector) pairs, as one column array each."""
    if not rows:
        return
    columns = [
        [_as_vector(vector) if c == "embedding" else row[c] for row, vector in rows]
        for c in WRITE_COLUMNS
    ]
    await conn.execute(_UPSERT, *columns)


def _as_vector(vector: Any) -> Vector:
    # In an array, asyncpg would take a bare ndarray for one more dimension of the array.
    return vector if isinstance(vector, Vector) else Vector(vector)


def _public(record: asyncpg.Record | None) -> JSONDict | None:
    return None if record is None else dict(record)
