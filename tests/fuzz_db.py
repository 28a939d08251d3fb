"""A throwaway copy of the test inventory under any name (write_db.py's recipe, another name),
so the fuzzer's writes touch neither `vsearch_test` nor the write tests' `vsearch_write_test`."""

from __future__ import annotations

import asyncio
import io

import asyncpg
from write_db import _COPIED, _VEHICLE_COPY_COLUMNS, with_database


async def _create(source_dsn: str, name: str) -> str:
    target = with_database(source_dsn, name)
    admin = await asyncpg.connect(with_database(source_dsn, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    from origin.db.migrate import migrate

    src, dst = await asyncpg.connect(source_dsn), await asyncpg.connect(target)
    try:
        await migrate(dst)
        for table in _COPIED:
            columns = _VEHICLE_COPY_COLUMNS if table == "vehicles" else None
            buffer = io.BytesIO()
            await src.copy_from_table(table, output=buffer, columns=columns, format="binary")
            buffer.seek(0)
            await dst.copy_to_table(table, source=buffer, columns=columns, format="binary")
        await dst.execute("ANALYZE")
    finally:
        await src.close()
        await dst.close()
    return target


def create_database_copy(source_dsn: str, name: str) -> str:
    """Drop and recreate `name` as a copy of the inventory; its DSN."""
    return asyncio.run(_create(source_dsn, name))


def drop_database(source_dsn: str, name: str) -> None:
    async def drop() -> None:
        admin = await asyncpg.connect(with_database(source_dsn, "postgres"))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    asyncio.run(drop())
