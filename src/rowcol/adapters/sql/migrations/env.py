"""Alembic environment: everything it needs arrives in `config.attributes`.

- `connection`: a sync connection to migrate on (what `rowcol.adapters.sql.migrate` gives);
- otherwise `url` (and optionally `schema`): an async engine is made for the run.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from rowcol.adapters.sql.engine import make_engine
from rowcol.adapters.sql.tables import metadata

config = context.config


def _run_migrations(connection: Connection) -> None:
    schema: str | None = config.attributes.get("schema")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table_schema=schema,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_on_new_engine(url: str, schema: str | None) -> None:
    engine = make_engine(url, schema=schema)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run_migrations)
    finally:
        await engine.dispose()


def _run_online() -> None:
    connection: Connection | None = config.attributes.get("connection")
    if connection is not None:
        _run_migrations(connection)
        return
    url: str | None = config.attributes.get("url")
    if url is None:
        raise RuntimeError("pass a `connection` or a `url` in the Alembic config's attributes")
    asyncio.run(_run_on_new_engine(url, config.attributes.get("schema")))


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
_run_online()
