"""The asyncpg pool: sized per instance, with acquire and statement timeouts, pgvector registered
once per connection."""

from __future__ import annotations

from typing import Any

import asyncpg
from pgvector.asyncpg import register_vector

from origin.settings import Settings


async def _init_connection(conn: asyncpg.Connection) -> None:
    await register_vector(conn)


def server_settings(settings: Settings) -> dict[str, str]:
    """Startup parameters of each connection. A transaction pooler rejects all but a few
    (pgbouncer: "unsupported startup parameter"), so there the statement timeout is enforced by
    asyncpg's `command_timeout` (a cancel request) and the role's own `statement_timeout`."""
    if settings.transaction_pooler:
        return {"application_name": "vsearch-origin"}
    return {
        "statement_timeout": str(settings.statement_timeout_ms),
        "application_name": "vsearch-origin",
    }


async def create_pool(dsn: str, settings: Settings) -> asyncpg.Pool:
    # A prepared statement lives on one server connection: a transaction pooler loses it.
    cache_size = 0 if settings.transaction_pooler else settings.statement_cache_size
    pool: Any = await asyncpg.create_pool(
        dsn,
        min_size=settings.pool_min,
        max_size=settings.pool_max,
        init=_init_connection,
        statement_cache_size=cache_size,
        command_timeout=settings.statement_timeout_ms / 1000,
        # Opening a connection (asyncpg's default allows 60 s): a hung server must cost no more
        # than a wait for a free connection does.
        timeout=settings.pool_acquire_timeout_s,
        server_settings=server_settings(settings),
    )
    return pool
