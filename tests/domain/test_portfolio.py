"""Portfolio risk: worse facts never rank lower, the reason names the top factor, the
order is total and stable, and the console's sorting, filters and pages hold together."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rowcol.core.domain.connections import ConnectionStatus
from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.forecast import Forecast, WeekForecast
from rowcol.core.domain.ids import BusinessId, Rail
from rowcol.core.domain.money import Money
from rowcol.core.domain.payments import VerificationDeadlines, VerificationStep
from rowcol.core.domain.portfolio import (
    Assessment,
    ClientFacts,
    ConsoleQuery,
    Factor,
    Filter,
    ForecastSummary,
    RailHealth,
    RiskLevel,
    SortKey,
    Triage,
    assess,
    console_page,
    late_cutoff,
    rank,
    signals_of,
    summarize,
    triage,
)

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def usd(minor: int) -> Money:
    return Money(minor, "USD")


summaries = st.builds(
    ForecastSummary,
    low_point=st.integers(-5_000_000, 5_000_000).map(usd),
    low_week=st.integers(1, 13),
    breach_probability=st.integers(0, 1000).map(lambda n: n / 1000),
    breach_week=st.integers(1, 13),
    runway_weeks=st.none() | st.integers(0, 12),
    horizon_weeks=st.just(13),
)
rails = st.lists(
    st.builds(
        RailHealth,
        rail=st.sampled_from([Rail.QBO, Rail.PLAID, Rail.RAMP, Rail.STRIPE]),
        status=st.sampled_from(list(ConnectionStatus)),
        last_synced_at=st.none() | st.just(NOW - timedelta(hours=2)),
    ),
    max_size=4,
    unique_by=lambda r: r.rail,
).map(tuple)
facts = st.builds(
    ClientFacts,
    business_id=st.text("abcdef", min_size=1, max_size=6).map(lambda s: BusinessId(f"biz-{s}")),
    name=st.sampled_from(["Acme", "Beta", "Gamma", "acme", "Delta"]),
    currency=st.just("USD"),
    cash=st.integers(-1_000_000, 10_000_000).map(usd),
    cash_as_of=st.none() | st.integers(0, 30 * 24).map(lambda h: NOW - timedelta(hours=h)),
    forecast_as_of=st.just(NOW.date()),
    forecast=st.none() | summaries,
    buffer=st.none() | st.integers(0, 3_000_000).map(usd),
    awaiting_approval=st.integers(0, 20),
    stuck_payments=st.integers(0, 10),
    overdue_invoices=st.integers(0, 30),
    overdue_receivables=st.none() | st.integers(0, 1_000_000).map(usd),
    rails=rails,
    hygiene=st.none()
    | st.dictionaries(st.sampled_from(["critical", "high", "low"]), st.integers(0, 9)),
)


def score(f: ClientFacts) -> int:
    return assess(f, now=NOW).score


def scored(f: ClientFacts) -> Triage:
    return triage(signals_of(f), now=NOW)


def _worse(f: ClientFacts, data: st.DataObject) -> ClientFacts:
    """The same client with one fact made worse (or equal)."""
    kind = data.draw(
        st.sampled_from(["breach", "low", "runway", "stuck", "hygiene", "stale", "rail", "overdue"])
    )
    summary = f.forecast
    if kind == "breach" and summary is not None:
        more = data.draw(st.integers(0, 1000)) / 1000
        summary = replace(summary, breach_probability=max(summary.breach_probability, more))
        return replace(f, forecast=summary)
    if kind == "low" and summary is not None:
        drop = data.draw(st.integers(0, 5_000_000))
        return replace(f, forecast=replace(summary, low_point=summary.low_point - usd(drop)))
    if kind == "runway" and summary is not None:
        weeks = data.draw(st.integers(0, 12))
        now_weeks = summary.runway_weeks
        shorter = weeks if now_weeks is None else min(weeks, now_weeks)
        return replace(f, forecast=replace(summary, runway_weeks=shorter))
    if kind == "stuck":
        return replace(f, stuck_payments=f.stuck_payments + data.draw(st.integers(0, 5)))
    if kind == "hygiene":
        counts = dict(f.hygiene or {})
        counts["critical"] = counts.get("critical", 0) + data.draw(st.integers(0, 5))
        return replace(f, hygiene=counts)
    if kind == "stale" and f.cash_as_of is not None:
        older = f.cash_as_of - timedelta(hours=data.draw(st.integers(0, 400)))
        return replace(f, cash_as_of=data.draw(st.just(older) | st.none()))
    if kind == "rail" and f.rails:
        i = data.draw(st.integers(0, len(f.rails) - 1))
        status = data.draw(
            st.sampled_from([ConnectionStatus.FAILING, ConnectionStatus.NEEDS_ATTENTION])
        )
        old = f.rails[i]
        if old.status is ConnectionStatus.NEEDS_ATTENTION:
            status = ConnectionStatus.NEEDS_ATTENTION
        changed = list(f.rails)
        changed[i] = replace(old, status=status)
        return replace(f, rails=tuple(changed))
    if kind == "overdue":
        return replace(f, overdue_invoices=f.overdue_invoices + data.draw(st.integers(0, 5)))
    return f


@given(facts, st.data())
def test_a_client_worse_on_any_fact_never_scores_lower(f: ClientFacts, data: st.DataObject) -> None:
    worse = _worse(f, data)
    assert score(worse) >= score(f)


@given(facts, st.data())
def test_a_worse_client_never_ranks_below_the_same_client(
    f: ClientFacts, data: st.DataObject
) -> None:
    worse = replace(_worse(f, data), business_id=BusinessId("biz-worse"))
    ranked = rank([scored(f), scored(worse)])
    if score(worse) > score(f):
        assert ranked[0].signals.detail() is worse


@given(facts)
def test_the_reason_names_the_factor_with_the_most_points(f: ClientFacts) -> None:
    a = assess(f, now=NOW)
    assert a.score == sum(r.points for r in a.reasons)
    if a.reasons:
        top = max(r.points for r in a.reasons)
        assert a.reasons[0].points == top
        assert a.reason.startswith(a.reasons[0].text)
        assert all(r.points > 0 for r in a.reasons)
    else:
        assert a.score == 0
        assert a.reason == "Nothing needs attention"


@given(st.lists(facts, max_size=12, unique_by=lambda f: f.business_id), st.randoms())
def test_ranking_is_total_and_does_not_depend_on_input_order(
    rows: list[ClientFacts], rnd: random.Random
) -> None:
    assessed = [scored(f) for f in rows]
    shuffled = list(assessed)
    rnd.shuffle(shuffled)
    first = [t.signals.business_id for t in rank(assessed)]
    assert first == [t.signals.business_id for t in rank(shuffled)]
    assert sorted(first) == sorted(f.business_id for f in rows)
    scores = [a.score for a in rank(assessed)]
    assert scores == sorted(scores, reverse=True)


@given(
    st.lists(facts, max_size=25, unique_by=lambda f: f.business_id),
    st.sampled_from(list(SortKey)),
    st.none() | st.booleans(),
    st.frozensets(st.sampled_from(list(Filter)), max_size=2),
    st.integers(1, 7),
    st.randoms(),
)
def test_every_sort_pages_through_each_matching_client_once_whatever_the_input_order(
    rows: list[ClientFacts],
    key: SortKey,
    descending: bool | None,
    filters: frozenset[Filter],
    per_page: int,
    rnd: random.Random,
) -> None:
    assessed = [scored(f) for f in rows]
    shuffled = list(assessed)
    rnd.shuffle(shuffled)

    def walk(items: list[Triage]) -> list[str]:
        seen: list[str] = []
        page = 1
        while True:
            query = ConsoleQuery(
                sort=key, descending=descending, filters=filters, page=page, per_page=per_page
            )
            got = console_page(items, query)
            seen.extend(a.facts.business_id for a in got.rows)
            if page >= got.pages:
                return seen
            page += 1

    seen = walk(assessed)
    assert seen == walk(shuffled)
    first = console_page(assessed, ConsoleQuery(filters=filters))
    assert len(seen) == len(set(seen)) == first.matched
    assert first.totals.clients == len(rows)


_BY_FACTS: dict[SortKey, Callable[[Assessment], Any]] = {
    SortKey.RISK: lambda a: a.score,
    SortKey.NAME: lambda a: a.facts.name.casefold(),
    SortKey.CASH: lambda a: a.facts.cash.amount_minor,
    SortKey.CASH_AGE: lambda a: (
        float("inf") if a.facts.cash_as_of is None else -a.facts.cash_as_of.timestamp()
    ),
    SortKey.RUNWAY: lambda a: (
        float("inf")
        if a.facts.forecast is None or a.facts.forecast.runway_weeks is None
        else a.facts.forecast.runway_weeks
    ),
    SortKey.HEADROOM: lambda a: float("inf") if a.headroom is None else a.headroom.amount_minor,
    SortKey.BREACH: lambda a: a.facts.forecast.breach_probability if a.facts.forecast else 0.0,
    SortKey.HYGIENE: lambda a: (a.critical_issues, sum((a.facts.hygiene or {}).values())),
    SortKey.AWAITING: lambda a: a.facts.awaiting_approval,
    SortKey.STUCK: lambda a: a.facts.stuck_payments,
    SortKey.OVERDUE: lambda a: (
        a.facts.overdue_invoices,
        a.facts.overdue_receivables.amount_minor if a.facts.overdue_receivables else 0,
    ),
    SortKey.RAILS: lambda a: a.failing_rails,
}
"""Each column's value as a person reads it off the shown facts."""


@given(
    st.lists(facts, min_size=1, max_size=25, unique_by=lambda f: f.business_id),
    st.sampled_from(list(SortKey)),
    st.booleans(),
)
def test_a_sorted_page_is_in_the_order_of_the_facts_it_shows(
    rows: list[ClientFacts], key: SortKey, descending: bool
) -> None:
    """Ranking reads the flat signals; what a page shows comes from the full facts. The
    two agree: the shown column is in order, and each row's score is its own."""
    shown = console_page(
        [scored(f) for f in rows], ConsoleQuery(sort=key, descending=descending, per_page=200)
    ).rows
    values = [_BY_FACTS[key](a) for a in shown]
    assert values == sorted(values, reverse=descending)
    for a in shown:
        assert a == assess(a.facts, now=NOW)


def _facts(name: str, **change: object) -> ClientFacts:
    base = ClientFacts(
        business_id=BusinessId(f"biz-{name.lower()}"),
        name=name,
        currency="USD",
        cash=usd(5_000_000),
        cash_as_of=NOW - timedelta(hours=3),
    )
    return replace(base, **change)  # type: ignore[arg-type]


def test_the_reason_says_the_chance_the_buffer_and_the_week() -> None:
    f = _facts(
        "Acme",
        forecast=ForecastSummary(usd(2_500_000), 3, 0.62, 3, None, 13),
        buffer=usd(2_000_000),
    )
    a = assess(f, now=NOW)
    assert a.reasons[0].factor is Factor.BREACH
    assert a.reason.startswith("62% chance of going below the 20,000.00 USD buffer in week 3")
    assert a.level is RiskLevel.AT_RISK


def test_a_quiet_client_is_calm_with_nothing_to_say() -> None:
    rails = (RailHealth(Rail.QBO, ConnectionStatus.OK, NOW - timedelta(hours=1)),)
    a = assess(_facts("Calm", rails=rails, hygiene={}), now=NOW)
    assert (a.score, a.level, a.reason) == (0, RiskLevel.CALM, "Nothing needs attention")


def test_search_is_case_blind_and_filters_combine() -> None:
    rows = [
        scored(_facts("Acme Bakery", stuck_payments=1)),
        scored(_facts("Bakery Two")),
        scored(_facts("Zed", stuck_payments=2)),
    ]
    found = console_page(rows, ConsoleQuery(search="  BAKERY ", filters=frozenset({Filter.STUCK})))
    assert [a.facts.name for a in found.rows] == ["Acme Bakery"]
    by_name = console_page(rows, ConsoleQuery(sort=SortKey.NAME))
    assert [a.facts.name for a in by_name.rows] == ["Acme Bakery", "Bakery Two", "Zed"]
    backwards = console_page(rows, ConsoleQuery(sort=SortKey.NAME, descending=True))
    assert [a.facts.name for a in backwards.rows] == ["Zed", "Bakery Two", "Acme Bakery"]


def test_a_page_past_the_end_shows_the_last_page_and_bad_paging_is_refused() -> None:
    rows = [scored(_facts(f"C{i:02}")) for i in range(5)]
    last = console_page(rows, ConsoleQuery(sort=SortKey.NAME, page=9, per_page=2))
    assert (last.page, last.pages, [a.facts.name for a in last.rows]) == (3, 3, ["C04"])
    with pytest.raises(InvalidInput):
        ConsoleQuery(page=0)
    with pytest.raises(InvalidInput):
        ConsoleQuery(per_page=1000)


def _week(n: int, p50: int, breach: float) -> WeekForecast:
    start = date(2026, 11, 3) + timedelta(weeks=n - 1)
    m = usd(p50)
    return WeekForecast(
        n, start, start + timedelta(days=6), m, usd(0), usd(0), m, {}, m, m, m, breach
    )


def test_a_forecast_summary_takes_the_worst_week_and_the_first_below_zero() -> None:
    forecast = Forecast(
        BusinessId("biz-1"),
        date(2026, 11, 2),
        (_week(1, 500, 0.1), _week(2, -100, 0.7), _week(3, -300, 0.7), _week(4, 50, 0.2)),
        (),
    )
    s = summarize(forecast)
    assert (s.low_point, s.low_week) == (usd(-300), 3)
    assert (s.breach_probability, s.breach_week) == (0.7, 2)
    assert (s.runway_weeks, s.horizon_weeks) == (1, 4)


def test_a_payment_waiting_for_its_rail_is_late_two_days_after_it_started() -> None:
    deadlines = VerificationDeadlines()
    today = date(2026, 11, 10)
    assert late_cutoff(today, VerificationStep.RAIL, deadlines) == date(2026, 11, 8)
    assert late_cutoff(today, VerificationStep.BANK, deadlines) == date(2026, 11, 4)
    assert late_cutoff(today, VerificationStep.LEDGER, deadlines) == date(2026, 11, 2)
