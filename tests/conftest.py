"""Storage fixtures: what runs on one backend runs on all of them.

PostgreSQL comes from ROWCOL_TEST_POSTGRES_URL (default: a local `test` database). When it
cannot be reached its tests are skipped, or fail if ROWCOL_REQUIRE_POSTGRES=1 (CI).
"""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from rowcol.adapters.memory.repository import MemoryUnitOfWorkFactory
from rowcol.adapters.sql.engine import make_engine, normalize_url
from rowcol.adapters.sql.migrate import upgrade_to_head
from rowcol.adapters.sql.repository import SqlUnitOfWorkFactory
from rowcol.ports.repository import UnitOfWorkFactory

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)

DatabaseUrl = tuple[str, str | None]
"""A migrated, empty database: the URL and, on PostgreSQL, the schema to use."""


def postgres_url() -> str:
    return os.environ.get("ROWCOL_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL


@functools.cache
def postgres_problem(url: str) -> str | None:
    """Why PostgreSQL at `url` cannot be used, or None; asked once per test session.

    The probe runs on its own thread and event loop, so it may be asked from anywhere.
    """

    async def probe() -> None:
        engine = make_engine(url)
        try:
            async with asyncio.timeout(5), engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(max_workers=1) as thread:
        try:
            thread.submit(asyncio.run, probe()).result()
        except Exception as exc:
            shown = make_url(normalize_url(url)).render_as_string(hide_password=True)
            return f"PostgreSQL at {shown} is not reachable: {type(exc).__name__}: {exc}"
    return None


def reachable_postgres_url() -> str:
    url = postgres_url()
    problem = postgres_problem(url)
    if problem is not None:
        if os.environ.get("ROWCOL_REQUIRE_POSTGRES") == "1":
            pytest.fail(problem)
        pytest.skip(problem)
    return url


@asynccontextmanager
async def migrated_database(backend: str, tmp_path: Path) -> AsyncIterator[DatabaseUrl]:
    """A fresh database at the newest revision: a SQLite file, or a PostgreSQL schema."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / f'rowcol-{secrets.token_hex(4)}.db'}"
        await upgrade_to_head(url)
        yield url, None
        return
    url = reachable_postgres_url()
    schema = f"t_{secrets.token_hex(6)}"
    admin = make_engine(url)
    try:
        async with admin.begin() as connection:
            await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            await upgrade_to_head(url, schema=schema)
            yield url, schema
        finally:
            async with admin.begin() as connection:
                await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        await admin.dispose()


@pytest.fixture(params=["memory", "sqlite", POSTGRES])
async def uow_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[UnitOfWorkFactory]:
    if request.param == "memory":
        yield MemoryUnitOfWorkFactory()
        return
    async with migrated_database(request.param, tmp_path) as (url, schema):
        # Unpooled: an app under a test client runs on its own event loop, and a pooled
        # asyncpg connection cannot move between loops.
        factory = SqlUnitOfWorkFactory(make_engine(url, schema=schema, pooled=False))
        try:
            yield factory
        finally:
            await factory.aclose()


@pytest.fixture(params=["sqlite", POSTGRES])
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[DatabaseUrl]:
    async with migrated_database(request.param, tmp_path) as target:
        yield target
