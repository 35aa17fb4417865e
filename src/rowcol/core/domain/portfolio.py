"""The portfolio console: one row per client, scored for risk with the reasons named,
then sorted, filtered, searched and paged.

A console ranks every client of an advisor (a thousand, say) and shows a page of them.
Ranking reads each client's `ClientSignals`, a flat record of the numbers the rules
need; only the clients a page shows are turned into full `ClientFacts` and an
`Assessment` with its reasons in words.

Scores are whole points. Each factor's points only grow as its fact gets worse, so a
client that is worse on any fact never ranks below the same client without it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Final, NamedTuple

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


def level_of(score: int) -> RiskLevel:
    if score >= AT_RISK_POINTS:
        return RiskLevel.AT_RISK
    return RiskLevel.WATCH if score >= WATCH_POINTS else RiskLevel.CALM


class ClientSignals(NamedTuple):
    """The numbers a client is scored, sorted, filtered and totalled by, flat so that
    ranking a thousand clients stays cheap. `detail` gives the client's full facts; a
    console asks for it only for the rows it shows.

    `signals_of(facts)` derives them from facts; a read model may read them straight
    from storage, and must then agree with `signals_of(detail())` on every field but
    `detail` (`numbers` compares them).

    A named tuple rather than a frozen dataclass: it is as immutable and a few times
    cheaper to build, which a thousand rows per request notice."""

    business_id: BusinessId
    name: str
    cash_minor: int
    """In the business's currency."""
    cash_as_of: datetime | None
    breach_probability: float | None
    """None without a forecast."""
    low_point_minor: int | None
    """None without a forecast."""
    buffer_minor: int | None
    """None without a buffer, or when it is not in the low point's currency."""
    runway_weeks: int | None
    """None without a forecast, or when no week's P50 falls below zero."""
    awaiting_approval: int
    stuck_payments: int
    overdue_invoices: int
    overdue_minor: int
    critical_issues: int
    open_issues: int
    """Open hygiene issues of every severity."""
    rails_failing: int
    rails_needing_attention: int
    detail: Callable[[], ClientFacts]

    @property
    def numbers(self) -> tuple[Any, ...]:
        """Every field but `detail`."""
        return self[:-1]

    @property
    def headroom_minor(self) -> int | None:
        if self.low_point_minor is None or self.buffer_minor is None:
            return None
        return self.low_point_minor - self.buffer_minor

    @property
    def bad_rails(self) -> int:
        return self.rails_failing + self.rails_needing_attention


def signals_of(facts: ClientFacts) -> ClientSignals:
    summary = facts.forecast
    buffer = facts.buffer
    comparable = (
        summary is not None and buffer is not None and buffer.currency == summary.low_point.currency
    )
    hygiene = facts.hygiene or {}
    statuses = [r.status for r in facts.rails]
    return ClientSignals(
        business_id=facts.business_id,
        name=facts.name,
        cash_minor=facts.cash.amount_minor,
        cash_as_of=facts.cash_as_of,
        breach_probability=None if summary is None else summary.breach_probability,
        low_point_minor=None if summary is None else summary.low_point.amount_minor,
        buffer_minor=buffer.amount_minor if comparable and buffer is not None else None,
        runway_weeks=None if summary is None else summary.runway_weeks,
        awaiting_approval=facts.awaiting_approval,
        stuck_payments=facts.stuck_payments,
        overdue_invoices=facts.overdue_invoices,
        overdue_minor=0
        if facts.overdue_receivables is None
        else facts.overdue_receivables.amount_minor,
        critical_issues=hygiene.get(CRITICAL, 0),
        open_issues=sum(hygiene.values()),
        rails_failing=statuses.count(ConnectionStatus.FAILING),
        rails_needing_attention=statuses.count(ConnectionStatus.NEEDS_ATTENTION),
        detail=lambda: facts,
    )


def _stale_points(days: int) -> int:
    return 3 + min(days, 14) // 2


def _cash_age(signals: ClientSignals, now: datetime) -> int | None:
    if signals.cash_as_of is None:
        return None
    return max(0, int((now - signals.cash_as_of).total_seconds()))


def _factors(s: ClientSignals, age: int | None) -> list[tuple[Factor, int, int]]:
    """Each factor that scores: its points and what its words need beyond the facts (the
    days a stale balance has aged; -1: no balance at all). The one place the rules live."""
    found: list[tuple[Factor, int, int]] = []
    breach = s.breach_probability
    if breach:
        found.append((Factor.BREACH, round(breach * 50), 0))
    low, buffer = s.low_point_minor, s.buffer_minor
    if low is not None and buffer is not None and low < buffer:
        found.append((Factor.LOW_POINT, 10 + min(20, (buffer - low) * 20 // max(buffer, 1)), 0))
    if s.runway_weeks is not None:
        found.append((Factor.RUNWAY, 12 + 2 * max(0, 13 - s.runway_weeks), 0))
    if s.stuck_payments:
        found.append((Factor.STUCK_PAYMENTS, 6 * min(s.stuck_payments, 5), 0))
    if s.critical_issues > 0:
        found.append((Factor.CRITICAL_HYGIENE, 4 * min(s.critical_issues, 5), 0))
    if age is None:
        # As bad as the stalest balance: nothing says what is in the bank.
        found.append((Factor.STALE_CASH, _stale_points(10**6), -1))
    elif age // 3600 > STALE_CASH_HOURS:
        days = age // 86400
        found.append((Factor.STALE_CASH, _stale_points(days), days))
    if s.rails_failing or s.rails_needing_attention:
        points = 7 * s.rails_needing_attention + 5 * s.rails_failing
        found.append((Factor.FAILING_RAILS, points, 0))
    if s.overdue_invoices:
        found.append((Factor.OVERDUE_RECEIVABLES, 1 + min(s.overdue_invoices, 10) // 2, 0))
    return found


@dataclass(frozen=True, slots=True)
class Triage:
    """A client's score, without the words: what ranking, filters and totals need."""

    signals: ClientSignals
    score: int
    cash_age_seconds: int | None
    """Now minus the oldest latest balance; None without a balance."""

    @property
    def level(self) -> RiskLevel:
        return level_of(self.score)


def triage(signals: ClientSignals, *, now: datetime) -> Triage:
    """Scores one client; pure: the same signals and `now` give the same score."""
    age = _cash_age(signals, now)
    score = 0
    for _, points, _ in _factors(signals, age):
        if points > 0:
            score += points
    return Triage(signals, score, age)


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
        return level_of(self.score)

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


def appraise(scored: Triage) -> Assessment:
    """A scored client with its full facts and its reasons, most points first: for the
    rows a console shows. The score is the triage's, so what is shown is what ranked."""
    facts = scored.signals.detail()
    reasons = [
        Reason(factor, points, facts, detail)
        for factor, points, detail in _factors(scored.signals, scored.cash_age_seconds)
        if points > 0
    ]
    reasons.sort(key=lambda r: (-r.points, _FACTOR_ORDER[r.factor]))
    return Assessment(facts, scored.score, tuple(reasons), scored.cash_age_seconds)


def assess(facts: ClientFacts, *, now: datetime) -> Assessment:
    """Scores one client with its reasons; pure: the same facts and `now` give the same
    assessment."""
    return appraise(triage(signals_of(facts), now=now))


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


def rank(scored: Sequence[Triage]) -> list[Triage]:
    """Riskiest first; ties by name, then business id, so the order is total."""
    return sorted(scored, key=lambda t: (-t.score, t.signals.name, t.signals.business_id))


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


def _or_big(value: int | None) -> int:
    return _BIG if value is None else value


_SORT_VALUES: Final[dict[SortKey, Callable[[Triage], tuple[Any, ...]]]] = {
    SortKey.RISK: lambda t: (t.score,),
    SortKey.NAME: lambda t: (t.signals.name.casefold(),),
    SortKey.CASH: lambda t: (t.signals.cash_minor,),
    SortKey.CASH_AGE: lambda t: (_or_big(t.cash_age_seconds),),
    SortKey.RUNWAY: lambda t: (_or_big(t.signals.runway_weeks),),
    SortKey.HEADROOM: lambda t: (_or_big(t.signals.headroom_minor),),
    SortKey.BREACH: lambda t: (round((t.signals.breach_probability or 0.0) * 1_000_000),),
    SortKey.HYGIENE: lambda t: (t.signals.critical_issues, t.signals.open_issues),
    SortKey.AWAITING: lambda t: (t.signals.awaiting_approval,),
    SortKey.STUCK: lambda t: (t.signals.stuck_payments,),
    SortKey.OVERDUE: lambda t: (t.signals.overdue_invoices, t.signals.overdue_minor),
    SortKey.RAILS: lambda t: (t.signals.bad_rails,),
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

_FILTERS: Final[dict[Filter, Callable[[Triage], bool]]] = {
    Filter.AT_RISK: lambda t: t.score >= AT_RISK_POINTS,
    Filter.STUCK: lambda t: t.signals.stuck_payments > 0,
    Filter.RAIL_FAILING: lambda t: t.signals.bad_rails > 0,
    Filter.AWAITING: lambda t: t.signals.awaiting_approval > 0,
    Filter.OVERDUE: lambda t: t.signals.overdue_invoices > 0,
    Filter.HYGIENE: lambda t: t.signals.open_issues > 0,
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


def totals(scored: Sequence[Triage]) -> Totals:
    at_risk = watch = awaiting = stuck = failing = overdue = critical = 0
    for t in scored:
        s = t.signals
        if t.score >= AT_RISK_POINTS:
            at_risk += 1
        elif t.score >= WATCH_POINTS:
            watch += 1
        awaiting += s.awaiting_approval
        stuck += s.stuck_payments
        failing += 1 if s.rails_failing or s.rails_needing_attention else 0
        overdue += s.overdue_invoices
        critical += s.critical_issues
    return Totals(len(scored), at_risk, watch, awaiting, stuck, failing, overdue, critical)


def console_page(scored: Sequence[Triage], query: ConsoleQuery) -> ConsolePage:
    """Filters, searches (client name, case-blind), sorts and pages the scored clients,
    then appraises the page's rows (full facts and reasons for those only).

    Within equal values the risk order decides, so every sort is total and stable."""
    ranked = rank(scored)
    needle = query.search.casefold()
    tests = [_FILTERS[f] for f in query.filters]
    chosen = [
        t
        for t in ranked
        if all(test(t) for test in tests) and (not needle or needle in t.signals.name.casefold())
    ]
    if query.sort is not SortKey.RISK:
        chosen.sort(key=_SORT_VALUES[query.sort], reverse=query.is_descending)
    elif not query.is_descending:
        chosen.reverse()
    pages = max(1, -(-len(chosen) // query.per_page))
    page = min(query.page, pages)
    start = (page - 1) * query.per_page
    return ConsolePage(
        rows=tuple(appraise(t) for t in chosen[start : start + query.per_page]),
        matched=len(chosen),
        page=page,
        pages=pages,
        totals=totals(scored),
        query=query,
    )
