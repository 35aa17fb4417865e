"""The portfolio console: one row of facts per client, scored for risk with the reasons
named, then sorted, filtered, searched and paged.

Scores are whole points. Each factor's points only grow as its fact gets worse, so a
client that is worse on any fact never ranks below the same client without it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from rowcol.core.domain.connections import ConnectionStatus
from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.forecast import Forecast
from rowcol.core.domain.ids import BusinessId, Rail
from rowcol.core.domain.money import Money
from rowcol.core.domain.payments import VerificationDeadlines, VerificationStep

STALE_CASH_HOURS: Final = 48
"""A balance older than two days no longer says what is in the bank today."""
CRITICAL: Final = "critical"
"""The hygiene severity that counts toward risk on its own."""


@dataclass(frozen=True, slots=True)
class ForecastSummary:
    """What the console reads from a forecast, kept beside each snapshot."""

    low_point: Money
    low_week: int
    breach_probability: float
    """The highest weekly chance of closing below the buffer (0.0 without one)."""
    breach_week: int
    """The first week with that chance."""
    runway_weeks: int | None
    """Whole weeks before the first P50 closing below zero; None if none falls below."""
    horizon_weeks: int


def late_cutoff(today: date, step: VerificationStep, deadlines: VerificationDeadlines) -> date:
    """A submitted payment waiting for `step` is late today when it started (the later of
    its pay-on and submission days) on or before this day: the deadline runs from the end
    of that day, counted in whole days."""
    days = math.ceil(deadlines.for_step(step) / timedelta(days=1))
    return today - timedelta(days=1 + days)


def summarize(forecast: Forecast) -> ForecastSummary:
    weeks = forecast.weeks
    if not weeks:
        raise InvalidInput("a forecast without weeks has nothing to summarize")
    worst = max(weeks, key=lambda w: (w.breach_probability, -w.week))
    return ForecastSummary(
        low_point=forecast.low_point,
        low_week=forecast.low_week,
        breach_probability=round(worst.breach_probability, 6),
        breach_week=worst.week,
        runway_weeks=next((w.week - 1 for w in weeks if w.p50.is_negative), None),
        horizon_weeks=len(weeks),
    )


@dataclass(frozen=True, slots=True)
class RailHealth:
    rail: Rail
    status: ConnectionStatus
    last_synced_at: datetime | None


@dataclass(frozen=True, slots=True)
class ClientFacts:
    """Everything the console shows about one client, as storage holds it."""

    business_id: BusinessId
    name: str
    currency: str
    cash: Money
    """Sum of each account's latest balance in the business's currency."""
    cash_as_of: datetime | None
    """The oldest of those latest balances; None when there is none."""
    forecast_as_of: date | None = None
    forecast: ForecastSummary | None = None
    buffer: Money | None = None
    """The buffer the forecast was measured against."""
    awaiting_approval: int = 0
    """Payments prepared and not yet approved."""
    stuck_payments: int = 0
    """Stuck, or submitted and past the deadline of their next confirmation."""
    overdue_invoices: int = 0
    overdue_receivables: Money | None = None
    rails: tuple[RailHealth, ...] = ()
    hygiene: Mapping[str, int] | None = None
    """Open hygiene issues by severity; None when they are not known."""

    def __post_init__(self) -> None:
        for count in (self.awaiting_approval, self.stuck_payments, self.overdue_invoices):
            if count < 0:
                raise InvalidInput("counts may not be negative")


class Factor(StrEnum):
    """What makes a client risky, in the order ties between equal points break."""

    BREACH = "breach"
    LOW_POINT = "low_point"
    RUNWAY = "runway"
    STUCK_PAYMENTS = "stuck_payments"
    CRITICAL_HYGIENE = "critical_hygiene"
    STALE_CASH = "stale_cash"
    FAILING_RAILS = "failing_rails"
    OVERDUE_RECEIVABLES = "overdue_receivables"


_FACTOR_ORDER: Final = {f: i for i, f in enumerate(Factor)}


class RiskLevel(StrEnum):
    CALM = "calm"
    WATCH = "watch"
    AT_RISK = "at_risk"


AT_RISK_POINTS: Final = 30
WATCH_POINTS: Final = 8


@dataclass(frozen=True, slots=True)
class Reason:
    factor: Factor
    points: int
    facts: ClientFacts = field(repr=False, compare=False)
    detail: int = 0
    """What the words need beyond the facts (the days a stale balance has aged)."""

    @property
    def text(self) -> str:
        """The reason in plain words, written when asked: a console ranks a thousand
        clients and shows the words of a page of them."""
        return _describe(self)


@dataclass(frozen=True, slots=True)
class Assessment:
    facts: ClientFacts
    score: int
    reasons: tuple[Reason, ...]
    """Every factor that scored, most points first."""

    @property
    def level(self) -> RiskLevel:
        if self.score >= AT_RISK_POINTS:
            return RiskLevel.AT_RISK
        return RiskLevel.WATCH if self.score >= WATCH_POINTS else RiskLevel.CALM

    @property
    def reason(self) -> str:
        """The main reasons in plain words (the top two)."""
        if not self.reasons:
            return "Nothing needs attention"
        return "; ".join(r.text for r in self.reasons[:2])

    cash_age_seconds: int | None = None
    """Now minus the oldest latest balance; None without a balance."""

    @property
    def failing_rails(self) -> int:
        return sum(1 for r in self.facts.rails if r.status in _BAD_RAIL)

    @property
    def critical_issues(self) -> int:
        return (self.facts.hygiene or {}).get(CRITICAL, 0)

    @property
    def headroom(self) -> Money | None:
        """Forecast low point minus buffer (negative: below the buffer)."""
        f = self.facts
        if f.forecast is None or f.buffer is None:
            return None
        if f.buffer.currency != f.forecast.low_point.currency:
            return None
        return f.forecast.low_point - f.buffer


_BAD_RAIL: Final = frozenset({ConnectionStatus.FAILING, ConnectionStatus.NEEDS_ATTENTION})
_RAIL_WORDS: Final = {
    ConnectionStatus.FAILING: "sync failing",
    ConnectionStatus.NEEDS_ATTENTION: "needs attention",
}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _stale_points(days: int) -> int:
    return 3 + min(days, 14) // 2


def assess(facts: ClientFacts, *, now: datetime) -> Assessment:
    """Scores one client; pure: the same facts and `now` give the same assessment."""
    reasons: list[Reason] = []
    summary = facts.forecast
    buffer = facts.buffer
    if summary is not None and summary.breach_probability > 0:
        reasons.append(Reason(Factor.BREACH, round(summary.breach_probability * 50), facts))
    if (
        summary is not None
        and buffer is not None
        and buffer.currency == summary.low_point.currency
        and summary.low_point < buffer
    ):
        short = buffer.amount_minor - summary.low_point.amount_minor
        scale = max(buffer.amount_minor, 1)
        reasons.append(Reason(Factor.LOW_POINT, 10 + min(20, short * 20 // scale), facts))
    if summary is not None and summary.runway_weeks is not None:
        points = 12 + 2 * max(0, 13 - summary.runway_weeks)
        reasons.append(Reason(Factor.RUNWAY, points, facts))
    if facts.stuck_payments:
        reasons.append(Reason(Factor.STUCK_PAYMENTS, 6 * min(facts.stuck_payments, 5), facts))
    critical = (facts.hygiene or {}).get(CRITICAL, 0)
    if critical > 0:
        reasons.append(Reason(Factor.CRITICAL_HYGIENE, 4 * min(critical, 5), facts))
    age: int | None = None
    if facts.cash_as_of is None:
        # As bad as the stalest balance: nothing says what is in the bank.
        reasons.append(Reason(Factor.STALE_CASH, _stale_points(10**6), facts, -1))
    else:
        age = max(0, int((now - facts.cash_as_of).total_seconds()))
        hours = age // 3600
        if hours > STALE_CASH_HOURS:
            days = hours // 24
            reasons.append(Reason(Factor.STALE_CASH, _stale_points(days), facts, days))
    bad = [r for r in facts.rails if r.status in _BAD_RAIL]
    if bad:
        points = sum(7 if r.status is ConnectionStatus.NEEDS_ATTENTION else 5 for r in bad)
        reasons.append(Reason(Factor.FAILING_RAILS, points, facts))
    if facts.overdue_invoices:
        points = 1 + min(facts.overdue_invoices, 10) // 2
        reasons.append(Reason(Factor.OVERDUE_RECEIVABLES, points, facts))
    reasons = [r for r in reasons if r.points > 0]
    reasons.sort(key=lambda r: (-r.points, _FACTOR_ORDER[r.factor]))
    return Assessment(facts, sum(r.points for r in reasons), tuple(reasons), age)


def _describe(reason: Reason) -> str:
    facts = reason.facts
    summary = facts.forecast
    buffer = facts.buffer
    factor = reason.factor
    if factor is Factor.BREACH and summary is not None:
        pct = round(summary.breach_probability * 100)
        where = f"the {buffer.format()} buffer" if buffer is not None else "its buffer"
        return f"{max(pct, 1)}% chance of going below {where} in week {summary.breach_week}"
    if factor is Factor.LOW_POINT and summary is not None and buffer is not None:
        short = Money(buffer.amount_minor - summary.low_point.amount_minor, buffer.currency)
        return (
            f"forecast low point {summary.low_point.format()} in week {summary.low_week}, "
            f"{short.format()} under the buffer"
        )
    if factor is Factor.RUNWAY and summary is not None and summary.runway_weeks is not None:
        weeks = summary.runway_weeks
        if weeks == 0:
            return "cash runs out this week"
        return f"cash runs out after {_plural(weeks, 'week')}"
    if factor is Factor.STUCK_PAYMENTS:
        return f"{_plural(facts.stuck_payments, 'payment')} stuck in verification"
    if factor is Factor.CRITICAL_HYGIENE:
        critical = (facts.hygiene or {}).get(CRITICAL, 0)
        return f"{_plural(critical, 'critical data issue')} open"
    if factor is Factor.STALE_CASH:
        if reason.detail < 0:
            return "no bank balance yet"
        return f"bank balance is {_plural(reason.detail, 'day')} old"
    if factor is Factor.FAILING_RAILS:
        bad = sorted((r for r in facts.rails if r.status in _BAD_RAIL), key=lambda r: r.rail.value)
        return ", ".join(f"{r.rail.value.upper()} {_RAIL_WORDS[r.status]}" for r in bad)
    owed = facts.overdue_receivables
    return f"{_plural(facts.overdue_invoices, 'overdue invoice')}" + (
        f" ({owed.format()})" if owed is not None else ""
    )


def rank(assessments: Sequence[Assessment]) -> list[Assessment]:
    """Riskiest first; ties by name, then business id, so the order is total."""
    return sorted(assessments, key=lambda a: (-a.score, a.facts.name, a.facts.business_id))


# Sorting, filtering and paging -------------------------------------------------------------


class SortKey(StrEnum):
    RISK = "risk"
    NAME = "name"
    CASH = "cash"
    CASH_AGE = "cash_age"
    RUNWAY = "runway"
    HEADROOM = "headroom"
    BREACH = "breach"
    HYGIENE = "hygiene"
    AWAITING = "awaiting"
    STUCK = "stuck"
    OVERDUE = "overdue"
    RAILS = "rails"


class Filter(StrEnum):
    AT_RISK = "at_risk"
    STUCK = "stuck"
    RAIL_FAILING = "rail_failing"
    AWAITING = "awaiting"
    OVERDUE = "overdue"
    HYGIENE = "hygiene"


_BIG: Final = 10**18

_SORT_VALUES: Final[dict[SortKey, Callable[[Assessment], tuple[Any, ...]]]] = {
    SortKey.RISK: lambda a: (a.score,),
    SortKey.NAME: lambda a: (a.facts.name.casefold(),),
    SortKey.CASH: lambda a: (a.facts.cash.amount_minor,),
    SortKey.CASH_AGE: lambda a: (_BIG if a.cash_age_seconds is None else a.cash_age_seconds,),
    SortKey.RUNWAY: lambda a: (
        _BIG
        if a.facts.forecast is None or a.facts.forecast.runway_weeks is None
        else a.facts.forecast.runway_weeks,
    ),
    SortKey.HEADROOM: lambda a: (_BIG if a.headroom is None else a.headroom.amount_minor,),
    SortKey.BREACH: lambda a: (
        round((a.facts.forecast.breach_probability if a.facts.forecast else 0.0) * 1_000_000),
    ),
    SortKey.HYGIENE: lambda a: (a.critical_issues, sum((a.facts.hygiene or {}).values())),
    SortKey.AWAITING: lambda a: (a.facts.awaiting_approval,),
    SortKey.STUCK: lambda a: (a.facts.stuck_payments,),
    SortKey.OVERDUE: lambda a: (
        a.facts.overdue_invoices,
        a.facts.overdue_receivables.amount_minor if a.facts.overdue_receivables else 0,
    ),
    SortKey.RAILS: lambda a: (a.failing_rails,),
}

DEFAULT_DESCENDING: Final = frozenset(
    {
        SortKey.RISK,
        SortKey.CASH_AGE,
        SortKey.BREACH,
        SortKey.HYGIENE,
        SortKey.AWAITING,
        SortKey.STUCK,
        SortKey.OVERDUE,
        SortKey.RAILS,
    }
)
"""Columns whose natural order puts the worst first."""

_FILTERS: Final[dict[Filter, Callable[[Assessment], bool]]] = {
    Filter.AT_RISK: lambda a: a.level is RiskLevel.AT_RISK,
    Filter.STUCK: lambda a: a.facts.stuck_payments > 0,
    Filter.RAIL_FAILING: lambda a: a.failing_rails > 0,
    Filter.AWAITING: lambda a: a.facts.awaiting_approval > 0,
    Filter.OVERDUE: lambda a: a.facts.overdue_invoices > 0,
    Filter.HYGIENE: lambda a: sum((a.facts.hygiene or {}).values()) > 0,
}

MAX_PER_PAGE: Final = 200


@dataclass(frozen=True, slots=True)
class ConsoleQuery:
    sort: SortKey = SortKey.RISK
    descending: bool | None = None
    """None: the column's natural direction (worst first where there is a worst)."""
    filters: frozenset[Filter] = frozenset()
    search: str = ""
    page: int = 1
    per_page: int = 50

    def __post_init__(self) -> None:
        object.__setattr__(self, "sort", SortKey(self.sort))
        object.__setattr__(self, "filters", frozenset(Filter(f) for f in self.filters))
        object.__setattr__(self, "search", " ".join(self.search.split())[:100])
        if self.page < 1:
            raise InvalidInput("page starts at 1")
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise InvalidInput(f"per_page must be 1-{MAX_PER_PAGE}")

    @property
    def is_descending(self) -> bool:
        return self.sort in DEFAULT_DESCENDING if self.descending is None else self.descending


@dataclass(frozen=True, slots=True)
class Totals:
    clients: int
    at_risk: int
    watch: int
    awaiting_approval: int
    stuck_payments: int
    failing_rails: int
    overdue_invoices: int
    critical_issues: int


@dataclass(frozen=True, slots=True)
class ConsolePage:
    rows: tuple[Assessment, ...]
    matched: int
    """Rows that pass the filters and the search, over every page."""
    page: int
    pages: int
    totals: Totals
    """Over every client of the advisor, whatever the filters."""
    query: ConsoleQuery


def totals(assessments: Sequence[Assessment]) -> Totals:
    return Totals(
        clients=len(assessments),
        at_risk=sum(1 for a in assessments if a.level is RiskLevel.AT_RISK),
        watch=sum(1 for a in assessments if a.level is RiskLevel.WATCH),
        awaiting_approval=sum(a.facts.awaiting_approval for a in assessments),
        stuck_payments=sum(a.facts.stuck_payments for a in assessments),
        failing_rails=sum(1 for a in assessments if a.failing_rails),
        overdue_invoices=sum(a.facts.overdue_invoices for a in assessments),
        critical_issues=sum(a.critical_issues for a in assessments),
    )


def console_page(assessments: Sequence[Assessment], query: ConsoleQuery) -> ConsolePage:
    """Filters, searches (client name, case-blind), sorts and pages the assessed rows.

    Within equal values the risk order decides, so every sort is total and stable."""
    ranked = rank(assessments)
    needle = query.search.casefold()
    chosen = [
        a
        for a in ranked
        if all(_FILTERS[f](a) for f in query.filters)
        and (not needle or needle in a.facts.name.casefold())
    ]
    if query.sort is not SortKey.RISK:
        chosen.sort(key=_SORT_VALUES[query.sort], reverse=query.is_descending)
    elif not query.is_descending:
        chosen.reverse()
    pages = max(1, -(-len(chosen) // query.per_page))
    page = min(query.page, pages)
    start = (page - 1) * query.per_page
    return ConsolePage(
        rows=tuple(chosen[start : start + query.per_page]),
        matched=len(chosen),
        page=page,
        pages=pages,
        totals=totals(assessments),
        query=query,
    )
