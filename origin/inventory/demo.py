"""The demo inventory end to end: generated from the catalog, embedded, loaded and indexed.
What `vsearch seed` runs, and the scale benchmark at 1M vehicles."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import numpy as np

from origin.inventory.seed import Progress, SeedReport, seed_inventory, signature
from origin.settings import Settings


def seed_demo(settings: Settings, vehicles: int, seed: int, force: bool = False) -> SeedReport:
    from origin.app import database_dsn
    from origin.catalog.build import catalog_digest, load_catalog
    from origin.catalog.inventory import generate_vehicles
    from origin.search.embedder import MODEL_ID, Embedder, default_parallelism, embed_corpus

    catalog = load_catalog()
    progress = Progress("generating")
    fleet = []
    for vehicle in generate_vehicles(vehicles, seed, catalog):
        fleet.append(vehicle)
        progress(len(fleet), vehicles)
    processes, threads = default_parallelism()

    def embed_all(texts: Sequence[str], report: Callable[[int, int], None]) -> np.ndarray:
        embedder = Embedder(threads=threads)
        return embed_corpus(embedder, texts, progress=report, processes=processes)

    return asyncio.run(
        seed_inventory(
            database_dsn(settings),
            vehicles=fleet,
            zips=catalog.zips,
            sig=signature(vehicles, seed, catalog_digest(), MODEL_ID),
            model_id=MODEL_ID,
            embed_corpus=embed_all,
            force=force,
        )
    )
