"""Scenarios in SQL: the changes as JSON (the same form the API takes), keyed by business
and name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import CursorResult, Executable, RowMapping, delete, select
from sqlalchemy.exc import IntegrityError

from rowcol.adapters.sql import tables as t
from rowcol.core.domain.errors import Conflict
from rowcol.core.domain.ids import BusinessId
from rowcol.core.domain.scenarios import Scenario, change_to_json, changes_of
from rowcol.ports.repository import ScenarioRepository


class _Db(Protocol):
    async def read(self, statement: Executable) -> CursorResult[Any]: ...

    async def write(self, statement: Executable) -> CursorResult[Any]: ...


def _scenario(row: RowMapping) -> Scenario:
    return Scenario(
        business_id=BusinessId(row["business_id"]),
        name=row["name"],
        changes=changes_of(row["changes"]),
        created_at=row["created_at"],
        created_by=row["created_by"],
        description=row["description"],
    )


class SqlScenarios(ScenarioRepository):
    def __init__(self, db: _Db) -> None:
        self._db = db

    async def add(self, scenario: Scenario) -> None:
        row = {
            "business_id": scenario.business_id,
            "name": scenario.name,
            "created_at": scenario.created_at,
            "created_by": scenario.created_by,
            "description": scenario.description,
            "changes": [change_to_json(c) for c in scenario.changes],
        }
        try:
            await self._db.write(t.scenarios.insert().values(row))
        except IntegrityError as exc:
            raise Conflict(
                f"scenario {scenario.name} exists or business {scenario.business_id} does not"
            ) from exc

    async def get(self, business_id: BusinessId, name: str) -> Scenario | None:
        c = t.scenarios.c
        found = await self._db.read(
            select(t.scenarios).where(c.business_id == business_id, c.name == name)
        )
        row = found.mappings().first()
        return None if row is None else _scenario(row)

    async def list(self, business_id: BusinessId) -> Sequence[Scenario]:
        c = t.scenarios.c
        found = await self._db.read(
            select(t.scenarios).where(c.business_id == business_id).order_by(c.name)
        )
        return [_scenario(row) for row in found.mappings()]

    async def delete(self, business_id: BusinessId, name: str) -> bool:
        c = t.scenarios.c
        done = await self._db.write(
            delete(t.scenarios).where(c.business_id == business_id, c.name == name)
        )
        return bool(done.rowcount)
