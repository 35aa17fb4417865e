"""Scenario endpoints: a client's stored what-ifs and their comparison with the baseline
(smart tier)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, MediaType, Request, Response, delete, get, post
from litestar.params import JSONBody, Parameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT
from markupsafe import Markup

from rowcol.bootstrap import Services
from rowcol.core.domain.errors import DomainError, InvalidInput
from rowcol.core.domain.features import Feature
from rowcol.core.domain.ids import AdvisorId, BusinessId
from rowcol.core.domain.scenarios import (
    Scenario,
    WeekComparison,
    change_to_json,
    changes_of,
    describe_change,
)
from rowcol.core.domain.tenancy import Actor
from rowcol.core.services.scenarios import ScenarioRun
from rowcol.entrypoints.http.api import AdvisorPath, AppServices, ClientPath, CurrentActor
from rowcol.entrypoints.http.auth import feature_guard
from rowcol.entrypoints.http.charts import comparison_chart
from rowcol.entrypoints.http.errors import status_of
from rowcol.entrypoints.http.pages import frame, wants_html
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

    @get("/", summary="The client's scenarios, by name (a page with their last runs for browsers)")
    async def list_scenarios(
        self,
        request: Request[Any, Any, Any],
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        actor: CurrentActor,
        services: AppServices,
    ) -> list[ScenarioOut] | Template:
        advisor, business = AdvisorId(advisor_id), BusinessId(client_id)
        if not wants_html(request):
            found = await services.scenarios.list(actor, advisor, business)
            return [ScenarioOut.of(s) for s in found]
        return await _page(request, services, actor, advisor_id, client_id, error=None)

    @post("/new", summary="Keep a new scenario from the page's form", include_in_schema=False)
    async def create_from_form(
        self,
        request: Request[Any, Any, Any],
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        actor: CurrentActor,
        services: AppServices,
    ) -> Response[Any]:
        """One change per scenario from the page: a customer paying late or never, a new
        cost, or revenue up or down (the API takes any number of changes of every kind)."""
        form = await request.form()
        field = {k: str(form.get(k, "")).strip() for k in _FORM_FIELDS}
        try:
            scoped = await services.clients.get_client(
                actor, AdvisorId(advisor_id), BusinessId(client_id)
            )
            change = _change_from_form(field, scoped.business.currency)
            await services.scenarios.create(
                actor,
                AdvisorId(advisor_id),
                BusinessId(client_id),
                name=field["name"],
                changes=changes_of([change]),
                description=field["description"],
            )
        except DomainError as exc:
            return await _page(
                request,
                services,
                actor,
                advisor_id,
                client_id,
                error=str(exc),
                status=status_of(exc),
            )
        return Redirect(f"{_base(advisor_id, client_id)}#s-{field['name']}", status_code=303)

    @post("/{name:str}/delete", summary="Remove a scenario from the page", include_in_schema=False)
    async def delete_from_form(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        name: NamePath,
        actor: CurrentActor,
        services: AppServices,
    ) -> Redirect:
        await services.scenarios.delete(actor, AdvisorId(advisor_id), BusinessId(client_id), name)
        return Redirect(_base(advisor_id, client_id), status_code=303)

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
        request: Request[Any, Any, Any],
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        name: NamePath,
        actor: CurrentActor,
        services: AppServices,
    ) -> ComparisonOut | Redirect:
        done = await services.scenarios.run(
            actor, AdvisorId(advisor_id), BusinessId(client_id), name
        )
        if wants_html(request):
            return Redirect(f"{_base(advisor_id, client_id)}#s-{name}", status_code=303)
        return ComparisonOut.of(name, done)


_FORM_FIELDS = (
    "name",
    "description",
    "kind",
    "customer",
    "days",
    "label",
    "amount",
    "every",
    "from",
    "percent",
)


def _base(advisor_id: str, client_id: str) -> str:
    return f"/advisor/{advisor_id}/clients/{client_id}/scenarios"


def _change_from_form(field: dict[str, str], currency: str) -> dict[str, Any]:
    """The form's fields as one change in the API's JSON form (checked by changes_of); a
    new cost is in the business's currency."""
    kind = field["kind"]
    if kind == "customer_late":
        if not field["days"].lstrip("-").isdigit():
            raise InvalidInput("days late must be a whole number")
        return {"kind": kind, "customer": field["customer"], "days": int(field["days"])}
    if kind == "customer_never_pays":
        return {"kind": kind, "customer": field["customer"]}
    if kind == "new_cost":
        return {
            "kind": kind,
            "label": field["label"],
            "amount": field["amount"],
            "currency": currency,
            "every": field["every"],
            "from": field["from"],
            "until": None,
        }
    if kind == "revenue":
        return {"kind": kind, "percent": field["percent"], "from": field["from"]}
    raise InvalidInput("choose what the scenario changes")


async def _page(
    request: Request[Any, Any, Any],
    services: Services,
    actor: Actor,
    advisor_id: str,
    client_id: str,
    *,
    error: str | None,
    status: int = 200,
) -> Template:
    advisor, business = AdvisorId(advisor_id), BusinessId(client_id)
    scoped = await services.clients.get_client(actor, advisor, business)
    runs = await services.scenarios.latest_runs(actor, advisor, business)
    customers = await services.records.customers(actor, advisor, business)
    position = await services.payments.position(actor, advisor, business)
    charts: dict[str, Markup] = {}
    for scenario, run in runs:
        if run is None:
            continue
        weeks = run.comparison.weeks
        charts[scenario.name] = comparison_chart(
            [f"{w.starts_on:%-d %b}" for w in weeks],
            [w.baseline.amount_minor for w in weeks],
            [w.changed.amount_minor for w in weeks],
            currency=position.buffer.currency,
            buffer=position.buffer.amount_minor,
            title=f"Closing balance with and without {scenario.name}",
            chart_id=f"cmp-{len(charts)}",
        )
    return Template(
        "scenarios.html",
        context={
            "frame": await frame(request, advisor_id),
            "advisor_id": advisor_id,
            "client_id": client_id,
            "business": scoped.business,
            "current": "scenarios",
            "runs": runs,
            "charts": charts,
            "customers": sorted(customers, key=lambda c: c.name),
            "names": {c.customer_id: c.name for c in customers},
            "buffer": position.buffer,
            "today": services.clock.today(),
            "error": error,
            "describe": describe_change,
            "money": lambda m: "-" if m is None else m.format(),
        },
        status_code=status,
        media_type=MediaType.HTML,
    )
