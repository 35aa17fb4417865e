"""How well past forecasts matched what the bank then showed, by horizon band."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.forecast import Forecast
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import BankTransaction

HORIZON_BANDS: Final = (("1-4", 1, 4), ("5-8", 5, 8), ("9-13", 9, 13))
"""Weeks beyond 13 are not scored: the targets are set for the 13-week view."""


@dataclass(frozen=True, slots=True)
class ActualWeek:
    starts_on: date
    inflows: Money
    outflows: Money
    """Positive: money that left."""
    closing: Money


@dataclass(frozen=True, slots=True)
class HorizonAccuracy:
    horizon: str
    """"1-4", "5-8" or "9-13"."""
    inflow_accuracy: float
    """1 - WAPE of weekly inflows; negative when the errors outweigh the flows."""
    outflow_accuracy: float
    inflow_wape: float
    outflow_wape: float
    closing_error: float
    """Mean |forecast closing - actual closing| in typical weekly outflows."""
    coverage: float
    """Share of weeks whose actual closing lay within [P10, P90]."""
    weeks: int


def wape(forecast: Sequence[int], actual: Sequence[int]) -> float:
    """Weighted absolute percentage error: sum |f - a| / sum |a|.

    With nothing actually flowing it is 0.0 for a forecast of nothing, else infinity.
    """
    if len(forecast) != len(actual):
        raise InvalidInput("forecast and actual series must have the same length")
    error = sum(abs(f - a) for f, a in zip(forecast, actual, strict=True))
    scale = sum(abs(a) for a in actual)
    if scale == 0:
        return 0.0 if error == 0 else math.inf
    return error / scale


def actual_weeks(
    transactions: Sequence[BankTransaction], *, start: date, weeks: int, opening: Money
) -> list[ActualWeek]:
    """Posted bank flows in `weeks` whole weeks from `start`, chained from `opening`."""
    if weeks < 1:
        raise InvalidInput("weeks must be at least 1")
    inflows = [0] * weeks
    outflows = [0] * weeks
    for txn in transactions:
        if txn.pending:
            continue
        offset = (txn.posted_on - start).days
        if not 0 <= offset < weeks * 7:
            continue
        if txn.amount.currency != opening.currency:
            raise InvalidInput(f"a {txn.amount.currency} transaction in {opening.currency}")
        minor = txn.amount.amount_minor
        # Bank sign: positive is money out.
        if minor > 0:
            outflows[offset // 7] += minor
        else:
            inflows[offset // 7] -= minor
    out: list[ActualWeek] = []
    closing = opening.amount_minor
    for week in range(weeks):
        closing += inflows[week] - outflows[week]
        out.append(
            ActualWeek(
                starts_on=start + timedelta(days=7 * week),
                inflows=Money(inflows[week], opening.currency),
                outflows=Money(outflows[week], opening.currency),
                closing=Money(closing, opening.currency),
            )
        )
    return out


def evaluate(
    forecasts: Sequence[Forecast],
    actuals: Mapping[date, ActualWeek],
    *,
    typical_weekly_outflow: Money,
) -> list[HorizonAccuracy]:
    """Pools every (forecast, week) pair of a band across forecasts; weeks without an
    actual are skipped, and bands with no scored week are left out."""
    if typical_weekly_outflow.amount_minor <= 0:
        raise InvalidInput("the typical weekly outflow must be positive")
    results: list[HorizonAccuracy] = []
    for name, first, last in HORIZON_BANDS:
        f_in: list[int] = []
        a_in: list[int] = []
        f_out: list[int] = []
        a_out: list[int] = []
        closing_gaps: list[int] = []
        covered = 0
        for forecast in forecasts:
            for week in forecast.weeks:
                if not first <= week.week <= last:
                    continue
                actual = actuals.get(week.starts_on)
                if actual is None:
                    continue
                f_in.append(week.inflows.amount_minor)
                a_in.append(actual.inflows.amount_minor)
                f_out.append(week.outflows.amount_minor)
                a_out.append(actual.outflows.amount_minor)
                closing_gaps.append(abs(week.closing.amount_minor - actual.closing.amount_minor))
                if week.p10 <= actual.closing <= week.p90:
                    covered += 1
        if not f_in:
            continue
        inflow_wape = wape(f_in, a_in)
        outflow_wape = wape(f_out, a_out)
        scored = len(f_in)
        results.append(
            HorizonAccuracy(
                horizon=name,
                inflow_accuracy=1.0 - inflow_wape,
                outflow_accuracy=1.0 - outflow_wape,
                inflow_wape=inflow_wape,
                outflow_wape=outflow_wape,
                closing_error=sum(closing_gaps) / scored / typical_weekly_outflow.amount_minor,
                coverage=covered / scored,
                weeks=scored,
            )
        )
    return results
