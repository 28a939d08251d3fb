"""The asyncpg pool: sized per instance, with acquire and statement timeouts, pgvector registered
once per connection."""

from __future__ import annotations

from typing import Any

import asyncpg
from pgvector.asyncpg import register_vector

from origin.settings import Settings


async def _init_connection(conn: asyncpg.Connection) -> None:
    await register_vector(conn)


async def create_pool(dsn: str, settings: Settings) -> asyncpg.Pool:
    pool: Any = await asyncpg.create_pool(
        dsn,
        min_size=settings.pool_min,
        max_size=settings.pool_max,
        init=_init_connection,
        statement_cache_size=settings.statement_cache_size,
        command_timeout=settings.statement_timeout_ms / 1000,
        server_settings={
            "statement_timeout": str(settings.statement_timeout_ms),
            "application_name": "vsearch-origin",
        },
    )
    return pool
