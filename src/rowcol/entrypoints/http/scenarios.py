"""Scenario endpoints: a client's stored what-ifs and their comparison with the baseline
(smart tier)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, delete, get, post
from litestar.params import JSONBody, Parameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from rowcol.core.domain.features import Feature
from rowcol.core.domain.ids import AdvisorId, BusinessId
from rowcol.core.domain.scenarios import Scenario, WeekComparison, change_to_json, changes_of
from rowcol.core.services.scenarios import ScenarioRun
from rowcol.entrypoints.http.api import AdvisorPath, AppServices, ClientPath, CurrentActor
from rowcol.entrypoints.http.auth import feature_guard
from rowcol.entrypoints.http.schemas import MoneyOut, Strict

NamePath = Annotated[str, Parameter(description="The scenario's name", max_length=64)]


class AddScenario(Strict):
    name: str
    changes: list[dict[str, Any]]
    """Each a JSON object with a `kind` (docs: `rowcol scenario add --help`)."""
    description: str = ""


class ScenarioOut(msgspec.Struct):
    name: str
    description: str
    created_at: datetime
    created_by: str
    changes: list[dict[str, Any]]

    @classmethod
    def of(cls, s: Scenario) -> ScenarioOut:
        return cls(
            s.name,
            s.description,
            s.created_at,
            s.created_by,
            [change_to_json(c) for c in s.changes],
        )


class WeekComparisonOut(msgspec.Struct):
    week: int
    starts_on: date
    ends_on: date
    baseline: MoneyOut
    changed: MoneyOut
    difference: MoneyOut
    baseline_breach_probability: float
    changed_breach_probability: float

    @classmethod
    def of(cls, w: WeekComparison) -> WeekComparisonOut:
        return cls(
            w.week,
            w.starts_on,
            w.ends_on,
            MoneyOut.of(w.baseline),
            MoneyOut.of(w.changed),
            MoneyOut.of(w.difference),
            round(w.baseline_breach_probability, 4),
            round(w.changed_breach_probability, 4),
        )


class ComparisonOut(msgspec.Struct):
    scenario: str
    baseline_snapshot_id: str
    changed_snapshot_id: str
    baseline_low_point: MoneyOut
    baseline_low_week: int
    changed_low_point: MoneyOut
    changed_low_week: int
    baseline_runway_weeks: int | None
    changed_runway_weeks: int | None
    weeks: list[WeekComparisonOut]

    @classmethod
    def of(cls, name: str, run: ScenarioRun) -> ComparisonOut:
        c = run.comparison
        return cls(
            name,
            run.baseline.snapshot_id,
            run.changed.snapshot_id,
            MoneyOut.of(c.baseline_low_point),
            c.baseline_low_week,
            MoneyOut.of(c.changed_low_point),
            c.changed_low_week,
            c.baseline_runway_weeks,
            c.changed_runway_weeks,
            [WeekComparisonOut.of(w) for w in c.weeks],
        )


class ScenarioController(Controller):
    """A client's what-if scenarios (smart features)."""

    path = "/advisor/{advisor_id:str}/clients/{client_id:str}/scenarios"
    tags = ["scenarios"]
    guards = [feature_guard]
    opt = {"feature": Feature.SMART_FEATURES_ENABLED}

    @get("/", summary="The client's scenarios, by name")
    async def list_scenarios(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        actor: CurrentActor,
        services: AppServices,
    ) -> list[ScenarioOut]:
        found = await services.scenarios.list(actor, AdvisorId(advisor_id), BusinessId(client_id))
        return [ScenarioOut.of(s) for s in found]

    @post("/", summary="Keep a new scenario", status_code=HTTP_201_CREATED)
    async def create(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        actor: CurrentActor,
        services: AppServices,
        data: JSONBody[AddScenario],
    ) -> ScenarioOut:
        made = await services.scenarios.create(
            actor,
            AdvisorId(advisor_id),
            BusinessId(client_id),
            name=data.name,
            changes=changes_of(data.changes),
            description=data.description,
        )
        return ScenarioOut.of(made)

    @get("/{name:str}", summary="One scenario")
    async def show(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        name: NamePath,
        actor: CurrentActor,
        services: AppServices,
    ) -> ScenarioOut:
        found = await services.scenarios.get(
            actor, AdvisorId(advisor_id), BusinessId(client_id), name
        )
        return ScenarioOut.of(found)

    @delete("/{name:str}", summary="Remove a scenario", status_code=HTTP_204_NO_CONTENT)
    async def remove(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        name: NamePath,
        actor: CurrentActor,
        services: AppServices,
    ) -> None:
        await services.scenarios.delete(actor, AdvisorId(advisor_id), BusinessId(client_id), name)

    @post(
        "/{name:str}/run",
        summary="Forecast the client with and without the scenario, week by week",
        status_code=HTTP_201_CREATED,
    )
    async def run(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        name: NamePath,
        actor: CurrentActor,
        services: AppServices,
    ) -> ComparisonOut:
        done = await services.scenarios.run(
            actor, AdvisorId(advisor_id), BusinessId(client_id), name
        )
        return ComparisonOut.of(name, done)
