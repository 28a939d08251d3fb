"""The `vsearch` command: serve, seed, catalog, bench, warm, purger."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from origin.logs import configure_logging
from origin.settings import Settings, load_settings

if TYPE_CHECKING:
    from starlette.applications import Starlette

# Nothing imported at module load may import prometheus_client: with VSEARCH_WORKERS > 1 its
# multiprocess mode must be switched on (PROMETHEUS_MULTIPROC_DIR) before its first import.

log = logging.getLogger("vsearch")


def _seed(settings: Settings, vehicles: int, seed: int, force: bool) -> None:
    from origin.inventory.demo import seed_demo

    report = seed_demo(settings, vehicles, seed, force)
    log.info("seed done", extra=report.__dict__)


def _serve(settings: Settings) -> None:
    import uvicorn

    print(
        f"vsearch origin on http://{settings.host}:{settings.port}\n  try: http://{settings.host}:{settings.port}/v1/search?q=cheap+reliable+family+suv+under+30k\n"
        f"       http://{settings.host}:{settings.port}/v1/search?q=electric+pickup&zip=80202&radius_mi=200\n"
        f"       http://{settings.host}:{settings.port}/v1/search?q=2019+honda+civic+low+miles&sort=price_asc",
        flush=True,
    )
    if settings.workers > 1:
        _serve_workers(settings)
        return
    from origin.app import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
    )


def app_factory() -> Starlette:
    """The app of one worker process (VSEARCH_WORKERS > 1): uvicorn imports this in each worker,
    a new interpreter that inherits the environment `_serve_workers` prepared."""
    from origin.app import create_app

    configure_logging()
    return create_app(load_settings())


def multiprocess_metrics_dir(settings: Settings) -> Path:
    """`<data_dir>/prom-multiproc/<port>`, emptied: files of an earlier run would be summed in."""
    path = settings.data_dir / "prom-multiproc" / str(settings.port)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def _serve_workers(settings: Settings) -> None:
    """uvicorn's supervisor and N workers on one socket; /metrics sums them (docs/operations.md)."""
    import uvicorn

    if "prometheus_client" in sys.modules:  # metrics objects made before the switch: wrong mode
        raise RuntimeError("prometheus_client was imported before multiprocess mode was set up")
    metrics_dir = multiprocess_metrics_dir(settings)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    embedded = settings.database_url is None
    if embedded:
        # Started (and tuned) once here, so the workers attach to it instead of racing to start it.
        from origin.db.embedded import release_embedded, start_embedded

        start_embedded(settings.pgdata)
    try:
        uvicorn.run(
            "origin.cli:app_factory",
            factory=True,
            workers=settings.workers,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=20,
        )
    finally:
        if embedded:
            release_embedded(settings.pgdata)
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _warm(settings: Settings, top: int) -> int:
    from origin.app import create_app
    from origin.cache.warm import warm

    async def run() -> int:
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            report = await warm(app, top, settings.edge_admin_url)
        log.info("warm done", extra=report.__dict__)
        return 0 if report.edge_errors == 0 else 1

    return asyncio.run(run())


def _purger(settings: Settings) -> int:
    from origin.app import database_dsn
    from origin.purger.runner import serve_standalone

    return asyncio.run(serve_standalone(settings, database_dsn(settings)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vsearch", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="serve the origin API (settings from the environment)")
    seed = sub.add_parser("seed", help="generate, embed and load the demo inventory")
    seed.add_argument("--vehicles", type=int, default=None, help="default: VSEARCH_VEHICLES")
    seed.add_argument("--seed", type=int, default=None, help="default: VSEARCH_SEED")
    seed.add_argument("--force", action="store_true", help="reload even if already loaded")
    sub.add_parser("catalog", help="rebuild the catalog and the shared vocabulary from npm data")
    bench = sub.add_parser(
        "bench",
        help="measure the origin miss path (docs/benchmarks.md); `bench load ...`: the load test "
        "(docs/load.md; options: vsearch bench load --help)",
    )
    bench.add_argument("suite", nargs="?", choices=("load",), help="load: the 10x-spike load test")
    bench.add_argument("--queries", type=int, default=300)
    bench.add_argument("--out", default="bench/results")
    bench.add_argument(
        "--scale",
        type=int,
        metavar="N",
        help="load N vehicles in their own server (docs/scale.md)",
    )
    warm = sub.add_parser("warm", help="replay the most asked queries into Redis and the edge")
    warm.add_argument("--top", type=int, default=100, help="how many popular queries")
    sub.add_parser("purger", help="drain the purge outbox into every cache tier until SIGTERM")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["bench", "load"]:
        # Its own options (origin/bench/load.py), the same as scripts/loadtest's.
        from origin.bench.load import main as load_main

        return load_main(argv[2:], prog="vsearch bench load")
    args = build_parser().parse_args(argv)
    configure_logging()
    settings = load_settings()
    if args.command == "serve":
        _serve(settings)
    elif args.command == "seed":
        vehicles = args.vehicles if args.vehicles is not None else settings.vehicles
        seed = args.seed if args.seed is not None else settings.seed
        _seed(settings, vehicles, seed, args.force)
    elif args.command == "catalog":
        from origin.catalog.build import main_catalog

        return main_catalog([])
    elif args.command == "bench" and args.suite == "load":
        from origin.bench.load import main as load_main

        return load_main([], prog="vsearch bench load")
    elif args.command == "bench":
        if args.scale:
            from origin.bench.scale import run_scale

            run_scale(settings, vehicles=args.scale, queries=args.queries, out_dir=args.out)
            return 0
        from origin.bench import run_bench

        return run_bench(settings, queries=args.queries, out_dir=args.out)
    elif args.command == "warm":
        return _warm(settings, args.top)
    elif args.command == "purger":
        return _purger(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
