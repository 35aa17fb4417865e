"""Rail credentials in the database, encrypted under the configured keys.

Each write is its own short transaction, apart from any unit of work: a refreshed token
must be kept even when the work that refreshed it is rolled back.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from sqlalchemy import Column, ColumnElement, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from rowcol.adapters.clock import SystemClock
from rowcol.adapters.crypto import SecretCipher
from rowcol.adapters.sql import tables as t
from rowcol.adapters.sql.repository import upsert
from rowcol.core.domain.errors import Conflict
from rowcol.core.domain.ids import BusinessId, Rail
from rowcol.ports.clock import Clock
from rowcol.ports.credentials import CredentialStore
from rowcol.ports.errors import StorageError

_c = t.rail_credentials.c


@contextmanager
def _translated(conflict: str = "the change clashes with stored data") -> Iterator[None]:
    try:
        yield
    except IntegrityError as exc:
        raise Conflict(conflict) from exc
    except SQLAlchemyError as exc:
        detail = getattr(exc, "orig", None) or exc
        raise StorageError(f"the database failed: {type(detail).__name__}: {detail}") from exc
    except OSError as exc:
        raise StorageError(f"the database cannot be reached: {exc}") from exc


class SqlCredentialStore(CredentialStore):
    def __init__(
        self, engine: AsyncEngine, cipher: SecretCipher, *, clock: Clock | None = None
    ) -> None:
        self._engine = engine
        self._cipher = cipher
        self._clock = clock or SystemClock()

    async def load(self, business_id: BusinessId, rail: Rail) -> Mapping[str, str] | None:
        """Raises ValueError when the secrets were encrypted under a key no longer held."""
        with _translated():
            async with self._engine.connect() as conn:
                found = await conn.execute(
                    select(_c.ciphertext).where(
                        _c.business_id == business_id, _c.rail == rail.value
                    )
                )
                token = found.scalar_one_or_none()
        return None if token is None else self._cipher.open(token)

    async def save(self, business_id: BusinessId, rail: Rail, secrets: Mapping[str, str]) -> None:
        """Raises Conflict when the business does not exist."""
        token, key_id = self._cipher.seal(secrets)
        row = {
            "business_id": business_id,
            "rail": rail.value,
            "ciphertext": token,
            "key_id": key_id,
            "updated_at": self._clock.now(),
        }
        with _translated(f"business {business_id} does not exist"):
            async with self._engine.begin() as conn:
                statement = upsert(conn.dialect.name, t.rail_credentials, ["business_id", "rail"])
                await conn.execute(statement.values(row))

    async def businesses(self, rail: Rail) -> list[BusinessId]:
        with _translated():
            async with self._engine.connect() as conn:
                found = await conn.execute(
                    select(_c.business_id)
                    .where(_c.rail == rail.value)
                    .order_by(_collated(conn.dialect.name, _c.business_id))
                )
                return [BusinessId(b) for b in found.scalars()]

    async def rotate(self) -> int:
        """Re-encrypts what older keys encrypted under the primary key; how many were.

        A row saved meanwhile is left as saved: each rewrite applies only if the row still
        holds the token it was made from. Raises ValueError when a row was encrypted under
        a key no longer held (and then rewrites nothing).
        """
        with _translated():
            async with self._engine.begin() as conn:
                found = await conn.execute(
                    select(_c.business_id, _c.rail, _c.ciphertext).where(
                        _c.key_id != self._cipher.key_id
                    )
                )
                rewritten = 0
                for business_id, rail, old in found.all():
                    token, key_id = self._cipher.rotate(old)
                    result = await conn.execute(
                        update(t.rail_credentials)
                        .where(
                            _c.business_id == business_id,
                            _c.rail == rail,
                            _c.ciphertext == old,
                        )
                        .values(ciphertext=token, key_id=key_id, updated_at=self._clock.now())
                    )
                    rewritten += result.rowcount
        return rewritten


def _collated(dialect: str, column: Column[str]) -> ColumnElement[str]:
    return column.collate("C") if dialect == "postgresql" else column
