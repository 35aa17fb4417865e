"""What-if scenarios: named changes to a forecast's input, and their comparison with the
baseline week by week.

A scenario changes what the projector reads, never the projector:

- moving bills (to a date, or by N days: positive delays, negative accelerates) becomes
  scheduled pay dates; a move by days counts from the bill's scheduled date, else its
  due date, else the day after `as_of`;
- a customer paying late moves the due date of each of its open invoices N days on (the
  customer's payment habit then applies from the new date); a customer that never pays
  has its open invoices treated as disputed (not counted on);
- a new cost (a hire, a lease) becomes dated outflows, monthly or every two weeks;
- a revenue change scales the projected inflows from a date, computed on the P50 path of
  the input with the other changes applied.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction
from typing import Any, Final

from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.forecast import (
    Adjustment,
    CashFlowProjector,
    Forecast,
    ForecastInput,
)
from rowcol.core.domain.ids import BillId, BusinessId, CustomerId, check_id
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import BillStatus, InvoiceStatus
from rowcol.core.domain.time import require_utc

COST_CATEGORY: Final = "scenario:cost"
REVENUE_CATEGORY: Final = "scenario:revenue"
MAX_CHANGES: Final = 50
_MAX_SHIFT_DAYS: Final = 366
_MAX_REVENUE_WEEKS: Final = 26
"""The projector's longest horizon: revenue changes are computed over all of it."""
_MIN_PERCENT: Final = Decimal(-100)
_MAX_PERCENT: Final = Decimal(1000)


class Cadence(StrEnum):
    MONTHLY = "monthly"
    BIWEEKLY = "biweekly"


def _check_shift(days: int, what: str) -> None:
    if type(days) is not int or days == 0 or abs(days) > _MAX_SHIFT_DAYS:
        raise InvalidInput(f"{what} must be a whole number of days between 1 and 366")


@dataclass(frozen=True, slots=True)
class MoveBills:
    """Pay these bills on `to`, or `by_days` later (negative: earlier) than planned."""

    bill_ids: tuple[BillId, ...]
    to: date | None = None
    by_days: int | None = None

    def __post_init__(self) -> None:
        if not self.bill_ids:
            raise InvalidInput("moving bills needs at least one bill id")
        for bill_id in self.bill_ids:
            check_id(bill_id, "a bill id")
        if len(set(self.bill_ids)) != len(self.bill_ids):
            raise InvalidInput("moving bills names a bill twice")
        if (self.to is None) == (self.by_days is None):
            raise InvalidInput("moving bills needs either a date (to) or a number of days")
        if self.by_days is not None:
            _check_shift(abs(self.by_days), "by_days")


@dataclass(frozen=True, slots=True)
class CustomerPaysLate:
    customer_id: CustomerId
    days: int

    def __post_init__(self) -> None:
        check_id(self.customer_id, "a customer id")
        if type(self.days) is not int or self.days <= 0:
            raise InvalidInput("a late customer pays at least 1 day late")
        _check_shift(self.days, "days late")


@dataclass(frozen=True, slots=True)
class CustomerNeverPays:
    customer_id: CustomerId

    def __post_init__(self) -> None:
        check_id(self.customer_id, "a customer id")


@dataclass(frozen=True, slots=True)
class NewCost:
    """A recurring outflow from `starts_on` (through `ends_on` when given)."""

    label: str
    amount: Money
    """Positive: paid each time."""
    cadence: Cadence
    starts_on: date
    ends_on: date | None = None

    def __post_init__(self) -> None:
        if not self.label.strip() or len(self.label) > 200:
            raise InvalidInput("a new cost needs a label of 1-200 characters")
        if self.amount.amount_minor <= 0:
            raise InvalidInput("a new cost's amount must be positive")
        if not isinstance(self.cadence, Cadence):
            raise InvalidInput("a new cost is paid monthly or biweekly")
        if self.ends_on is not None and self.ends_on < self.starts_on:
            raise InvalidInput("a new cost cannot end before it starts")

    def dates(self, until: date) -> list[date]:
        """Every payment date from `starts_on` through `until` (and `ends_on`)."""
        last = until if self.ends_on is None else min(until, self.ends_on)
        out: list[date] = []
        k = 0
        while True:
            if self.cadence is Cadence.BIWEEKLY:
                day = self.starts_on + timedelta(days=14 * k)
            else:
                day = _add_months(self.starts_on, k)
            if day > last:
                return out
            out.append(day)
            k += 1


@dataclass(frozen=True, slots=True)
class RevenueChange:
    """Inflows scaled by `percent` (-100 to +1000, not 0) from `starts_on`."""

    percent: Decimal
    starts_on: date

    def __post_init__(self) -> None:
        if not isinstance(self.percent, Decimal) or not self.percent.is_finite():
            raise InvalidInput("a revenue change needs a percentage")
        if self.percent == 0 or not _MIN_PERCENT <= self.percent <= _MAX_PERCENT:
            raise InvalidInput("a revenue change lies between -100% and +1000%, and is not 0")


Change = MoveBills | CustomerPaysLate | CustomerNeverPays | NewCost | RevenueChange


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named what-if for one business, kept so it can be run again as the books move."""

    business_id: BusinessId
    name: str
    changes: tuple[Change, ...]
    created_at: datetime
    created_by: str
    description: str = ""

    def __post_init__(self) -> None:
        check_id(self.name, "a scenario name")
        object.__setattr__(self, "created_at", require_utc(self.created_at))
        if not self.changes:
            raise InvalidInput("a scenario needs at least one change")
        if len(self.changes) > MAX_CHANGES:
            raise InvalidInput(f"a scenario holds at most {MAX_CHANGES} changes")
        if len(self.description) > 1000:
            raise InvalidInput("a scenario's description is at most 1000 characters")
        moved = [b for c in self.changes if isinstance(c, MoveBills) for b in c.bill_ids]
        if len(set(moved)) != len(moved):
            raise InvalidInput("a scenario moves a bill more than once")
        customers = [
            c.customer_id
            for c in self.changes
            if isinstance(c, CustomerPaysLate | CustomerNeverPays)
        ]
        if len(set(customers)) != len(customers):
            raise InvalidInput("a scenario changes a customer more than once")


# Applying ------------------------------------------------------------------------------------


def _add_months(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    month += 1
    nxt = date(year + month // 12, month % 12 + 1, 1)
    last = (nxt - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def apply(scenario: Scenario, data: ForecastInput) -> ForecastInput:
    """The forecast input as it would be under the scenario.

    Raises InvalidInput when a change names a bill the input does not hold or an amount
    in another currency. Bills already paid are left alone (a scenario outlives them).
    """
    if scenario.business_id != data.business_id:
        raise InvalidInput(f"scenario {scenario.name} is for another business")
    pay_dates = dict(data.pay_dates)
    late: dict[CustomerId, int] = {}
    never: set[CustomerId] = set()
    adjustments = list(data.adjustments)
    bills = {b.bill_id: b for b in data.bills}
    for change in scenario.changes:
        if isinstance(change, MoveBills):
            for bill_id in change.bill_ids:
                bill = bills.get(bill_id)
                if bill is None:
                    raise InvalidInput(f"scenario {scenario.name} names unknown bill {bill_id}")
                if bill.status is not BillStatus.OPEN or bill.balance.is_zero:
                    continue
                if change.to is not None:
                    pay_dates[bill_id] = change.to
                else:
                    assert change.by_days is not None
                    planned = (
                        pay_dates.get(bill_id) or bill.due_date or data.as_of + timedelta(days=1)
                    )
                    pay_dates[bill_id] = planned + timedelta(days=change.by_days)
        elif isinstance(change, CustomerPaysLate):
            late[change.customer_id] = change.days
        elif isinstance(change, CustomerNeverPays):
            never.add(change.customer_id)
        elif isinstance(change, NewCost):
            if change.amount.currency != data.currency:
                raise InvalidInput(
                    f"new cost {change.label!r} is in {change.amount.currency}, "
                    f"the business in {data.currency}"
                )
            until = data.as_of + timedelta(days=7 * _MAX_REVENUE_WEEKS)
            adjustments.extend(
                Adjustment(day, -change.amount, COST_CATEGORY, change.label)
                for day in change.dates(until)
                if day > data.as_of
            )
    invoices = []
    for invoice in data.invoices:
        is_open = invoice.status is InvoiceStatus.OPEN and not invoice.balance.is_zero
        if is_open and invoice.customer_id in never:
            # Counted on no more, as a disputed invoice is; kept so the customer's history
            # still shapes what the business is expected to invoice.
            invoice = replace(invoice, status=InvoiceStatus.DISPUTED)
        if is_open and invoice.customer_id in late:
            invoice = replace(
                invoice, due_date=invoice.due_date + timedelta(days=late[invoice.customer_id])
            )
        invoices.append(invoice)
    changed = replace(
        data, pay_dates=pay_dates, invoices=tuple(invoices), adjustments=tuple(adjustments)
    )
    revenue = [c for c in scenario.changes if isinstance(c, RevenueChange)]
    if revenue:
        changed = replace(
            changed,
            adjustments=(*changed.adjustments, *_revenue_adjustments(revenue, changed)),
        )
    return changed


def _revenue_adjustments(changes: Sequence[RevenueChange], data: ForecastInput) -> list[Adjustment]:
    """Each week's P50 inflows scaled by the percentage, for the days on or after its start.

    The P50 path does not depend on the simulation, so one sample is enough.
    """
    path = CashFlowProjector(samples=1).project(data, weeks=_MAX_REVENUE_WEEKS)
    out: list[Adjustment] = []
    for change in changes:
        for week in path.weeks:
            if week.ends_on < change.starts_on or week.inflows.is_zero:
                continue
            first = max(week.starts_on, change.starts_on)
            days = (week.ends_on - first).days + 1
            share = Fraction(change.percent) * days / (100 * 7)
            amount = week.inflows.times(share)
            if not amount.is_zero:
                label = f"revenue {change.percent:+}% from {change.starts_on.isoformat()}"
                out.append(Adjustment(first, amount, REVENUE_CATEGORY, label))
    return out


# Comparing ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WeekComparison:
    week: int
    starts_on: date
    ends_on: date
    baseline: Money
    """P50 closing without the scenario."""
    changed: Money
    """P50 closing with it."""
    difference: Money
    """changed - baseline."""
    baseline_breach_probability: float
    changed_breach_probability: float


@dataclass(frozen=True, slots=True)
class ScenarioComparison:
    weeks: tuple[WeekComparison, ...]
    baseline_low_point: Money
    baseline_low_week: int
    changed_low_point: Money
    changed_low_week: int
    baseline_runway_weeks: int | None
    """Weeks whose P50 closing stays at or above zero before the first below it; None
    when none falls below zero over the horizon."""
    changed_runway_weeks: int | None


def runway_weeks(forecast: Forecast) -> int | None:
    """Whole weeks before the first P50 closing below zero, or None if there is none."""
    return next((w.week - 1 for w in forecast.weeks if w.p50.is_negative), None)


def compare(baseline: Forecast, changed: Forecast) -> ScenarioComparison:
    """The two forecasts side by side; they must cover the same business, dates and weeks."""
    if baseline.business_id != changed.business_id or baseline.as_of != changed.as_of:
        raise InvalidInput("a comparison needs two forecasts of one business from one day")
    if len(baseline.weeks) != len(changed.weeks) or not baseline.weeks:
        raise InvalidInput("a comparison needs two forecasts over the same weeks")
    weeks = tuple(
        WeekComparison(
            week=b.week,
            starts_on=b.starts_on,
            ends_on=b.ends_on,
            baseline=b.p50,
            changed=c.p50,
            difference=c.p50 - b.p50,
            baseline_breach_probability=b.breach_probability,
            changed_breach_probability=c.breach_probability,
        )
        for b, c in zip(baseline.weeks, changed.weeks, strict=True)
    )
    return ScenarioComparison(
        weeks=weeks,
        baseline_low_point=baseline.low_point,
        baseline_low_week=baseline.low_week,
        changed_low_point=changed.low_point,
        changed_low_week=changed.low_week,
        baseline_runway_weeks=runway_weeks(baseline),
        changed_runway_weeks=runway_weeks(changed),
    )


# The stored and typed-in form ----------------------------------------------------------------


def change_to_json(change: Change) -> dict[str, Any]:
    """A change as plain JSON (the form the API, the CLI and storage use)."""
    if isinstance(change, MoveBills):
        out: dict[str, Any] = {"kind": "move_bills", "bills": list(change.bill_ids)}
        if change.to is not None:
            out["to"] = change.to.isoformat()
        else:
            out["by_days"] = change.by_days
        return out
    if isinstance(change, CustomerPaysLate):
        return {"kind": "customer_late", "customer": change.customer_id, "days": change.days}
    if isinstance(change, CustomerNeverPays):
        return {"kind": "customer_never_pays", "customer": change.customer_id}
    if isinstance(change, NewCost):
        return {
            "kind": "new_cost",
            "label": change.label,
            "amount": str(change.amount.to_decimal()),
            "currency": change.amount.currency,
            "every": change.cadence.value,
            "from": change.starts_on.isoformat(),
            "until": None if change.ends_on is None else change.ends_on.isoformat(),
        }
    return {
        "kind": "revenue",
        "percent": str(change.percent),
        "from": change.starts_on.isoformat(),
    }


def describe_change(change: Change, names: Mapping[str, str] | None = None) -> str:
    """A change in plain words; `names` turns customer ids into names."""
    names = names or {}
    if isinstance(change, MoveBills):
        bills = f"{len(change.bill_ids)} bill" + ("" if len(change.bill_ids) == 1 else "s")
        if change.to is not None:
            return f"pay {bills} on {change.to:%-d %b %Y}"
        days = change.by_days or 0
        return f"pay {bills} {abs(days)} days {'later' if days >= 0 else 'earlier'}"
    if isinstance(change, CustomerPaysLate):
        who = names.get(change.customer_id, change.customer_id)
        return f"{who} pays {change.days} days later than usual"
    if isinstance(change, CustomerNeverPays):
        return f"{names.get(change.customer_id, change.customer_id)} never pays"
    if isinstance(change, NewCost):
        until = "" if change.ends_on is None else f" until {change.ends_on:%-d %b %Y}"
        return (
            f"{change.label}: {change.amount.format()} {change.cadence.value} "
            f"from {change.starts_on:%-d %b %Y}{until}"
        )
    direction = "up" if change.percent >= 0 else "down"
    return f"revenue {direction} {abs(change.percent)}% from {change.starts_on:%-d %b %Y}"


KINDS: Final = ("move_bills", "customer_late", "customer_never_pays", "new_cost", "revenue")


def change_of(value: object) -> Change:
    """A change from its JSON form; InvalidInput says what is wrong with it."""
    if not isinstance(value, Mapping):
        raise InvalidInput("a change is a JSON object with a 'kind'")
    kind = value.get("kind")
    fields = {
        "move_bills": {"kind", "bills", "to", "by_days"},
        "customer_late": {"kind", "customer", "days"},
        "customer_never_pays": {"kind", "customer"},
        "new_cost": {"kind", "label", "amount", "currency", "every", "from", "until"},
        "revenue": {"kind", "percent", "from"},
    }.get(kind if isinstance(kind, str) else "")
    if fields is None:
        raise InvalidInput(f"a change's kind is one of {', '.join(KINDS)}")
    unknown = sorted(set(value) - fields)
    if unknown:
        raise InvalidInput(f"a {kind} change has no field {', '.join(unknown)}")
    if kind == "move_bills":
        bills = value.get("bills")
        if not isinstance(bills, list) or not all(isinstance(b, str) for b in bills):
            raise InvalidInput("move_bills needs 'bills': a list of bill ids")
        to = value.get("to")
        return MoveBills(
            tuple(BillId(b) for b in bills),
            to=None if to is None else _date(to, "to"),
            by_days=_optional_int(value.get("by_days"), "by_days"),
        )
    if kind == "customer_late":
        days = _optional_int(value.get("days"), "days")
        if days is None:
            raise InvalidInput("customer_late needs 'days'")
        return CustomerPaysLate(CustomerId(_text(value.get("customer"), "customer")), days)
    if kind == "customer_never_pays":
        return CustomerNeverPays(CustomerId(_text(value.get("customer"), "customer")))
    if kind == "new_cost":
        try:
            cadence = Cadence(str(value.get("every")))
        except ValueError:
            raise InvalidInput("new_cost needs 'every': monthly or biweekly") from None
        until = value.get("until")
        return NewCost(
            label=_text(value.get("label"), "label"),
            amount=Money.of(
                _text(value.get("amount"), "amount"), _text(value.get("currency"), "currency")
            ),
            cadence=cadence,
            starts_on=_date(value.get("from"), "from"),
            ends_on=None if until is None else _date(until, "until"),
        )
    return RevenueChange(_percent(value.get("percent")), _date(value.get("from"), "from"))


def changes_of(value: object) -> tuple[Change, ...]:
    """A list of changes from JSON; the error names the change at fault."""
    if not isinstance(value, list):
        raise InvalidInput("changes are a JSON list")
    out: list[Change] = []
    for n, item in enumerate(value, start=1):
        try:
            out.append(change_of(item))
        except InvalidInput as exc:
            raise InvalidInput(f"change {n}: {exc}") from None
    return tuple(out)


def _text(value: object, name: str) -> str:
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"'{name}' must be given as text")
    return value


def _date(value: object, name: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(_text(value, name))
    except ValueError:
        raise InvalidInput(f"'{name}' must be a date, YYYY-MM-DD") from None


def _optional_int(value: object, name: str) -> int | None:
    if value is None:
        return None
    if type(value) is not int:
        raise InvalidInput(f"'{name}' must be a whole number")
    return value


def _percent(value: object) -> Decimal:
    if isinstance(value, float):
        # Floats are refused as everywhere money is near: "12.5" is exact, 12.5 may not be.
        raise InvalidInput("'percent' must be text or a whole number, such as \"-12.5\"")
    try:
        return Decimal(_text(value, "percent"))
    except InvalidOperation:
        raise InvalidInput("'percent' must be a number, such as \"-12.5\"") from None
