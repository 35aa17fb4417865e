from __future__ import annotations

import math
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rowcol.core.domain.accuracy import ActualWeek, actual_weeks, evaluate, wape
from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.forecast import Forecast, WeekForecast
from rowcol.core.domain.ids import BankAccountId, BankTransactionId, BusinessId
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import BankTransaction

START = date(2025, 1, 6)
flows = st.lists(st.integers(min_value=0, max_value=10**8), min_size=1, max_size=30)


def usd(minor: int) -> Money:
    return Money(minor, "USD")


def forecast_of(
    actual: list[ActualWeek], *, shift: int = 0, band: int = 0, opening: int = 0
) -> Forecast:
    """A forecast that says what happened, moved by `shift` with a band of `band`."""
    weeks = []
    running = opening
    for n, week in enumerate(actual, start=1):
        inflows = week.inflows.amount_minor + shift
        outflows = week.outflows.amount_minor
        closing = running + inflows - outflows
        weeks.append(
            WeekForecast(
                week=n,
                starts_on=week.starts_on,
                ends_on=week.starts_on + timedelta(days=6),
                opening=usd(running),
                inflows=usd(inflows),
                outflows=usd(outflows),
                closing=usd(closing),
                by_category={},
                p10=usd(closing - band),
                p50=usd(closing),
                p90=usd(closing + band),
                breach_probability=0.0,
            )
        )
        running = closing
    return Forecast(BusinessId("b"), START - timedelta(days=1), tuple(weeks), ())


def weeks_of(ins: list[int], outs: list[int]) -> list[ActualWeek]:
    closing = 0
    out = []
    for n, (i, o) in enumerate(zip(ins, outs, strict=False)):
        closing += i - o
        out.append(ActualWeek(START + timedelta(days=7 * n), usd(i), usd(o), usd(closing)))
    return out


@given(flows)
def test_a_perfect_forecast_has_no_error(actual: list[int]) -> None:
    assert wape(actual, actual) == 0.0


@given(flows, st.integers(min_value=1, max_value=10**6))
def test_wape_is_the_absolute_error_over_the_absolute_actual(actual: list[int], shift: int) -> None:
    if sum(actual) == 0:
        actual[0] = 1
    assert wape([a + shift for a in actual], actual) == pytest.approx(
        shift * len(actual) / sum(actual)
    )


def test_wape_of_nothing_is_zero_for_nothing_and_infinite_otherwise() -> None:
    assert wape([0, 0], [0, 0]) == 0.0
    assert math.isinf(wape([1, 0], [0, 0]))
    with pytest.raises(InvalidInput):
        wape([1], [1, 2])


@given(st.lists(st.integers(0, 10**7), min_size=13, max_size=13), st.integers(0, 10**7))
def test_a_perfect_forecast_scores_one_and_covers_every_week(ins: list[int], out: int) -> None:
    actual = weeks_of(ins, [out] * 13)
    results = evaluate(
        [forecast_of(actual)], {a.starts_on: a for a in actual}, typical_weekly_outflow=usd(100)
    )
    assert [r.horizon for r in results] == ["1-4", "5-8", "9-13"]
    assert [r.weeks for r in results] == [4, 4, 5]
    for result in results:
        assert result.inflow_accuracy == 1.0 or sum(ins) == 0
        assert result.outflow_accuracy == 1.0 or out == 0
        assert result.closing_error == 0.0
        assert result.coverage == 1.0


@given(st.integers(1, 10**6), st.integers(0, 10**6))
def test_coverage_counts_the_weeks_whose_actual_lies_inside_the_band(shift: int, band: int) -> None:
    actual = weeks_of([1_000_000] * 13, [500_000] * 13)
    forecast = forecast_of(actual, shift=shift, band=band)
    results = evaluate([forecast], {a.starts_on: a for a in actual}, typical_weekly_outflow=usd(1))
    # The closing error grows by `shift` each week; it is covered while within the band.
    for result, weeks in zip(results, ((1, 4), (5, 8), (9, 13)), strict=True):
        inside = sum(1 for n in range(weeks[0], weeks[1] + 1) if n * shift <= band)
        assert result.coverage == inside / (weeks[1] - weeks[0] + 1)
        assert result.inflow_accuracy == pytest.approx(1 - shift / 1_000_000)
        assert result.closing_error == pytest.approx(
            sum(range(weeks[0], weeks[1] + 1)) * shift / (weeks[1] - weeks[0] + 1)
        )


def test_evaluate_pools_forecasts_and_skips_weeks_without_actuals() -> None:
    actual = weeks_of([100] * 13, [50] * 13)
    exact = forecast_of(actual)
    off = forecast_of(actual, shift=100)
    known = {a.starts_on: a for a in actual[:6]}
    results = evaluate([exact, off], known, typical_weekly_outflow=usd(50))
    assert [(r.horizon, r.weeks) for r in results] == [("1-4", 8), ("5-8", 4)]
    assert results[0].inflow_wape == pytest.approx(0.5)
    assert results[0].inflow_accuracy == pytest.approx(0.5)
    with pytest.raises(InvalidInput):
        evaluate([exact], known, typical_weekly_outflow=usd(0))


def test_actual_weeks_split_bank_lines_into_weeks_and_chain_the_closing() -> None:
    def line(n: int, day: date, minor: int, pending: bool = False) -> BankTransaction:
        return BankTransaction(
            transaction_id=BankTransactionId(f"t{n}"),
            business_id=BusinessId("b"),
            account_id=BankAccountId("a"),
            amount=usd(minor),
            posted_on=day,
            description="x",
            pending=pending,
        )

    lines = [
        line(1, START - timedelta(days=1), 999),
        line(2, START, 300),
        line(3, START + timedelta(days=6), -1_000),
        line(4, START + timedelta(days=7), 200),
        line(5, START + timedelta(days=8), 5, pending=True),
        line(6, START + timedelta(days=14), -7),
    ]
    weeks = actual_weeks(lines, start=START, weeks=2, opening=usd(10_000))
    assert [(w.inflows, w.outflows, w.closing) for w in weeks] == [
        (usd(1_000), usd(300), usd(10_700)),
        (usd(0), usd(200), usd(10_500)),
    ]
    assert [w.starts_on for w in weeks] == [START, START + timedelta(days=7)]
