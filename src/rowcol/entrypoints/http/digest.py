"""The advisor digest of a client, as a page for people and as JSON for programs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import msgspec
from litestar import Controller, MediaType, Request, get
from litestar.response import Template

from rowcol.core.domain.digest import RUNWAY_CAP_WEEKS, Aging, Insight
from rowcol.core.domain.features import Feature
from rowcol.core.domain.ids import AdvisorId, BusinessId
from rowcol.core.domain.money import Money
from rowcol.core.domain.scenarios import runway_weeks
from rowcol.core.services.digest import Digest, Owed
from rowcol.entrypoints.http.api import AdvisorPath, AppServices, ClientPath, CurrentActor
from rowcol.entrypoints.http.charts import FanPoint, bar_chart, fan_chart, line_chart
from rowcol.entrypoints.http.forecasts import WeekOut
from rowcol.entrypoints.http.pages import frame, wants_html
from rowcol.entrypoints.http.schemas import MoneyOut


class BucketOut(msgspec.Struct):
    label: str
    amount: MoneyOut
    count: int


class AgingOut(msgspec.Struct):
    total: MoneyOut
    overdue: MoneyOut
    buckets: list[BucketOut]

    @classmethod
    def of(cls, a: Aging) -> AgingOut:
        return cls(
            MoneyOut.of(a.total),
            MoneyOut.of(a.overdue),
            [BucketOut(b.label, MoneyOut.of(b.amount), b.count) for b in a.buckets],
        )


class OwedOut(msgspec.Struct):
    counterparty: str
    amount: MoneyOut
    due: date | None
    days_late: int

    @classmethod
    def of(cls, o: Owed) -> OwedOut:
        return cls(o.counterparty, MoneyOut.of(o.amount), o.due, o.days_late)


class InsightOut(msgspec.Struct):
    tone: str
    headline: str
    why: str

    @classmethod
    def of(cls, i: Insight) -> InsightOut:
        return cls(i.tone.value, i.headline, i.why)


class ScenarioOut(msgspec.Struct):
    name: str
    description: str
    made_at: datetime | None
    low_point: MoneyOut | None
    low_week: int | None
    runway_weeks: int | None
    breach_probability: float | None
    closing_p50: list[MoneyOut]


class TrendOut(msgspec.Struct):
    on: date
    low_point: MoneyOut
    runway_weeks: int | None


class RunwayPointOut(msgspec.Struct):
    on: date
    cash: MoneyOut
    runway_weeks: int | None


class CollectionOut(msgspec.Struct):
    invoice_id: str
    customer: str
    balance: MoneyOut
    due_date: date
    reminders_sent: int
    next_step: str | None
    stopped: str | None


class DigestOut(msgspec.Struct):
    client_id: str
    name: str
    today: date
    cash: MoneyOut
    cash_as_of: datetime | None
    runway_weeks: int | None
    """Weeks the cash lasts at the last 13 weeks' net burn; null when it is not shrinking."""
    buffer: MoneyOut | None
    forecast_made_at: datetime | None
    forecast: list[WeekOut] | None
    breach_probability: float | None
    scenarios: list[ScenarioOut]
    receivables: AgingOut
    payables: AgingOut
    overdue_invoices: list[OwedOut]
    upcoming_bills: list[OwedOut]
    collections: list[CollectionOut]
    insights: list[InsightOut]
    trend: list[TrendOut]
    runway_trend: list[RunwayPointOut]

    @classmethod
    def of(cls, d: Digest) -> DigestOut:
        return cls(
            client_id=d.business.business_id,
            name=d.business.name,
            today=d.today,
            cash=MoneyOut.of(d.cash),
            cash_as_of=d.cash_as_of,
            runway_weeks=d.runway.weeks,
            buffer=MoneyOut.of(d.buffer) if d.buffer is not None else None,
            forecast_made_at=d.forecast_made_at,
            forecast=[WeekOut.of(w) for w in d.forecast.weeks] if d.forecast else None,
            breach_probability=(
                round(d.breach_probability, 4) if d.breach_probability is not None else None
            ),
            scenarios=[
                ScenarioOut(
                    s.name,
                    s.description,
                    s.made_at,
                    MoneyOut.of(s.forecast.low_point) if s.forecast else None,
                    s.forecast.low_week if s.forecast else None,
                    s.runway_weeks,
                    max((w.breach_probability for w in s.forecast.weeks), default=0.0)
                    if s.forecast
                    else None,
                    [MoneyOut.of(w.p50) for w in s.forecast.weeks] if s.forecast else [],
                )
                for s in d.scenarios
            ],
            receivables=AgingOut.of(d.receivables),
            payables=AgingOut.of(d.payables),
            overdue_invoices=[OwedOut.of(o) for o in d.overdue_invoices],
            upcoming_bills=[OwedOut.of(o) for o in d.upcoming_bills],
            collections=[
                CollectionOut(
                    c.invoice.invoice_id,
                    c.customer_name,
                    MoneyOut.of(c.invoice.balance),
                    c.invoice.due_date,
                    len(c.sends),
                    c.next_step.step_id if c.next_step else None,
                    c.stopped.value if c.stopped else None,
                )
                for c in d.collections.cases
            ],
            insights=[InsightOut.of(i) for i in d.insights],
            trend=[TrendOut(p.on, MoneyOut.of(p.low_point), p.runway_weeks) for p in d.trend],
            runway_trend=[
                RunwayPointOut(p.on, MoneyOut.of(p.cash), p.weeks) for p in d.runway_trend
            ],
        )


class DigestController(Controller):
    path = "/advisor/{advisor_id:str}/clients/{client_id:str}/digest"
    tags = ["digest"]

    @get(
        "/",
        summary="The advisor digest: cash, runway, forecast, scenarios, A/R, A/P, collections "
        "and what changed since last week (a page for browsers, JSON otherwise)",
    )
    async def digest(
        self,
        request: Request[Any, Any, Any],
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        actor: CurrentActor,
        services: AppServices,
    ) -> DigestOut | Template:
        advisor = AdvisorId(advisor_id)
        features = await services.features.features_for(actor, advisor)
        smart = Feature.SMART_FEATURES_ENABLED in features
        made = await services.digests.digest(
            actor, advisor, BusinessId(client_id), with_forecast=smart
        )
        body = DigestOut.of(made)
        if not wants_html(request):
            return body
        context = _page(made, body, advisor_id, smart)
        context["frame"] = await frame(request, advisor_id)
        return Template("digest.html", context=context, media_type=MediaType.HTML)


def _page(d: Digest, body: DigestOut, advisor_id: str, smart: bool) -> dict[str, Any]:
    currency = d.cash.currency
    fan = None
    if d.forecast is not None:
        fan = fan_chart(
            [
                FanPoint(
                    f"{w.starts_on:%-d %b}",
                    w.p10.amount_minor,
                    w.p50.amount_minor,
                    w.p90.amount_minor,
                )
                for w in d.forecast.weeks
            ],
            currency=currency,
            buffer=d.buffer.amount_minor if d.buffer is not None else None,
        )
    trend = None
    if len(d.trend) >= 2:
        trend = line_chart(
            [f"{p.on:%-d %b}" for p in d.trend],
            [p.low_point.amount_minor for p in d.trend],
            currency=currency,
            title="Forecast low point, as each day's forecast saw it",
            chart_id="trend",
        )
    runway_chart = line_chart(
        [f"{p.on:%-d %b}" for p in d.runway_trend],
        [
            min(p.weeks, RUNWAY_CAP_WEEKS) if p.weeks is not None else RUNWAY_CAP_WEEKS
            for p in d.runway_trend
        ],
        currency=None,
        title=f"Runway in weeks at the end of each of the last {len(d.runway_trend)} weeks",
        chart_id="runway",
    )
    bars = {
        name: bar_chart(
            [b.label for b in aged.buckets],
            [b.amount.amount_minor for b in aged.buckets],
            currency=currency,
            title=f"{title} by age",
            chart_id=name,
        )
        for name, title, aged in (
            ("ar", "Receivables", d.receivables),
            ("ap", "Payables", d.payables),
        )
    }
    return {
        "d": d,
        "body": body,
        "advisor_id": advisor_id,
        "client_id": d.business.business_id,
        "business": d.business,
        "current": "digest",
        "smart": smart,
        "fan": fan,
        "baseline_runway": runway_weeks(d.forecast) if d.forecast is not None else None,
        "trend": trend,
        "runway_chart": runway_chart,
        "runway_cap": RUNWAY_CAP_WEEKS,
        "bars": bars,
        "money": _money,
    }


def _money(value: Money | MoneyOut | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, MoneyOut):
        return value.display
    return value.format()
