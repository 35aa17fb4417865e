"""Cash-flow projection: weekly opening, inflows, outflows and closing with P10/P50/P90.

The P50 path adds, day by day after `as_of`:

- known outflows: open bills on their scheduled pay date, else their due date (overdue
  ones in week 1), and reserves falling due that nothing else already covers;
- known inflows: open invoices on the date their customer will probably pay, learnt from
  that customer's history (then the business's, then the due date);
- the bills and invoices not issued yet: vendors and customers that bill on a cadence are
  projected occurrence by occurrence; the rest as a daily issuing rate that reaches the
  bank after the observed issue-to-payment lag;
- recurring bank flows that no bill or invoice explains (payroll, card deposits, fees,
  draws, ...), with their cadence and amount drift;
- the unexplained rest of the bank history as a weekly mean;
- scenario adjustments.

Bank lines in a category that paid bills use, or in an invoice-receipt category, are
never projected as recurring: the bills and invoices already stand for them.

The P10/P90 band comes from `samples` seeded simulations of the deviations from the P50
path (invoice timing drawn from payment histories, normal noise for recurring amounts,
the not-yet-issued pipeline and the residual), so the P50 closing is the path itself.
Records dated after `as_of` are treated as unknown at `as_of`, so the same inputs can be
replayed at past dates to measure accuracy.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Final

from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.ids import BillId, BusinessId, CustomerId
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import (
    BankTransaction,
    Bill,
    BillStatus,
    Invoice,
    InvoiceStatus,
)
from rowcol.core.domain.reserves import Reserve

INVOICE_RECEIPT_CATEGORIES: Final = frozenset(
    {"customer_payment", "invoice_payment", "accounts_receivable"}
)
"""Bank categories for money received against invoices: the invoices stand for them."""

BILLS_CATEGORY_PREFIX: Final = "bills:"
INVOICES_CATEGORY: Final = "receivables"
PIPELINE_INVOICES_CATEGORY: Final = "receivables_expected"
RESIDUAL_CATEGORY: Final = "other"
RESERVE_CATEGORY_PREFIX: Final = "reserve:"

_RATE_WINDOW_DAYS: Final = 91
"""Issuing rates and the residual baseline look back one quarter."""
_HISTORY_DAYS: Final = 400
_WEEKLY_BUCKETS: Final = 26
_LEVEL_WEEKS: Final = 8
_SEASON_BASE_WEEKS: Final = 4
_RESERVE_LOOKBACK_DAYS: Final = 14
_RESERVE_LOOKAHEAD_DAYS: Final = 14
_DEFAULT_BILL_LAG_DAYS: Final = 30
_MIN_LAGS_FOR_CUSTOMER: Final = 3
_HABIT_PRIOR: Final = 1.0
"""How many payments' weight everyone's typical lateness has in a customer's own."""
_SCATTER_POINTS: Final = 41
_BAND_SCALE: Final = 1.7
_EARLY_WIDENING: Final = 1.2
"""Widens or narrows the simulated band; calibrated by rolling-origin backtests."""
_MAX_WEEKS: Final = 26


@dataclass(frozen=True, slots=True)
class Adjustment:
    """A dated extra flow for a scenario, signed: positive = money in."""

    on: date
    amount: Money
    category: str
    label: str = ""


@dataclass(frozen=True, slots=True)
class ForecastInput:
    business_id: BusinessId
    currency: str
    as_of: date
    """Week 1 starts the day after."""
    opening_balance: Money
    bills: Sequence[Bill]
    invoices: Sequence[Invoice]
    transactions: Sequence[BankTransaction]
    reserves: Sequence[Reserve] = ()
    pay_dates: Mapping[BillId, date] = field(default_factory=dict)
    buffer: Money | None = None
    adjustments: Sequence[Adjustment] = ()

    def __post_init__(self) -> None:
        for money in (self.opening_balance, self.buffer):
            if money is not None and money.currency != self.currency:
                raise InvalidInput(f"forecast amounts must be in {self.currency}")


@dataclass(frozen=True, slots=True)
class WeekForecast:
    week: int
    starts_on: date
    ends_on: date
    opening: Money
    inflows: Money
    outflows: Money
    """Positive: money leaving."""
    closing: Money
    by_category: Mapping[str, Money]
    """Signed (+ in, - out); adds up to inflows - outflows."""
    p10: Money
    p50: Money
    p90: Money
    breach_probability: float
    """Share of simulated closings below the buffer (0.0 without a buffer)."""


@dataclass(frozen=True, slots=True)
class RecurringFlow:
    category: str
    counterparty: str | None
    cadence_days: int
    typical: Money
    """Signed: + in, - out."""
    drift_per_period: Money
    next_on: date
    occurrences: int


@dataclass(frozen=True, slots=True)
class Forecast:
    business_id: BusinessId
    as_of: date
    weeks: tuple[WeekForecast, ...]
    recurring: tuple[RecurringFlow, ...]

    @property
    def low_point(self) -> Money:
        """The lowest P50 closing balance over the horizon."""
        return min((w.p50 for w in self.weeks), key=lambda m: m.amount_minor)

    @property
    def low_week(self) -> int:
        """The first week whose P50 closing is the low point."""
        low = self.low_point
        return next(w.week for w in self.weeks if w.p50 == low)

    @property
    def low_p10(self) -> Money:
        """The lowest P10 closing balance over the horizon (the pessimistic low point)."""
        return min((w.p10 for w in self.weeks), key=lambda m: m.amount_minor)


# Cadence detection -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Cadence:
    name: str
    days: int
    low: int
    high: int


_WEEKLY: Final = _Cadence("weekly", 7, 6, 8)
_BIWEEKLY: Final = _Cadence("biweekly", 14, 13, 15)
_SEMI_MONTHLY: Final = _Cadence("semi-monthly", 15, 12, 19)
_MONTHLY: Final = _Cadence("monthly", 30, 26, 35)
_QUARTERLY: Final = _Cadence("quarterly", 91, 82, 100)
_CADENCES: Final = (_WEEKLY, _BIWEEKLY, _SEMI_MONTHLY, _MONTHLY, _QUARTERLY)
_REGULAR_SHARE: Final = 0.7
"""Share of gaps that must fit a cadence for a series to count as recurring."""


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return float(ordered[mid]) if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _detect_cadence(days: Sequence[date]) -> _Cadence | None:
    """The cadence most gaps between the (sorted, distinct) dates fit, or None."""
    if len(days) < 3:
        return None
    gaps = [(b - a).days for a, b in itertools.pairwise(days)][-12:]
    for cadence in _CADENCES:
        fitting = sum(1 for g in gaps if cadence.low <= g <= cadence.high)
        if fitting >= _REGULAR_SHARE * len(gaps):
            if cadence is _SEMI_MONTHLY and all(g == 14 for g in gaps):
                return _BIWEEKLY
            return cadence
    return None


def _add_months(day: date, months: int, day_of_month: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    month += 1
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day_of_month, last))


def _business_day(day: date) -> date:
    """Weekend dates move back to Friday: banks post on business days."""
    weekday = day.weekday()
    return day - timedelta(days=weekday - 4) if weekday >= 5 else day


def _next_dates(cadence: _Cadence, history: Sequence[date], after: date, until: date) -> list[date]:
    """Projected dates of a series in (after, until], continuing from its last date."""
    last = history[-1]
    out: list[date] = []
    if cadence in (_WEEKLY, _BIWEEKLY):
        day = last + timedelta(days=cadence.days)
        while day <= until:
            if day > after:
                out.append(_business_day(day))
            day += timedelta(days=cadence.days)
        return out
    if cadence is _SEMI_MONTHLY:
        recent = history[-8:]
        early = [d.day for d in recent if d.day <= 15] or [1]
        late = [d.day for d in recent if d.day > 15] or [16]
        days_of_month: tuple[int, ...] = (round(_median(early)), round(_median(late)))
        step, min_gap = 1, 10
    else:
        days_of_month = (round(_median([d.day for d in history[-6:]])),)
        step = 1 if cadence is _MONTHLY else 3
        min_gap = cadence.low
    k = 0
    while True:
        candidates = [_add_months(last, k * step, dom) for dom in days_of_month]
        if min(candidates) > until:
            break
        for candidate in candidates:
            # A weekend date moved back to a Friday already past is still to come.
            posted = max(_business_day(candidate), min(candidate, after + timedelta(days=1)))
            if (candidate - last).days >= min_gap and after < posted <= until:
                out.append(posted)
        k += 1
    return sorted(set(out))


def _theil_sen(values: Sequence[float]) -> tuple[float, float]:
    """Robust (level at the last point, slope per step) of an evenly spaced series."""
    n = len(values)
    if n == 1:
        return values[0], 0.0
    slopes = [(values[j] - values[i]) / (j - i) for i in range(n) for j in range(i + 1, n)]
    slope = _median(slopes)
    level = _median([v + slope * (n - 1 - i) for i, v in enumerate(values)])
    return level, slope


def _spread(values: Sequence[float], level: float, slope: float) -> float:
    """Robust standard deviation of values about their fitted line."""
    n = len(values)
    if n < 3:
        return abs(level) * 0.1
    residuals = [v - (level - slope * (n - 1 - i)) for i, v in enumerate(values)]
    mad = _median([abs(r) for r in residuals])
    std = math.sqrt(sum(r * r for r in residuals) / (n - 1))
    return max(1.4826 * mad, 0.5 * std)


# Payment-lag distributions -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Lags:
    """Sorted day lags with a cumulative share lookup."""

    values: tuple[int, ...]

    @classmethod
    def of(cls, values: Iterable[int]) -> _Lags:
        return cls(tuple(sorted(values)))

    def __bool__(self) -> bool:
        return bool(self.values)

    def share_at_most(self, days: int) -> float:
        return bisect.bisect_right(self.values, days) / len(self.values)

    def median(self) -> int:
        return self.values[(len(self.values) - 1) // 2]

    def beyond(self, days: int) -> _Lags:
        """The lags longer than `days` (what is left once `days` have passed unpaid)."""
        return _Lags(self.values[bisect.bisect_right(self.values, days) :])


# The projection ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Plan:
    """Flows on the P50 path plus what the simulation needs to spread them."""

    horizon_days: int
    weeks: int
    flows: dict[tuple[int, str], int] = field(default_factory=dict)
    positive: dict[int, int] = field(default_factory=dict)
    negative: dict[int, int] = field(default_factory=dict)
    variance: list[float] = field(default_factory=list)
    timed: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)
    """(amount, possible week indexes per draw, -1 beyond the horizon)."""
    timed_expected: list[float] = field(default_factory=list)
    """Per week, what the timed flows put there on the expected path."""
    recurring: list[RecurringFlow] = field(default_factory=list)

    def week_of(self, offset: int) -> int:
        """Week index (0-based) of a day offset from as_of; day 1 is in week 0."""
        return (max(offset, 1) - 1) // 7

    def add(self, week: int, category: str, amount_minor: int) -> None:
        if amount_minor == 0 or not 0 <= week < self.weeks:
            return
        key = (week, category)
        self.flows[key] = self.flows.get(key, 0) + amount_minor
        side = self.positive if amount_minor > 0 else self.negative
        side[week] = side.get(week, 0) + amount_minor


class CashFlowProjector:
    """Projects a business's weekly cash from its books and bank history."""

    def __init__(self, *, samples: int = 400, seed: int = 0) -> None:
        if samples < 1:
            raise InvalidInput("samples must be at least 1")
        self._samples = samples
        self._seed = seed

    def project(self, data: ForecastInput, *, weeks: int = 13) -> Forecast:
        if not 1 <= weeks <= _MAX_WEEKS:
            raise InvalidInput(f"weeks must lie between 1 and {_MAX_WEEKS}")
        plan = _Plan(
            horizon_days=weeks * 7,
            weeks=weeks,
            variance=[0.0] * weeks,
            timed_expected=[0.0] * weeks,
        )
        history = _History.of(data)
        _project_bills(plan, data, history)
        _project_invoices(plan, data, history)
        _project_bank(plan, data, history)
        _project_reserves(plan, data)
        _project_adjustments(plan, data)
        deviations = self._simulate(plan)
        return _assemble(plan, data, deviations)

    def _simulate(self, plan: _Plan) -> list[list[float]]:
        """Per week, the sorted simulated deviations of the closing from the P50 path."""
        rng = random.Random(self._seed)
        weeks = plan.weeks
        # The first weeks carry what no history shows (a transfer, a one-off bill) on top
        # of the weekly scatter; the widening fades with the square of the week.
        sigmas = [
            _BAND_SCALE * (1 + _EARLY_WIDENING / (week + 1) ** 2) * math.sqrt(variance)
            for week, variance in enumerate(plan.variance)
        ]
        per_week: list[list[float]] = [[] for _ in range(weeks)]
        gauss = rng.gauss
        choice = rng.choice
        for _ in range(self._samples):
            moved = [-v for v in plan.timed_expected]
            for amount, options in plan.timed:
                drawn = choice(options)
                if 0 <= drawn < weeks:
                    moved[drawn] += amount
            running = 0.0
            for week in range(weeks):
                running += moved[week] + (gauss(0.0, sigmas[week]) if sigmas[week] else 0.0)
                per_week[week].append(running)
        for values in per_week:
            values.sort()
        return per_week


@dataclass(frozen=True, slots=True)
class _History:
    """What the books said up to as_of."""

    paid_bills: tuple[Bill, ...]
    known_bills: tuple[Bill, ...]
    bill_categories: frozenset[str]
    bill_lags: Mapping[str, _Lags]
    """Issue-to-payment days per bill category; "" holds every category."""
    bill_lateness: Mapping[str, _Lags]
    """Due-to-payment days per vendor; "" holds every vendor."""
    paid_invoices: tuple[Invoice, ...]
    known_invoices: tuple[Invoice, ...]
    lateness: Mapping[CustomerId | None, _Lags]
    """Due-to-payment days per customer; None holds every customer."""
    invoice_lags: Mapping[CustomerId | None, _Lags]
    """Issue-to-payment days per customer; None holds every customer."""

    @classmethod
    def of(cls, data: ForecastInput) -> _History:
        as_of = data.as_of
        known_bills = tuple(
            b for b in data.bills if b.issue_date <= as_of and b.status is not BillStatus.VOID
        )
        paid_bills = tuple(
            b for b in known_bills if b.paid_date is not None and b.paid_date <= as_of
        )
        by_category: dict[str, list[int]] = defaultdict(list)
        by_vendor: dict[str, list[int]] = defaultdict(list)
        for bill in paid_bills:
            assert bill.paid_date is not None
            lag = (bill.paid_date - bill.issue_date).days
            by_category[bill.category].append(lag)
            by_category[""].append(lag)
            if bill.due_date is not None:
                late = (bill.paid_date - bill.due_date).days
                by_vendor[bill.vendor_id].append(late)
                by_vendor[""].append(late)
        known_invoices = tuple(
            i for i in data.invoices if i.issue_date <= as_of and i.status is not InvoiceStatus.VOID
        )
        paid_invoices = tuple(
            i for i in known_invoices if i.paid_date is not None and i.paid_date <= as_of
        )
        lateness: dict[CustomerId | None, list[int]] = defaultdict(list)
        to_pay: dict[CustomerId | None, list[int]] = defaultdict(list)
        for invoice in paid_invoices:
            assert invoice.paid_date is not None
            for key in (invoice.customer_id, None):
                lateness[key].append((invoice.paid_date - invoice.due_date).days)
                to_pay[key].append((invoice.paid_date - invoice.issue_date).days)
        return cls(
            paid_bills=paid_bills,
            known_bills=known_bills,
            bill_categories=frozenset(b.category for b in paid_bills),
            bill_lags={k: _Lags.of(v) for k, v in by_category.items()},
            bill_lateness={k: _Lags.of(v[-24:]) for k, v in by_vendor.items()},
            paid_invoices=paid_invoices,
            known_invoices=known_invoices,
            lateness=_habits(lateness),
            invoice_lags={k: _Lags.of(v) for k, v in to_pay.items()},
        )

    def bill_lag(self, category: str) -> _Lags:
        return (
            self.bill_lags.get(category)
            or self.bill_lags.get("")
            or _Lags.of([_DEFAULT_BILL_LAG_DAYS])
        )

    def vendor_lateness(self, vendor: str) -> _Lags | None:
        own = self.bill_lateness.get(vendor)
        if own is not None and len(own.values) >= _MIN_LAGS_FOR_CUSTOMER:
            return own
        return self.bill_lateness.get("")

    def customer_lags(
        self, table: Mapping[CustomerId | None, _Lags], customer: CustomerId
    ) -> _Lags | None:
        own = table.get(customer)
        if own is not None and len(own.values) >= _MIN_LAGS_FOR_CUSTOMER:
            return own
        return table.get(None)


def _habits(observed: Mapping[CustomerId | None, list[int]]) -> dict[CustomerId | None, _Lags]:
    """Per customer, the days late it will probably pay: its own typical lateness, pulled
    towards everyone's while it has paid only a few times, with the day-to-day scatter
    customers show around their own habit (not the spread between customers)."""
    everyone = observed.get(None, [])
    if not everyone:
        return {}
    overall = _median([float(v) for v in everyone])
    scatter: list[float] = []
    for key, values in observed.items():
        if key is not None and len(values) >= 2:
            own = _median([float(v) for v in values])
            scatter.extend(v - own for v in values)
    scatter.sort()
    if not scatter:
        scatter = [0.0]
    steps = min(len(scatter), _SCATTER_POINTS)
    picked = [scatter[round(k * (len(scatter) - 1) / max(1, steps - 1))] for k in range(steps)]
    out: dict[CustomerId | None, _Lags] = {None: _Lags.of(everyone)}
    for key, values in observed.items():
        if key is None:
            continue
        n = len(values)
        own = _median([float(v) for v in values])
        centre = (n * own + _HABIT_PRIOR * overall) / (n + _HABIT_PRIOR)
        out[key] = _Lags.of(round(centre + r) for r in picked)
    return out


def open_at(balance: Money, amount: Money, paid: date | None, is_open: bool, as_of: date) -> int:
    """What was still owed at as_of: the whole amount if it was paid later."""
    if paid is not None and paid > as_of:
        return amount.amount_minor
    return balance.amount_minor if is_open else 0


def _project_bills(plan: _Plan, data: ForecastInput, history: _History) -> None:
    as_of = data.as_of
    fallback = history.bill_lag("")
    for bill in history.known_bills:
        owed = open_at(
            bill.balance, bill.amount, bill.paid_date, bill.status is BillStatus.OPEN, as_of
        )
        if owed <= 0:
            continue
        _check_currency(bill.amount, data.currency)
        category = BILLS_CATEGORY_PREFIX + bill.category
        scheduled = data.pay_dates.get(bill.bill_id)
        if scheduled is not None:
            plan.add(plan.week_of((scheduled - as_of).days), category, -owed)
            continue
        if bill.due_date is None:
            due = bill.issue_date + timedelta(days=fallback.median())
        else:
            due = bill.due_date
        # Without a scheduled date the business pays as it has paid this vendor before;
        # a bill already later than that is expected in week 1.
        habit = history.vendor_lateness(bill.vendor_id)
        options = habit.beyond((as_of - due).days) if habit else None
        if habit and not options:
            plan.add(0, category, -owed)
            continue
        _add_timed(plan, as_of, due, options, -owed, category)

    # Bills not issued yet: vendors on a cadence occurrence by occurrence, the rest as rates.
    by_vendor: dict[str, list[Bill]] = defaultdict(list)
    for bill in history.paid_bills:
        by_vendor[bill.vendor_id].append(bill)
    cadenced: set[str] = set()
    horizon_end = as_of + timedelta(days=plan.horizon_days)
    for vendor_id, bills in by_vendor.items():
        bills.sort(key=lambda b: b.issue_date)
        issues = _distinct([b.issue_date for b in bills])
        cadence = _detect_cadence(issues)
        if cadence is None or not _still_active(issues[-1], cadence, as_of):
            continue
        cadenced.add(vendor_id)
        category = bills[-1].category
        lags = _Lags.of(
            (b.paid_date - b.issue_date).days for b in bills[-12:] if b.paid_date is not None
        )
        lag = lags.median()
        amounts = [float(b.amount.amount_minor) for b in bills[-12:]]
        level, slope = _theil_sen(amounts)
        spread = _spread(amounts, level, slope)
        future = _next_dates(cadence, issues, as_of, horizon_end)
        for k, issue in enumerate(future, start=1):
            amount = round(level + slope * k)
            _add_timed(plan, as_of, issue, lags, -max(amount, 0), BILLS_CATEGORY_PREFIX + category)
            _add_variance(plan, plan.week_of((issue - as_of).days + lag), spread)
        if future:
            plan.recurring.append(
                RecurringFlow(
                    category=BILLS_CATEGORY_PREFIX + category,
                    counterparty=str(vendor_id),
                    cadence_days=cadence.days,
                    typical=Money(-round(level), data.currency),
                    drift_per_period=Money(-round(slope), data.currency),
                    next_on=future[0] + timedelta(days=lag),
                    occurrences=len(issues),
                )
            )

    window_start = as_of - timedelta(days=_RATE_WINDOW_DAYS)
    issued: dict[str, int] = defaultdict(int)
    for bill in history.known_bills:
        if bill.vendor_id in cadenced or bill.issue_date <= window_start:
            continue
        issued[bill.category] += bill.amount.amount_minor
    weekly_paid = _weekly_totals(
        (
            (b.paid_date, b.amount.amount_minor, b.category)
            for b in history.paid_bills
            if b.vendor_id not in cadenced and b.paid_date is not None
        ),
        as_of,
    )
    for category, amount in issued.items():
        daily = amount / _RATE_WINDOW_DAYS
        _add_pipeline(
            plan,
            BILLS_CATEGORY_PREFIX + category,
            -daily,
            history.bill_lag(category).share_at_most,
            _weekly_std(weekly_paid.get(category, [])),
        )


def _project_invoices(plan: _Plan, data: ForecastInput, history: _History) -> None:
    as_of = data.as_of
    for invoice in history.known_invoices:
        if invoice.status is InvoiceStatus.DISPUTED:
            # Disputed money is not counted on until the dispute is settled.
            continue
        owed = open_at(
            invoice.balance,
            invoice.amount,
            invoice.paid_date,
            invoice.status is InvoiceStatus.OPEN,
            as_of,
        )
        if owed <= 0:
            continue
        _check_currency(invoice.amount, data.currency)
        lateness = history.customer_lags(history.lateness, invoice.customer_id)
        overdue_days = (as_of - invoice.due_date).days
        base = invoice.due_date
        options: _Lags | None = None
        if lateness:
            options = lateness.beyond(overdue_days)
            if not options:
                # Later than this customer ever paid: expect it soon, but not certainly.
                options = _Lags.of(overdue_days + d for d in (3, 7, 14, 28, 56))
        _add_timed(plan, as_of, base, options, owed, INVOICES_CATEGORY)

    by_customer: dict[CustomerId, list[Invoice]] = defaultdict(list)
    for invoice in history.known_invoices:
        by_customer[invoice.customer_id].append(invoice)
    cadenced: set[CustomerId] = set()
    horizon_end = as_of + timedelta(days=plan.horizon_days)
    for customer, invoices in by_customer.items():
        invoices.sort(key=lambda i: i.issue_date)
        issues = _distinct([i.issue_date for i in invoices])
        cadence = _detect_cadence(issues)
        if cadence is None or cadence.days < 14 or not _still_active(issues[-1], cadence, as_of):
            continue
        cadenced.add(customer)
        lags = history.customer_lags(history.invoice_lags, customer)
        amounts = [float(i.amount.amount_minor) for i in invoices[-12:]]
        level, slope = _theil_sen(amounts)
        future = _next_dates(cadence, issues, as_of, horizon_end)
        for k, issue in enumerate(future, start=1):
            amount = max(round(level + slope * k), 0)
            _add_timed(plan, as_of, issue, lags, amount, PIPELINE_INVOICES_CATEGORY)
        if future:
            median_lag = lags.median() if lags else 0
            plan.recurring.append(
                RecurringFlow(
                    category=PIPELINE_INVOICES_CATEGORY,
                    counterparty=str(customer),
                    cadence_days=cadence.days,
                    typical=Money(round(level), data.currency),
                    drift_per_period=Money(round(slope), data.currency),
                    next_on=future[0] + timedelta(days=median_lag),
                    occurrences=len(issues),
                )
            )

    window_start = as_of - timedelta(days=_RATE_WINDOW_DAYS)
    issued = sum(
        i.amount.amount_minor
        for i in history.known_invoices
        if i.customer_id not in cadenced and i.issue_date > window_start
    )
    if issued:
        lags = history.invoice_lags.get(None) or _Lags.of([30])
        weekly = _weekly_totals(
            (
                (i.paid_date, i.amount.amount_minor, "")
                for i in history.paid_invoices
                if i.customer_id not in cadenced and i.paid_date is not None
            ),
            as_of,
        )
        _add_pipeline(
            plan,
            PIPELINE_INVOICES_CATEGORY,
            issued / _RATE_WINDOW_DAYS,
            lags.share_at_most,
            _weekly_std(weekly.get("", [])),
        )


def _add_timed(
    plan: _Plan, as_of: date, base: date, lags: _Lags | None, amount: int, category: str
) -> None:
    """A flow expected at base + a lag drawn from `lags` (base itself without history)."""
    if amount == 0:
        return
    if not lags:
        plan.add(plan.week_of((base - as_of).days), category, amount)
        return
    weeks = tuple(_week_or_beyond(plan, (base - as_of).days + lag) for lag in lags.values)
    if len(set(weeks)) == 1:
        plan.add(weeks[0], category, amount)
        return
    # On the expected path the amount is spread over the weeks its lags put it in: for
    # weekly totals of many such flows this errs less than the whole amount in the
    # median week.
    counts = Counter(w for w in weeks if w >= 0)
    for week, count in counts.items():
        share = amount * count / len(weeks)
        plan.add(week, category, round(share))
        plan.timed_expected[week] += share
    plan.timed.append((amount, weeks))


def _week_or_beyond(plan: _Plan, offset: int) -> int:
    week = plan.week_of(offset)
    return week if week < plan.weeks else -1


def _add_pipeline(
    plan: _Plan,
    category: str,
    daily_minor: float,
    paid_within: Callable[[int], float],
    weekly_std: float,
) -> None:
    """Money issued at a daily rate from tomorrow on, reaching the bank after its lag.

    Money issued on day j and paid on day k needs a lag of at most k - j, so day k
    receives daily x P(lag <= k - 1); each week's sum is rounded half to even.
    """
    for week in range(plan.weeks):
        expected = 0.0
        reached = 0.0
        for day in range(week * 7 + 1, week * 7 + 8):
            share = paid_within(day - 1)
            expected += daily_minor * share
            reached += share / 7
        plan.add(week, category, round(expected))
        _add_variance(plan, week, weekly_std * reached)


def _add_variance(plan: _Plan, week: int, std: float) -> None:
    if 0 <= week < plan.weeks:
        plan.variance[week] += std * std


def _weekly_totals(
    flows: Iterable[tuple[date | None, int, str]], as_of: date
) -> dict[str, list[float]]:
    """Per key, totals of the last `_WEEKLY_BUCKETS` weeks ending at as_of, oldest first."""
    out: dict[str, list[float]] = {}
    for day, amount, key in flows:
        if day is None:
            continue
        back = (as_of - day).days
        if not 0 <= back < _WEEKLY_BUCKETS * 7:
            continue
        buckets = out.setdefault(key, [0.0] * _WEEKLY_BUCKETS)
        buckets[_WEEKLY_BUCKETS - 1 - back // 7] += amount
    return out


def _weekly_std(values: Sequence[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _distinct(days: Iterable[date]) -> list[date]:
    return sorted(set(days))


def _still_active(last: date, cadence: _Cadence, as_of: date) -> bool:
    return (as_of - last).days <= cadence.high * 1.5 + 3


def _check_currency(money: Money, currency: str) -> None:
    if money.currency != currency:
        raise InvalidInput(f"a {money.currency} record in a {currency} forecast")


def _project_bank(plan: _Plan, data: ForecastInput, history: _History) -> None:
    """Recurring flows and the residual baseline from bank lines no bill or invoice explains."""
    as_of = data.as_of
    start = as_of - timedelta(days=_HISTORY_DAYS)
    groups: dict[tuple[str, str | None, bool], list[BankTransaction]] = defaultdict(list)
    for txn in data.transactions:
        if txn.pending or not start < txn.posted_on <= as_of:
            continue
        if txn.category in history.bill_categories or txn.category in INVOICE_RECEIPT_CATEGORIES:
            continue
        _check_currency(txn.amount, data.currency)
        groups[(txn.category, txn.counterparty, txn.is_outflow)].append(txn)

    residual: list[tuple[date | None, int, str]] = []
    horizon_end = as_of + timedelta(days=plan.horizon_days)
    for (category, counterparty, _), txns in groups.items():
        days = _distinct(t.posted_on for t in txns)
        # Bank sign is the reverse of the forecast's: positive there is money out.
        signed = [(t.posted_on, -t.amount.amount_minor) for t in txns]
        frequent = len(days) >= 8 and _median_gap(days) <= 5
        if frequent and _project_frequent(plan, data, category, counterparty, signed, len(days)):
            continue
        cadence = _detect_cadence(days)
        if cadence is not None and _still_active(days[-1], cadence, as_of):
            _project_cadenced(
                plan, data, category, counterparty, cadence, days, signed, horizon_end
            )
            continue
        residual.extend((d, a, "") for d, a in signed)

    weekly = _weekly_totals(residual, as_of).get("", [0.0] * _WEEKLY_BUCKETS)
    recent = weekly[-(_RATE_WINDOW_DAYS // 7) :]
    mean = sum(recent) / len(recent)
    std = _weekly_std(recent)
    for week in range(plan.weeks):
        plan.add(week, RESIDUAL_CATEGORY, round(mean))
        _add_variance(plan, week, std)


def _median_gap(days: Sequence[date]) -> float:
    return _median([(b - a).days for a, b in itertools.pairwise(days)])


def _project_frequent(
    plan: _Plan,
    data: ForecastInput,
    category: str,
    counterparty: str | None,
    signed: Sequence[tuple[date, int]],
    occurrences: int,
) -> bool:
    """Flows several times a week (card deposits) projected as weekly totals.

    The level is the mean of the last weeks; where a year of history allows, each week
    follows the shape the same weeks had a year earlier (sales are seasonal). A straight
    trend is not extrapolated: over a quarter it mostly extends last season's swing.
    """
    as_of = data.as_of
    by_day: dict[int, int] = defaultdict(int)
    for day, minor in signed:
        by_day[(day - as_of).days] += minor

    def week_total(end_offset: int) -> float:
        """Total of the seven days ending `end_offset` days after as_of."""
        return float(sum(by_day.get(end_offset - d, 0) for d in range(7)))

    first = min(by_day)
    available = min(_WEEKLY_BUCKETS, -first // 7)
    if available < 4:
        return False
    recent = [week_total(-7 * k) for k in range(min(available, _LEVEL_WEEKS))]
    level = sum(recent) / len(recent)
    spread = _weekly_std([week_total(-7 * k) for k in range(min(available, 13))])
    factors = [1.0] * plan.weeks
    year = 364
    if first <= -year - 7 * _SEASON_BASE_WEEKS:
        before = [week_total(-year - 7 * k) for k in range(_SEASON_BASE_WEEKS)]
        base = sum(before) / len(before)
        if base and (base > 0) == (level > 0):
            for week in range(plan.weeks):
                around = [week_total(-year + 7 * (week + 1 + k)) for k in (-1, 0, 1)]
                factors[week] = min(2.0, max(0.5, sum(around) / 3 / base))
    amounts = [level * f for f in factors]
    for week, amount in enumerate(amounts):
        plan.add(week, category, round(amount))
        _add_variance(plan, week, spread * factors[week])
    drift = (amounts[-1] - amounts[0]) / (len(amounts) - 1) if len(amounts) > 1 else 0.0
    plan.recurring.append(
        RecurringFlow(
            category=category,
            counterparty=counterparty,
            cadence_days=7,
            typical=Money(round(level), data.currency),
            drift_per_period=Money(round(drift), data.currency),
            next_on=as_of + timedelta(days=7),
            occurrences=occurrences,
        )
    )
    return True


def _project_cadenced(
    plan: _Plan,
    data: ForecastInput,
    category: str,
    counterparty: str | None,
    cadence: _Cadence,
    days: Sequence[date],
    signed: Sequence[tuple[date, int]],
    horizon_end: date,
) -> None:
    by_day: dict[date, int] = defaultdict(int)
    for day, minor in signed:
        by_day[day] += minor
    amounts = [float(by_day[d]) for d in days[-12:]]
    level, slope = _theil_sen(amounts)
    # Drift is bounded so a short, noisy series cannot run away over the horizon.
    slope = max(-abs(level) * 0.05, min(abs(level) * 0.05, slope))
    spread = _spread(amounts, level, slope)
    future = _next_dates(cadence, days, data.as_of, horizon_end)
    for k, day in enumerate(future, start=1):
        amount = level + slope * k
        if (amount > 0) != (level > 0):
            amount = 0.0
        week = plan.week_of((day - data.as_of).days)
        plan.add(week, category, round(amount))
        _add_variance(plan, week, spread)
    plan.recurring.append(
        RecurringFlow(
            category=category,
            counterparty=counterparty,
            cadence_days=cadence.days,
            typical=Money(round(level), data.currency),
            drift_per_period=Money(round(slope), data.currency),
            next_on=future[0] if future else days[-1] + timedelta(days=cadence.days),
            occurrences=len(days),
        )
    )


def _project_reserves(plan: _Plan, data: ForecastInput) -> None:
    """A reserve leaves on its date, less what same-purpose flows already take around then.

    Open bills count only in the two weeks up to the date, so adding a bill can only lower
    closings; projected recurring flows count two weeks either side.
    """
    as_of = data.as_of
    for reserve in data.reserves:
        if reserve.released or reserve.until <= as_of:
            continue
        _check_currency(reserve.amount, data.currency)
        offset = (reserve.until - as_of).days
        week = plan.week_of(offset)
        if week >= plan.weeks:
            continue
        covered = _covered(plan, reserve.purpose, offset)
        left = reserve.amount.amount_minor - covered
        if left > 0:
            plan.add(week, RESERVE_CATEGORY_PREFIX + reserve.purpose, -left)


def _covered(plan: _Plan, purpose: str, offset: int) -> int:
    """Outflows of the reserve's purpose already on the path near its date (week grain)."""
    names = {purpose, BILLS_CATEGORY_PREFIX + purpose}
    first = plan.week_of(offset - _RESERVE_LOOKBACK_DAYS)
    last = plan.week_of(offset + _RESERVE_LOOKAHEAD_DAYS)
    reserve_week = plan.week_of(offset)
    covered = 0
    for (week, category), amount in plan.flows.items():
        if category not in names or amount >= 0 or not first <= week <= last:
            continue
        if week > reserve_week and category.startswith(BILLS_CATEGORY_PREFIX):
            # Later bill flows include open bills; counting them would let a new bill
            # lift earlier closings.
            continue
        covered += -amount
    return covered


def _project_adjustments(plan: _Plan, data: ForecastInput) -> None:
    for adjustment in data.adjustments:
        _check_currency(adjustment.amount, data.currency)
        offset = (adjustment.on - data.as_of).days
        plan.add(plan.week_of(offset), adjustment.category, adjustment.amount.amount_minor)


def _quantile(sorted_values: Sequence[float], share: float) -> float:
    """Linear interpolation between order statistics."""
    position = share * (len(sorted_values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def _assemble(plan: _Plan, data: ForecastInput, deviations: list[list[float]]) -> Forecast:
    currency = data.currency
    by_week: dict[int, dict[str, int]] = defaultdict(dict)
    for (week, category), amount in plan.flows.items():
        if amount:
            by_week[week][category] = amount
    buffer = data.buffer.amount_minor if data.buffer is not None else None
    opening = data.opening_balance.amount_minor
    weeks: list[WeekForecast] = []
    for week in range(plan.weeks):
        inflow = plan.positive.get(week, 0)
        outflow = -plan.negative.get(week, 0)
        closing = opening + inflow - outflow
        spread = deviations[week]
        centre = _quantile(spread, 0.5)
        # The band is the simulated spread around its median, anchored on the P50 path;
        # rounding is half to even.
        p10 = closing + round(_quantile(spread, 0.1) - centre)
        p90 = closing + round(_quantile(spread, 0.9) - centre)
        breach = 0.0
        if buffer is not None:
            below = bisect.bisect_left(spread, buffer - closing + centre)
            breach = below / len(spread)
        starts_on = data.as_of + timedelta(days=week * 7 + 1)
        weeks.append(
            WeekForecast(
                week=week + 1,
                starts_on=starts_on,
                ends_on=starts_on + timedelta(days=6),
                opening=Money(opening, currency),
                inflows=Money(inflow, currency),
                outflows=Money(outflow, currency),
                closing=Money(closing, currency),
                by_category={
                    k: Money(v, currency) for k, v in sorted(by_week.get(week, {}).items())
                },
                p10=Money(min(p10, closing), currency),
                p50=Money(closing, currency),
                p90=Money(max(p90, closing), currency),
                breach_probability=breach,
            )
        )
        opening = closing
    recurring = tuple(sorted(plan.recurring, key=lambda r: (r.category, r.counterparty or "")))
    return Forecast(data.business_id, data.as_of, tuple(weeks), recurring)
