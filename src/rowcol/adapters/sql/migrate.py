"""Schema migrations, run from code: no alembic.ini is needed at run time."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from rowcol.adapters.sql.engine import check_schema, make_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(
    *, url: str | None = None, schema: str | None = None, connection: Connection | None = None
) -> Config:
    """What `migrations/env.py` reads: the script location and, as attributes, the target."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.attributes["url"] = url
    config.attributes["schema"] = schema
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS}")
    return head


def _upgrade(connection: Connection, schema: str | None) -> None:
    if schema is not None and not connection.scalar(
        text("SELECT 1 FROM pg_namespace WHERE nspname = :schema"), {"schema": schema}
    ):
        connection.execute(text(f'CREATE SCHEMA "{check_schema(schema)}"'))
    command.upgrade(alembic_config(schema=schema, connection=connection), "head")


def _current(connection: Connection, schema: str | None) -> str | None:
    opts = {"version_table_schema": schema} if schema is not None else {}
    return MigrationContext.configure(connection, opts=opts).get_current_revision()


async def upgrade_to_head(url: str, *, schema: str | None = None) -> str:
    """Brings the database (or the PostgreSQL schema) to the newest revision; returns it."""
    engine = make_engine(url, schema=schema)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, schema)
        async with engine.connect() as connection:
            current = await connection.run_sync(_current, schema)
    finally:
        await engine.dispose()
    if current is None:
        raise RuntimeError("the upgrade finished but the database records no revision")
    return current


async def current_revision(url: str, *, schema: str | None = None) -> str | None:
    """The revision the database is at, or None before the first migration."""
    engine = make_engine(url, schema=schema)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current, schema)
    finally:
        await engine.dispose()
