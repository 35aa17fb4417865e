"""Storage on SQLite or PostgreSQL: Core tables, Alembic migrations, the unit of work.

`engine.make_engine` builds the engine, `migrate.upgrade_to_head` brings the schema up to
date, and `repository.SqlUnitOfWorkFactory` implements the storage ports on top of both.
"""
