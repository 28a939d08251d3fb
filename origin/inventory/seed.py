"""`vsearch seed`: the deterministic demo inventory, embedded and bulk-loaded with COPY.

Each distinct embed text is embedded once ever (cached by content hash in `text_embeddings`);
the HNSW index is rebuilt after the load. Idempotent: the same size, seed and catalog reuse
what is there.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
from pgvector.asyncpg import register_vector

from origin.db.migrate import migrate
from origin.db.vehicles import HNSW_INDEXES, HNSW_INDEXES_SQL

log = logging.getLogger(__name__)

# Bump when the load itself changes (storage, columns), so the demo inventory is reloaded; a change
# to the generator's code reloads by itself (its source is part of the signature).
GENERATOR_VERSION = "2"
VEHICLE_TABLE_COLUMNS = (
    "id", "make", "model", "make_name", "model_name", "year", "price", "mileage", "body", "fuel",
    "drivetrain", "transmission", "color", "condition", "zip", "lat", "lon", "city", "state",
    "region", "dealer", "title", "description", "embed_text", "embedding",
)  # fmt: skip
ZIP_COLUMNS = ("zip", "lat", "lon", "city", "state", "region")

CorpusEmbedder = Callable[[Sequence[str], Callable[[int, int], None]], np.ndarray]


@dataclass(frozen=True)
class SeedReport:
    vehicles: int
    distinct_texts: int
    embedded_now: int
    reused: bool
    seconds: float
    # embedding, loading, index: where a fresh load spends its time (empty when reused).
    stage_seconds: dict[str, float] = field(default_factory=dict)


def signature(vehicles: int, seed: int, catalog_digest: str, model_id: str) -> str:
    from origin.catalog import inventory

    generator = hashlib.sha256(Path(inventory.__file__).read_bytes()).hexdigest()
    raw = f"{vehicles}:{seed}:{catalog_digest}:{model_id}:{GENERATOR_VERSION}:{generator}"
    return hashlib.sha256(raw.encode()).hexdigest()


class Progress:
    """Logs `done/total` at most every `every_s` seconds, and always at the end."""

    def __init__(self, stage: str, every_s: float = 2.0) -> None:
        self.stage, self.every_s = stage, every_s
        self.started = self.last = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last < self.every_s:
            return
        self.last = now
        elapsed = now - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else None
        log.info(
            f"{self.stage}: {done}/{total}",
            extra={
                "stage": self.stage,
                "done": done,
                "total": total,
                "per_s": round(rate, 1),
                "eta_s": None if eta is None else round(eta, 1),
            },
        )


async def seed_inventory(
    dsn: str,
    *,
    vehicles: Sequence[Any],
    zips: Sequence[Any],
    sig: str,
    model_id: str,
    embed_corpus: CorpusEmbedder,
    force: bool = False,
) -> SeedReport:
    started = time.monotonic()
    conn: asyncpg.Connection = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
        await register_vector(conn)
        current = await conn.fetchrow("SELECT signature, vehicles FROM seed_state")
        if not force and current is not None and current["signature"] == sig:
            log.info("seed: inventory already loaded", extra={"vehicles": current["vehicles"]})
            return SeedReport(current["vehicles"], 0, 0, True, time.monotonic() - started)

        stages: dict[str, float] = {}
        mark = time.monotonic()
        vectors, embedded_now = await _embeddings(conn, vehicles, model_id, embed_corpus)
        stages["embedding"], mark = time.monotonic() - mark, time.monotonic()
        await _load(conn, vehicles, zips, vectors, sig, len(vehicles))
        stages["loading"], mark = time.monotonic() - mark, time.monotonic()
        await _build_index(conn, dsn)
        stages["index"] = time.monotonic() - mark
        elapsed = time.monotonic() - started
        rounded = {name: round(s, 1) for name, s in stages.items()}
        return SeedReport(len(vehicles), len(vectors), embedded_now, False, elapsed, rounded)
    finally:
        await conn.close()


async def _embeddings(
    conn: asyncpg.Connection,
    vehicles: Sequence[Any],
    model_id: str,
    embed_corpus: CorpusEmbedder,
) -> tuple[dict[str, np.ndarray], int]:
    bodies = {v.embed_text: v.body for v in vehicles}  # the text names its body
    texts = sorted(bodies)
    hashes = {t: hashlib.sha256(t.encode()).digest() for t in texts}
    rows = await conn.fetch(
        "SELECT hash, embedding FROM text_embeddings WHERE model = $1 AND hash = ANY($2)",
        model_id,
        list(hashes.values()),
    )
    by_hash = {bytes(r["hash"]): _as_array(r["embedding"]) for r in rows}
    missing = [t for t in texts if hashes[t] not in by_hash]
    log.info(
        "seed: embeddings",
        extra={"distinct_texts": len(texts), "cached": len(texts) - len(missing)},
    )
    if missing:
        # The model runs in worker processes; keep the event loop free meanwhile.
        matrix = await asyncio.to_thread(embed_corpus, missing, Progress("embedding"))
        records = [(hashes[t], model_id, matrix[i], bodies[t]) for i, t in enumerate(missing)]
        await conn.copy_records_to_table(
            "text_embeddings", records=records, columns=("hash", "model", "embedding", "body")
        )
        for i, t in enumerate(missing):
            by_hash[hashes[t]] = matrix[i]
    vectors = {t: np.asarray(by_hash[hashes[t]], dtype=np.float32) for t in texts}
    return vectors, len(missing)


def _as_array(value: Any) -> np.ndarray:
    # pgvector's asyncpg codec decodes to its Vector class; COPY wants plain arrays.
    to_numpy = getattr(value, "to_numpy", None)
    return np.asarray(to_numpy() if to_numpy else value, dtype=np.float32)


async def _load(
    conn: asyncpg.Connection,
    vehicles: Sequence[Any],
    zips: Sequence[Any],
    vectors: dict[str, np.ndarray],
    sig: str,
    count: int,
) -> None:
    started = time.monotonic()
    async with conn.transaction():
        for index in HNSW_INDEXES:
            await conn.execute(f"DROP INDEX IF EXISTS {index}")
        # text_filters with them: the COPY below refills it (a trigger), without the old texts.
        await conn.execute("TRUNCATE vehicles, zips, text_filters")
        await conn.copy_records_to_table(
            "zips", records=[tuple(getattr(z, c) for c in ZIP_COLUMNS) for z in zips],
            columns=ZIP_COLUMNS,
        )  # fmt: skip
        batch: list[tuple[Any, ...]] = []
        progress = Progress("loading")
        for done, vehicle in enumerate(vehicles, start=1):
            batch.append(_vehicle_record(vehicle, vectors))
            if len(batch) == 10_000 or done == count:
                await conn.copy_records_to_table(
                    "vehicles", records=batch, columns=VEHICLE_TABLE_COLUMNS
                )
                batch = []
                progress(done, count)
        await conn.execute(
            """INSERT INTO seed_state (vehicles, seed, signature) VALUES ($1, 0, $2)
               ON CONFLICT (singleton) DO UPDATE
               SET vehicles = $1, signature = $2, loaded_at = now()""",
            count,
            sig,
        )
    log.info("seed: loaded", extra={"vehicles": count, "s": round(time.monotonic() - started, 1)})


def _vehicle_record(vehicle: Any, vectors: dict[str, np.ndarray]) -> tuple[Any, ...]:
    values = []
    for column in VEHICLE_TABLE_COLUMNS:
        if column == "embedding":
            values.append(vectors[vehicle.embed_text])
        else:
            values.append(getattr(vehicle, column))
    return tuple(values)


def index_build_memory_mb(points: int) -> int:
    """maintenance_work_mem for the HNSW build over `points` vectors: the whole graph in memory
    (~2.3 kB a 384-d vector with m=16), at least 1 GB. Past it pgvector builds on disk, many
    times slower."""
    return max(1024, -(-points * 3 // 1024))


async def _build_index(conn: asyncpg.Connection, dsn: str) -> None:
    """Build the HNSW graphs over the distinct texts (one for all, one per body type) with
    enough memory (64 MB made it 8x slower), showing progress."""
    started = time.monotonic()
    texts = int(await conn.fetchval("SELECT count(*) FROM text_embeddings"))
    await conn.execute(f"SET maintenance_work_mem = '{index_build_memory_mb(texts)}MB'")
    await conn.execute("SET max_parallel_maintenance_workers = 1")
    watcher = asyncio.create_task(_watch_index_build(dsn))
    try:
        for index_sql in HNSW_INDEXES_SQL:
            await conn.execute(index_sql)
    finally:
        watcher.cancel()
    # VACUUM sets the visibility map, so the planner's match counts can be index-only scans.
    await conn.execute("VACUUM (ANALYZE) vehicles, text_embeddings, text_filters")
    log.info(
        "seed: HNSW graphs built",
        extra={"texts": texts, "s": round(time.monotonic() - started, 1)},
    )


async def _watch_index_build(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        while True:
            await asyncio.sleep(3)
            row = await conn.fetchrow(
                "SELECT phase, tuples_done, tuples_total FROM pg_stat_progress_create_index"
            )
            if row is not None:
                log.info(
                    f"index build: {row['phase']}",
                    extra={"done": row["tuples_done"], "total": row["tuples_total"]},
                )
    except asyncio.CancelledError:
        pass
    finally:
        await conn.close()
