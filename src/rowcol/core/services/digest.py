"""The advisor digest of one client: cash, runway, the 13-week forecast with its bands,
scenarios side by side, receivables and payables, collections, and what changed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from rowcol.core.domain.cash import Runway, runway
from rowcol.core.domain.digest import (
    Aging,
    Facts,
    Insight,
    RunwayPoint,
    aging,
    insights,
    payables_owed,
    receivables_owed,
    runway_trend,
)
from rowcol.core.domain.forecast import Forecast, ForecastInput
from rowcol.core.domain.ids import AdvisorId, BusinessId
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import BillStatus, InvoiceStatus
from rowcol.core.domain.scenarios import runway_weeks
from rowcol.core.domain.tenancy import Actor, Business
from rowcol.core.services.collections import CollectionsView, EarlyCollectionService
from rowcol.core.services.forecasts import ForecastService, forecast_input
from rowcol.core.services.scope import client_for
from rowcol.ports.clock import Clock
from rowcol.ports.repository import ForecastSnapshot, UnitOfWorkFactory

TREND_DAYS = 91
"""How far back the runway trend reaches."""
UPCOMING_DAYS = 14


@dataclass(frozen=True, slots=True)
class ScenarioSummary:
    name: str
    description: str
    forecast: Forecast | None
    """Its latest run; None before it was first run."""
    made_at: datetime | None

    @property
    def runway_weeks(self) -> int | None:
        return None if self.forecast is None else runway_weeks(self.forecast)


@dataclass(frozen=True, slots=True)
class TrendPoint:
    on: date
    low_point: Money
    runway_weeks: int | None


@dataclass(frozen=True, slots=True)
class Owed:
    """One overdue invoice or upcoming bill, for the summaries."""

    counterparty: str
    amount: Money
    due: date | None
    days_late: int


@dataclass(frozen=True, slots=True)
class Digest:
    business: Business
    today: date
    cash: Money
    cash_as_of: datetime | None
    runway: Runway
    buffer: Money | None
    forecast: Forecast | None
    """None when the advisor's plan has no forecasts."""
    forecast_made_at: datetime | None
    """When the stored forecast was made; None when none was stored and it was projected
    for this digest."""
    scenarios: tuple[ScenarioSummary, ...]
    receivables: Aging
    payables: Aging
    overdue_invoices: tuple[Owed, ...]
    upcoming_bills: tuple[Owed, ...]
    collections: CollectionsView
    insights: tuple[Insight, ...]
    trend: tuple[TrendPoint, ...]
    """The forecast low point as each day's forecast saw it."""
    runway_trend: tuple[RunwayPoint, ...]
    """Runway at the end of each of the last 13 weeks, from the bank history."""

    @property
    def breach_probability(self) -> float | None:
        if self.forecast is None:
            return None
        return max((w.breach_probability for w in self.forecast.weeks), default=0.0)


class DigestService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        forecasts: ForecastService,
        collections: EarlyCollectionService,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._forecasts = forecasts
        self._collections = collections

    async def digest(
        self,
        actor: Actor,
        advisor_id: AdvisorId,
        business_id: BusinessId,
        *,
        with_forecast: bool = True,
    ) -> Digest:
        """The digest as of now; without `with_forecast` (a plan without forecasts) it
        leaves out the forecast, the scenarios and the trend."""
        now = self._clock.now()
        today = now.date()
        async with self._uow() as uow:
            scoped = await client_for(uow, actor, advisor_id, business_id)
            data = await forecast_input(uow, self._clock, scoped.business)
            # The cash is counted in the business's currency; so is its age.
            balances = [
                b
                for b in await uow.balances.latest(business_id)
                if b.current.currency == data.currency
            ]
            latest = await uow.forecasts.latest(business_id)
            history = await uow.forecasts.list(business_id, since=now - timedelta(days=TREND_DAYS))
            scenarios = await uow.scenarios.list(business_id)
            runs = [await uow.forecasts.latest(business_id, scenario=s.name) for s in scenarios]
            vendors = {v.vendor_id: v.name for v in await uow.vendors.list(business_id)}
            customers = {c.customer_id: c.name for c in await uow.customers.list(business_id)}
        forecast: Forecast | None = None
        if not with_forecast:
            latest, history, scenarios, runs = None, [], [], []
        elif latest is not None:
            forecast = latest.forecast
        else:
            forecast = await self._forecasts.project(data)
        collections = await self._collections.view(actor, advisor_id, business_id)
        currency = data.currency
        week_ago = today - timedelta(days=7)
        receivables = aging(
            receivables_owed(data.invoices, on=today), as_of=today, currency=currency
        )
        payables = aging(payables_owed(data.bills, on=today), as_of=today, currency=currency)
        now_facts = _facts(
            today, data.opening_balance, forecast, data.buffer, receivables, payables
        )
        before = _previous(history, now)
        before_facts = None
        if before is not None:
            then = before.created_at.date()
            before_facts = _facts(
                then,
                _cash_on(data, then),
                before.forecast,
                data.buffer,
                aging(receivables_owed(data.invoices, on=then), as_of=then, currency=currency),
                aging(payables_owed(data.bills, on=then), as_of=then, currency=currency),
            )
        elif week_ago >= min((t.posted_on for t in data.transactions), default=today):
            before_facts = Facts(
                on=week_ago,
                cash=_cash_on(data, week_ago),
                low_point=None,
                low_week_starts=None,
                breach_probability=None,
                buffer=data.buffer,
                runway_weeks=None,
                overdue_receivables=aging(
                    receivables_owed(data.invoices, on=week_ago), as_of=week_ago, currency=currency
                ).overdue,
                overdue_payables=aging(
                    payables_owed(data.bills, on=week_ago), as_of=week_ago, currency=currency
                ).overdue,
            )
        overdue = sorted(
            (
                Owed(customers.get(i.customer_id, i.customer_id), i.balance, i.due_date, late)
                for i in data.invoices
                if i.status in (InvoiceStatus.OPEN, InvoiceStatus.DISPUTED)
                and (late := (today - i.due_date).days) > 0
                and not i.balance.is_zero
            ),
            key=lambda o: (-o.amount.amount_minor, o.counterparty),
        )
        horizon = today + timedelta(days=UPCOMING_DAYS)
        upcoming = sorted(
            (
                Owed(
                    vendors.get(b.vendor_id, b.vendor_id),
                    b.balance,
                    b.due_date,
                    (today - b.due_date).days if b.due_date else 0,
                )
                for b in data.bills
                if b.status is BillStatus.OPEN
                and not b.balance.is_zero
                and (b.due_date is None or b.due_date <= horizon)
            ),
            key=lambda o: (o.due or today, o.counterparty),
        )
        return Digest(
            business=scoped.business,
            today=today,
            cash=data.opening_balance,
            cash_as_of=min((b.as_of for b in balances), default=None),
            runway=runway(data.opening_balance, data.transactions, today=today),
            buffer=data.buffer,
            forecast=forecast,
            forecast_made_at=latest.created_at if latest is not None else None,
            scenarios=tuple(
                ScenarioSummary(
                    s.name,
                    s.description,
                    run.forecast if run is not None else None,
                    run.created_at if run is not None else None,
                )
                for s, run in zip(scenarios, runs, strict=True)
            ),
            receivables=receivables,
            payables=payables,
            overdue_invoices=tuple(overdue[:8]),
            upcoming_bills=tuple(upcoming[:8]),
            collections=collections,
            insights=tuple(insights(now_facts, before_facts)),
            trend=tuple(
                TrendPoint(s.created_at.date(), s.forecast.low_point, runway_weeks(s.forecast))
                for s in _one_a_day(history)
            ),
            runway_trend=tuple(runway_trend(data.opening_balance, data.transactions, today=today)),
        )


def _facts(
    on: date,
    cash: Money,
    forecast: Forecast | None,
    buffer: Money | None,
    receivables: Aging,
    payables: Aging,
) -> Facts:
    if forecast is None:
        return Facts(
            on, cash, None, None, None, buffer, None, receivables.overdue, payables.overdue
        )
    low_week = next(w for w in forecast.weeks if w.week == forecast.low_week)
    return Facts(
        on=on,
        cash=cash,
        low_point=forecast.low_point,
        low_week_starts=low_week.starts_on,
        breach_probability=max((w.breach_probability for w in forecast.weeks), default=0.0),
        buffer=buffer,
        runway_weeks=runway_weeks(forecast),
        overdue_receivables=receivables.overdue,
        overdue_payables=payables.overdue,
    )


def _previous(history: Sequence[ForecastSnapshot], now: datetime) -> ForecastSnapshot | None:
    """The newest baseline forecast made at least six days ago (last week's view)."""
    cutoff = now - timedelta(days=6)
    older = [s for s in history if s.created_at <= cutoff and s.scenario is None]
    return older[-1] if older else None


def _one_a_day(history: Sequence[ForecastSnapshot]) -> list[ForecastSnapshot]:
    """The last baseline snapshot of each day, oldest first."""
    by_day: dict[date, ForecastSnapshot] = {}
    for snapshot in history:
        if snapshot.scenario is None:
            by_day[snapshot.created_at.date()] = snapshot
    return [by_day[d] for d in sorted(by_day)]


def _cash_on(data: ForecastInput, on: date) -> Money:
    """Today's cash walked back through the bank lines posted after `on`."""
    later = sum(
        t.amount.amount_minor
        for t in data.transactions
        if not t.pending and t.posted_on > on and t.amount.currency == data.currency
    )
    # Bank sign: positive is money out, so money that left since was still there then.
    return Money(data.opening_balance.amount_minor + later, data.currency)
