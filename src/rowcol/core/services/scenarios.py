"""What-if scenarios: kept per client, run against a fresh baseline, both forecasts kept."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from typing import NamedTuple

from rowcol.core.domain.errors import Conflict, NotFound
from rowcol.core.domain.ids import AdvisorId, BusinessId
from rowcol.core.domain.scenarios import (
    Change,
    Scenario,
    ScenarioComparison,
    apply,
    change_to_json,
    compare,
)
from rowcol.core.domain.tenancy import Actor
from rowcol.core.services.forecasts import ForecastService, forecast_input
from rowcol.core.services.scope import client_for, record
from rowcol.ports.clock import Clock
from rowcol.ports.repository import ForecastSnapshot, UnitOfWorkFactory


class ScenarioRun(NamedTuple):
    baseline: ForecastSnapshot
    changed: ForecastSnapshot
    comparison: ScenarioComparison


def _audit_body(scenario: Scenario) -> dict[str, object]:
    return {
        "name": scenario.name,
        "description": scenario.description,
        "changes": [change_to_json(c) for c in scenario.changes],
    }


class ScenarioPlanner:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, forecasts: ForecastService) -> None:
        self._uow = uow
        self._clock = clock
        self._forecasts = forecasts

    async def create(
        self,
        actor: Actor,
        advisor_id: AdvisorId,
        business_id: BusinessId,
        *,
        name: str,
        changes: Sequence[Change],
        description: str = "",
    ) -> Scenario:
        """Keeps a new scenario; Conflict when the client already has one of that name."""
        scenario = Scenario(
            business_id=business_id,
            name=name,
            changes=tuple(changes),
            created_at=self._clock.now(),
            created_by=actor.label,
            description=description,
        )
        async with self._uow() as uow:
            scoped = await client_for(uow, actor, advisor_id, business_id)
            if await uow.scenarios.get(business_id, name) is not None:
                raise Conflict(f"client {business_id} already has a scenario named {name}")
            await uow.scenarios.add(scenario)
            await record(
                uow,
                self._clock,
                actor,
                "scenario.create",
                f"business:{business_id}/scenario:{name}",
                after=_audit_body(scenario),
                advisor_id=scoped.advisor.advisor_id,
            )
            await uow.commit()
        return scenario

    async def list(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId
    ) -> Sequence[Scenario]:
        async with self._uow() as uow:
            await client_for(uow, actor, advisor_id, business_id)
            return await uow.scenarios.list(business_id)

    async def latest_runs(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId
    ) -> Sequence[tuple[Scenario, ScenarioRun | None]]:
        """Each scenario with its latest run: the forecasts with and without it made
        together, and their comparison; None before its first run."""
        async with self._uow() as uow:
            await client_for(uow, actor, advisor_id, business_id)
            scenarios = await uow.scenarios.list(business_id)
            changed = [await uow.forecasts.latest(business_id, scenario=s.name) for s in scenarios]
            made_at = [c.created_at for c in changed if c is not None]
            baselines = await uow.forecasts.list(business_id, since=min(made_at)) if made_at else []
        at = {b.created_at: b for b in baselines}
        out: list[tuple[Scenario, ScenarioRun | None]] = []
        for scenario, snapshot in zip(scenarios, changed, strict=True):
            baseline = at.get(snapshot.created_at) if snapshot is not None else None
            if snapshot is None or baseline is None:
                out.append((scenario, None))
                continue
            run = ScenarioRun(baseline, snapshot, compare(baseline.forecast, snapshot.forecast))
            out.append((scenario, run))
        return out

    async def get(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId, name: str
    ) -> Scenario:
        async with self._uow() as uow:
            await client_for(uow, actor, advisor_id, business_id)
            found = await uow.scenarios.get(business_id, name)
        if found is None:
            raise NotFound(f"client {business_id} has no scenario named {name}")
        return found

    async def delete(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId, name: str
    ) -> None:
        async with self._uow() as uow:
            scoped = await client_for(uow, actor, advisor_id, business_id)
            found = await uow.scenarios.get(business_id, name)
            if found is None or not await uow.scenarios.delete(business_id, name):
                raise NotFound(f"client {business_id} has no scenario named {name}")
            await record(
                uow,
                self._clock,
                actor,
                "scenario.delete",
                f"business:{business_id}/scenario:{name}",
                before=_audit_body(found),
                advisor_id=scoped.advisor.advisor_id,
            )
            await uow.commit()

    async def run(
        self,
        actor: Actor,
        advisor_id: AdvisorId,
        business_id: BusinessId,
        name: str,
        *,
        weeks: int = 13,
    ) -> ScenarioRun:
        """Projects the client with and without the scenario from the same stored records
        and keeps both forecasts (the changed one under the scenario's name)."""
        async with self._uow() as uow:
            scoped = await client_for(uow, actor, advisor_id, business_id)
            scenario = await uow.scenarios.get(business_id, name)
            if scenario is None:
                raise NotFound(f"client {business_id} has no scenario named {name}")
            data = await forecast_input(uow, self._clock, scoped.business)
        # Revenue changes project the input once more: CPU work, off the event loop.
        changed_input = await asyncio.to_thread(apply, scenario, data)
        baseline = await self._forecasts.project(data, weeks=weeks)
        changed = await self._forecasts.project(changed_input, weeks=weeks)
        comparison = compare(baseline, changed)
        now = self._clock.now()
        snapshots = [
            ForecastSnapshot(
                f"fc-{secrets.token_hex(8)}", business_id, now, made, label, data.buffer
            )
            for made, label in ((baseline, None), (changed, name))
        ]
        async with self._uow() as uow:
            scoped = await client_for(uow, actor, advisor_id, business_id)
            for snapshot in snapshots:
                await uow.forecasts.add(snapshot)
            await record(
                uow,
                self._clock,
                actor,
                "scenario.run",
                f"business:{business_id}/scenario:{name}",
                after={
                    "baseline_snapshot": snapshots[0].snapshot_id,
                    "changed_snapshot": snapshots[1].snapshot_id,
                    "baseline_low_point": comparison.baseline_low_point,
                    "changed_low_point": comparison.changed_low_point,
                    "baseline_runway_weeks": comparison.baseline_runway_weeks,
                    "changed_runway_weeks": comparison.changed_runway_weeks,
                },
                advisor_id=scoped.advisor.advisor_id,
            )
            await uow.commit()
        return ScenarioRun(snapshots[0], snapshots[1], comparison)
