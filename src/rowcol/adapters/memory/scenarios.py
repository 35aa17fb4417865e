"""Scenarios in memory, one per (business, name)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from rowcol.core.domain.errors import Conflict
from rowcol.core.domain.ids import BusinessId
from rowcol.core.domain.scenarios import Scenario
from rowcol.ports.repository import ScenarioRepository


class MemoryScenarios(ScenarioRepository):
    def __init__(self, rows: dict[tuple[str, str], Scenario], businesses: Collection[str]) -> None:
        self._rows = rows
        self._businesses = businesses

    async def add(self, scenario: Scenario) -> None:
        if scenario.business_id not in self._businesses:
            raise Conflict(f"business {scenario.business_id} does not exist")
        key = (scenario.business_id, scenario.name)
        if key in self._rows:
            raise Conflict(f"scenario {scenario.name} exists")
        self._rows[key] = scenario

    async def get(self, business_id: BusinessId, name: str) -> Scenario | None:
        return self._rows.get((business_id, name))

    async def list(self, business_id: BusinessId) -> Sequence[Scenario]:
        return sorted(
            (s for (b, _), s in self._rows.items() if b == business_id), key=lambda s: s.name
        )

    async def delete(self, business_id: BusinessId, name: str) -> bool:
        return self._rows.pop((business_id, name), None) is not None
