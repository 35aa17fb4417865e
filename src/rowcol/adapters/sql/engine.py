"""Async engines for the two databases RowCol runs on: SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

SQLITE = "sqlite+aiosqlite"
POSTGRES = "postgresql+asyncpg"

_SCHEMES = {
    "sqlite": SQLITE,
    SQLITE: SQLITE,
    "postgresql": POSTGRES,
    "postgres": POSTGRES,
    POSTGRES: POSTGRES,
}
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def normalize_url(url: str) -> str:
    """`sqlite:///x` and `postgresql://...` name the async drivers RowCol uses."""
    scheme, sep, rest = url.partition("://")
    driver = _SCHEMES.get(scheme.lower()) if sep else None
    if driver is None:
        shown = scheme if sep else "(none)"
        raise ValueError(
            f"unsupported database URL scheme {shown!r}: use sqlite:///path/to/file.db "
            "or postgresql://user@host/dbname"
        )
    return f"{driver}://{rest}"


def check_schema(schema: str) -> str:
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(
            f"schema name {schema!r} must be 1-63 lowercase letters, digits or '_', "
            "not starting with a digit"
        )
    return schema


def make_engine(url: str, *, schema: str | None = None, pooled: bool = True) -> AsyncEngine:
    """An engine whose every connection is set up the same way (pragmas, search_path).

    `pooled=False` opens a connection per unit of work and closes it after. Pooled asyncpg
    connections belong to the event loop that opened them, so code that runs more than
    one loop on an engine (test clients that serve the app from a thread) needs this.
    """
    url = normalize_url(url)
    options: dict[str, Any] = {} if pooled else {"poolclass": NullPool}
    if url.startswith(SQLITE):
        if schema is not None:
            raise ValueError("schemas are a PostgreSQL feature; a SQLite URL takes none")
        return _sqlite_engine(url, options)
    connect_args: dict[str, Any] = {}
    if schema is not None:
        connect_args["server_settings"] = {"search_path": check_schema(schema)}
    return create_async_engine(url, connect_args=connect_args, **options)


def _sqlite_engine(url: str, options: dict[str, Any]) -> AsyncEngine:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, **options)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own implicit BEGIN is switched off so that ours below is the only
        # one; savepoints and transactional DDL work only that way.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=5000")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # Take the write lock up front: a deferred transaction that reads and then writes
        # fails at once with SQLITE_BUSY when another writer got in between, whereas an
        # immediate one waits its turn (busy_timeout), serializing units of work.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
