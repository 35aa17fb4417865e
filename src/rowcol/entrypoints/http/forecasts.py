"""Forecast endpoints: a client's 4/8/13-week cash forecast with its bands (smart tier)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, MediaType, Request, get, post
from litestar.params import Parameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_201_CREATED

from rowcol.core.domain.errors import InvalidInput, NotFound
from rowcol.core.domain.features import Feature
from rowcol.core.domain.forecast import RecurringFlow, WeekForecast
from rowcol.core.domain.ids import AdvisorId, BusinessId
from rowcol.core.domain.money import Money
from rowcol.core.services.forecasts import HORIZONS
from rowcol.entrypoints.http.api import AdvisorPath, AppServices, ClientPath, CurrentActor
from rowcol.entrypoints.http.auth import feature_guard
from rowcol.entrypoints.http.charts import FanPoint, fan_chart
from rowcol.entrypoints.http.pages import frame, wants_html
from rowcol.entrypoints.http.schemas import MoneyOut
from rowcol.ports.repository import ForecastSnapshot

Weeks = Annotated[
    int, Parameter(description="Horizon in weeks: 4, 8 or 13", ge=1, le=26, required=False)
]


class WeekOut(msgspec.Struct):
    week: int
    starts_on: date
    ends_on: date
    opening: MoneyOut
    inflows: MoneyOut
    outflows: MoneyOut
    closing: MoneyOut
    p10: MoneyOut
    p50: MoneyOut
    p90: MoneyOut
    breach_probability: float
    by_category: dict[str, MoneyOut]

    @classmethod
    def of(cls, w: WeekForecast) -> WeekOut:
        return cls(
            w.week,
            w.starts_on,
            w.ends_on,
            MoneyOut.of(w.opening),
            MoneyOut.of(w.inflows),
            MoneyOut.of(w.outflows),
            MoneyOut.of(w.closing),
            MoneyOut.of(w.p10),
            MoneyOut.of(w.p50),
            MoneyOut.of(w.p90),
            round(w.breach_probability, 4),
            {k: MoneyOut.of(v) for k, v in sorted(w.by_category.items())},
        )


class RecurringOut(msgspec.Struct):
    category: str
    counterparty: str | None
    cadence_days: int
    typical: MoneyOut
    next_on: date
    occurrences: int

    @classmethod
    def of(cls, r: RecurringFlow) -> RecurringOut:
        return cls(
            r.category,
            r.counterparty,
            r.cadence_days,
            MoneyOut.of(r.typical),
            r.next_on,
            r.occurrences,
        )


class ForecastOut(msgspec.Struct):
    snapshot_id: str
    business_id: str
    made_at: datetime
    as_of: date
    low_point: MoneyOut
    low_week: int
    weeks: list[WeekOut]
    recurring: list[RecurringOut]

    @classmethod
    def of(cls, s: ForecastSnapshot, weeks: int | None = None) -> ForecastOut:
        f = s.forecast
        shown = f.weeks[:weeks] if weeks else f.weeks
        low = min(shown, key=lambda w: w.p50.amount_minor)
        return cls(
            s.snapshot_id,
            s.business_id,
            s.created_at,
            f.as_of,
            MoneyOut.of(low.p50),
            low.week,
            [WeekOut.of(w) for w in shown],
            [RecurringOut.of(r) for r in f.recurring],
        )


class ForecastController(Controller):
    """A client's cash forecast (smart features)."""

    path = "/advisor/{advisor_id:str}/clients/{client_id:str}/forecast"
    tags = ["forecast"]
    guards = [feature_guard]
    opt = {"feature": Feature.SMART_FEATURES_ENABLED}

    @get(
        "/",
        summary="The latest forecast (4, 8 or 13 weeks of it); a page for browsers",
    )
    async def latest(
        self,
        request: Request[Any, Any, Any],
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        actor: CurrentActor,
        services: AppServices,
        weeks: Weeks = 13,
    ) -> ForecastOut | Template:
        _check_weeks(weeks)
        advisor, business = AdvisorId(advisor_id), BusinessId(client_id)
        found = await services.forecasts.latest(actor, advisor, business)
        if not wants_html(request):
            if found is None:
                raise NotFound(f"client {client_id} has no forecast yet; POST to make one")
            return ForecastOut.of(found, weeks)
        scoped = await services.clients.get_client(actor, advisor, business)
        buffer = found.buffer if found is not None else None
        if buffer is None:
            buffer = (await services.payments.position(actor, advisor, business)).buffer
        context: dict[str, Any] = {
            "frame": await frame(request, advisor_id),
            "advisor_id": advisor_id,
            "client_id": client_id,
            "current": "forecast",
            "business": scoped.business,
            "weeks": weeks,
            "horizons": HORIZONS,
            "snapshot": found,
            "shown": found.forecast.weeks[:weeks] if found else (),
            "buffer": buffer,
            "money": _money,
            "chart": None,
            "categories": [],
        }
        if found is not None:
            shown = found.forecast.weeks[:weeks]
            context["chart"] = fan_chart(
                [
                    FanPoint(
                        f"{w.starts_on:%-d %b}",
                        w.p10.amount_minor,
                        w.p50.amount_minor,
                        w.p90.amount_minor,
                    )
                    for w in shown
                ],
                currency=buffer.currency,
                buffer=buffer.amount_minor,
            )
            context["categories"] = sorted({c for w in shown for c in w.by_category})
        return Template("forecast.html", context=context, media_type=MediaType.HTML)

    @post("/", summary="Make a fresh 13-week forecast and keep it", status_code=HTTP_201_CREATED)
    async def make(
        self,
        request: Request[Any, Any, Any],
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        actor: CurrentActor,
        services: AppServices,
    ) -> ForecastOut | Redirect:
        made = await services.forecasts.forecast(
            actor, AdvisorId(advisor_id), BusinessId(client_id)
        )
        if wants_html(request):
            return Redirect(request.url.path, status_code=303)
        return ForecastOut.of(made)


def _money(value: Money | None) -> str:
    return "-" if value is None else value.format()


def _check_weeks(weeks: int) -> None:
    if weeks not in HORIZONS:
        raise InvalidInput(f"weeks must be one of {', '.join(map(str, HORIZONS))}")
