"""Rolling-origin backtest: forecasts made from a business's past, scored against what
then happened, for RowCol's projector and for baselines computed in the same run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from rowcol.core.domain.accuracy import ActualWeek, HorizonAccuracy, actual_weeks, evaluate
from rowcol.core.domain.baselines import last_weeks_average, seasonal_naive
from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.forecast import CashFlowProjector, Forecast, ForecastInput, WeekForecast
from rowcol.core.domain.ids import BusinessId
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import Balance, BankTransaction
from rowcol.core.services.receivables import BadRows
from rowcol.ports.books import BooksBundle, BooksFolder
from rowcol.ports.series import SeriesModel

PROJECTOR = "rowcol"
HISTORY_WEEKS = 52
"""Weeks of weekly flows the baselines learn from (less when the books are younger)."""

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class BacktestReport:
    business_id: BusinessId
    origins: tuple[date, ...]
    scores: dict[str, list[HorizonAccuracy]] = field(default_factory=dict)
    """Model name → accuracy per horizon band; RowCol's projector is `rowcol`."""

    def best_baseline_wape(self, horizon: str, flow: str) -> float | None:
        """The lowest WAPE any baseline reached for `flow` ("inflow" or "outflow")."""
        found = [
            getattr(a, f"{flow}_wape")
            for model, bands in self.scores.items()
            if model != PROJECTOR
            for a in bands
            if a.horizon == horizon
        ]
        return min(found) if found else None


class Backtest:
    def __init__(
        self,
        projector: CashFlowProjector | None = None,
        models: Sequence[SeriesModel] = (),
    ) -> None:
        self._projector = projector or CashFlowProjector()
        self._models = tuple(models)

    def run(
        self,
        business_id: BusinessId,
        books: BooksBundle,
        *,
        origins: int = 6,
        step_weeks: int = 4,
        weeks: int = 13,
        progress: ProgressFn | None = None,
    ) -> BacktestReport:
        """Origins every `step_weeks` weeks, the last one `weeks` weeks before the books
        end, so every forecast week has happened; each needs 26 weeks of history."""
        transactions = sorted(
            (t for t in books.bank_transactions if not t.pending), key=lambda t: t.posted_on
        )
        if not transactions:
            raise InvalidInput("the books have no bank transactions to test against")
        currency = transactions[0].amount.currency
        first, last = transactions[0].posted_on, transactions[-1].posted_on
        anchor = _anchor(books.balances, currency)
        chosen = [
            last - timedelta(weeks=weeks) - timedelta(weeks=step_weeks * k) for k in range(origins)
        ]
        chosen = sorted(d for d in chosen if d - first >= timedelta(weeks=26))
        if not chosen:
            raise InvalidInput(
                f"the books span {(last - first).days} days; a backtest needs at least "
                f"{26 + weeks} weeks of bank history"
            )
        made: dict[str, list[Forecast]] = {}
        actuals: dict[date, ActualWeek] = {}
        outflows: list[int] = []
        for n, as_of in enumerate(chosen, start=1):
            opening = _balance_at(anchor, transactions, as_of, currency)
            past = [t for t in transactions if t.posted_on <= as_of]
            data = ForecastInput(
                business_id=business_id,
                currency=currency,
                as_of=as_of,
                opening_balance=opening,
                bills=books.bills,
                invoices=books.invoices,
                transactions=past,
            )
            made.setdefault(PROJECTOR, []).append(self._projector.project(data, weeks=weeks))
            start = as_of + timedelta(days=1)
            for week in actual_weeks(transactions, start=start, weeks=weeks, opening=opening):
                actuals[week.starts_on] = week
            history = _history(past, as_of, currency)
            outflows += [w.outflows.amount_minor for w in history[-13:]]
            for name, predict in self._baselines():
                made.setdefault(name, []).append(
                    _point_forecast(business_id, as_of, opening, history, weeks, predict)
                )
            if progress is not None:
                progress(n, len(chosen))
        typical = Money(max(1, sum(outflows) // max(1, len(outflows))), currency)
        scores = {
            name: evaluate(forecasts, actuals, typical_weekly_outflow=typical)
            for name, forecasts in made.items()
        }
        return BacktestReport(business_id, tuple(chosen), scores)

    def _baselines(self) -> list[tuple[str, Callable[[Sequence[int], int], list[int]]]]:
        out: list[tuple[str, Callable[[Sequence[int], int], list[int]]]] = [
            ("last 4 weeks average", lambda h, n: last_weeks_average(h, n, weeks=4)),
            ("seasonal naive", lambda h, n: seasonal_naive(h, n)),
        ]
        out += [(model.name, model.forecast) for model in self._models]
        return out


def _anchor(balances: Sequence[Balance], currency: str) -> tuple[date, int] | None:
    """The newest day's total balance, to walk the balance back from."""
    mine = [b for b in balances if b.current.currency == currency]
    if not mine:
        return None
    newest = max(b.as_of.date() for b in mine)
    latest: dict[str, Balance] = {}
    for b in mine:
        if b.as_of.date() <= newest and (
            b.account_id not in latest or b.as_of > latest[b.account_id].as_of
        ):
            latest[b.account_id] = b
    return newest, sum(b.current.amount_minor for b in latest.values())


def _balance_at(
    anchor: tuple[date, int] | None,
    transactions: Sequence[BankTransaction],
    day: date,
    currency: str,
) -> Money:
    """The balance at the end of `day`, walked back (or on) from the anchor by the
    transactions in between (bank sign: positive is money out)."""
    if anchor is None:
        # No balance on file: the books start from zero; only the flows are scored.
        return Money(0, currency)
    when, minor = anchor
    for t in transactions:
        if day < t.posted_on <= when:
            minor += t.amount.amount_minor
        elif when < t.posted_on <= day:
            minor -= t.amount.amount_minor
    return Money(minor, currency)


def _history(past: Sequence[BankTransaction], as_of: date, currency: str) -> list[ActualWeek]:
    """Weekly flows of up to a year before `as_of`, on the forecast's own week grid."""
    span = min(HISTORY_WEEKS, max(1, (as_of - past[0].posted_on).days // 7)) if past else 1
    start = as_of + timedelta(days=1) - timedelta(weeks=span)
    return actual_weeks(past, start=start, weeks=span, opening=Money(0, currency))


def _point_forecast(
    business_id: BusinessId,
    as_of: date,
    opening: Money,
    history: Sequence[ActualWeek],
    weeks: int,
    predict: Callable[[Sequence[int], int], list[int]],
) -> Forecast:
    """A baseline's weekly inflows and outflows as a forecast without bands."""
    currency = opening.currency
    ins = [max(0, v) for v in predict([w.inflows.amount_minor for w in history], weeks)]
    outs = [max(0, v) for v in predict([w.outflows.amount_minor for w in history], weeks)]
    rows = []
    balance = opening.amount_minor
    for n in range(weeks):
        before = balance
        balance += ins[n] - outs[n]
        closing = Money(balance, currency)
        starts = as_of + timedelta(days=1 + 7 * n)
        rows.append(
            WeekForecast(
                week=n + 1,
                starts_on=starts,
                ends_on=starts + timedelta(days=6),
                opening=Money(before, currency),
                inflows=Money(ins[n], currency),
                outflows=Money(outs[n], currency),
                closing=closing,
                by_category={"baseline": Money(ins[n] - outs[n], currency)},
                p10=closing,
                p50=closing,
                p90=closing,
                breach_probability=0.0,
            )
        )
    return Forecast(business_id, as_of, tuple(rows), ())


class FolderBacktest:
    """The backtest over a folder of books (docs/formats.md)."""

    def __init__(self, folder: BooksFolder, backtest: Backtest) -> None:
        self._folder = folder
        self._backtest = backtest

    def run(
        self,
        path: str,
        *,
        origins: int = 6,
        step_weeks: int = 4,
        skip_bad_rows: bool = False,
        progress: ProgressFn | None = None,
    ) -> BacktestReport:
        business_id = BusinessId("backtest")
        books, errors = self._folder.read(path, business_id)
        if errors and not skip_bad_rows:
            raise BadRows(errors)
        return self._backtest.run(
            business_id, books, origins=origins, step_weeks=step_weeks, progress=progress
        )
