"""Bill scheduling: a pay date for each open bill over the forecast horizon.

The problem handed to a solver is plain integers: days are offsets from `as_of` (day 0
is today), money is minor units. A schedule gives each bill a day in its window or
leaves it unplaced (not paid within the horizon). It must keep the projected balance at
or above the buffer on every day: the headroom on day t is the cash path of everything
else less the buffer, and what the schedule has paid by day t may not exceed it. Where
the path is already under the buffer, the headroom is zero: nothing may be paid before
that day, since any payment would deepen the shortfall. Paying nothing is therefore
always feasible.

Among feasible schedules the objective is the smallest total of
late fees paid + early-pay discounts missed + priority-weighted days late,
where an unplaced bill counts as paid `UNPLACED_GRACE_DAYS` after the horizon. Priority
weights are in minor units per day late, proportional to the bill and its priority, so
when cash is short the highest priorities are placed first.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.ids import BillId, BusinessId
from rowcol.core.domain.money import Money, total
from rowcol.core.domain.priority import BillPriority
from rowcol.core.domain.records import Bill

UNPLACED_GRACE_DAYS: Final = 30
DEFAULT_LATE_FEE_MONTHLY_PERCENT: Final = Decimal("1.5")
DEFAULT_HURDLE_RATE: Final = Decimal("0.12")
"""Annual return an early-pay discount must beat to be worth taking: about what a small
business pays to borrow on a line of credit, so a discount above it is cheaper money."""
_PRIORITY_SCALE: Final = 100_000
"""Priority 100 weighs 0.1% of the bill per day late (twice a 1.5%-a-month late fee)."""
_BRUTE_FORCE_LIMIT: Final = 200_000


# Terms ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaymentTerms:
    """Early-pay discount and late fee terms, e.g. "2/10 net 30, late fee 2% per month"."""

    discount_percent: Decimal | None = None
    discount_days: int | None = None
    net_days: int | None = None
    late_fee_monthly_percent: Decimal | None = None

    @property
    def implied_annual_rate(self) -> Decimal | None:
        """What taking the discount earns a year: d/(1-d) * 365/(net - discount days)."""
        if (
            self.discount_percent is None
            or self.discount_days is None
            or self.net_days is None
            or self.net_days <= self.discount_days
        ):
            return None
        d = self.discount_percent / 100
        return d / (1 - d) * Decimal(365) / (self.net_days - self.discount_days)

    def label(self) -> str:
        if self.discount_percent is None:
            return f"net {self.net_days}" if self.net_days is not None else "no terms"
        return f"{_pct(self.discount_percent)}/{self.discount_days} net {self.net_days}"


_DISCOUNT = re.compile(r"(\d+(?:\.\d+)?)\s*%?\s*/\s*(\d+)\s*,?\s*net\s*(\d+)", re.IGNORECASE)
_LATE_FEE = re.compile(
    r"late\s+fee\s*:?\s*(\d+(?:\.\d+)?)\s*%\s*(?:a|per|/)?\s*(?:month|mo)", re.IGNORECASE
)


def parse_terms(text: str) -> PaymentTerms:
    """Reads discount terms ("2/10 net 30") and a monthly late fee ("late fee 2% per
    month") from free text such as a bill memo; absent parts stay None."""
    discount = _DISCOUNT.search(text)
    fee = _LATE_FEE.search(text)
    terms = PaymentTerms(
        late_fee_monthly_percent=Decimal(fee.group(1)) if fee else None,
    )
    if discount:
        pct, days, net = Decimal(discount.group(1)), int(discount.group(2)), int(discount.group(3))
        if 0 < pct < 100 and days < net:
            terms = PaymentTerms(pct, days, net, terms.late_fee_monthly_percent)
    return terms


def _pct(value: Decimal) -> str:
    return f"{value.normalize():f}"


# The solver's problem --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScheduleItem:
    key: str
    amount_minor: int
    earliest_day: int
    latest_day: int
    due_day: int
    discount_minor: int = 0
    discount_until_day: int = -1
    """Paying on or before this day pays `amount_minor - discount_minor`."""
    late_fee_per_day_minor: int = 0
    priority_weight: int = 1
    """Minor units of cost per day paid after the due day."""

    def __post_init__(self) -> None:
        if self.amount_minor < 0 or not 0 <= self.discount_minor <= self.amount_minor:
            raise InvalidInput("an item's amount and discount must be non-negative")
        if self.earliest_day > self.latest_day:
            raise InvalidInput(f"item {self.key}: earliest day after latest day")
        if self.late_fee_per_day_minor < 0 or self.priority_weight < 0:
            raise InvalidInput("late fees and priority weights may not be negative")


@dataclass(frozen=True, slots=True)
class ScheduleProblem:
    items: tuple[ScheduleItem, ...]
    cash_path: tuple[int, ...]
    """Projected closing balance of each day (0 = today) from everything but these items."""
    buffer_minor: int

    def __post_init__(self) -> None:
        if not self.cash_path:
            raise InvalidInput("a schedule needs at least one day of cash path")
        for item in self.items:
            if item.earliest_day < 0 or item.latest_day >= self.horizon_days:
                raise InvalidInput(f"item {item.key}: window outside the horizon")

    @property
    def horizon_days(self) -> int:
        return len(self.cash_path)

    def headroom(self) -> tuple[int, ...]:
        """Most the schedule may have paid by each day."""
        return tuple(max(0, c - self.buffer_minor) for c in self.cash_path)


Days = tuple[int | None, ...]
"""A solution: a day per item, in item order; None leaves the item unplaced."""


def outflow(item: ScheduleItem, day: int) -> int:
    if item.discount_minor and day <= item.discount_until_day:
        return item.amount_minor - item.discount_minor
    return item.amount_minor


def item_cost(item: ScheduleItem, day: int | None, horizon_days: int) -> int:
    """Late fee + discount missed + priority-weighted lateness of paying on `day`."""
    effective = horizon_days + UNPLACED_GRACE_DAYS if day is None else day
    late = max(0, effective - item.due_day)
    missed = item.discount_minor if effective > item.discount_until_day else 0
    return late * (item.late_fee_per_day_minor + item.priority_weight) + missed


def objective(problem: ScheduleProblem, days: Days) -> int:
    return sum(
        item_cost(i, d, problem.horizon_days) for i, d in zip(problem.items, days, strict=True)
    )


def is_feasible(problem: ScheduleProblem, days: Days) -> bool:
    """Every day in its item's window, and paid-by-day within the headroom."""
    paid = [0] * problem.horizon_days
    for item, day in zip(problem.items, days, strict=True):
        if day is None:
            continue
        if not item.earliest_day <= day <= item.latest_day:
            return False
        paid[day] += outflow(item, day)
    running = 0
    for spent, room in zip(paid, problem.headroom(), strict=True):
        running += spent
        if running > room:
            return False
    return True


def brute_force_solve(problem: ScheduleProblem) -> Days:
    """The optimal schedule by trying every combination: a reference for tiny problems."""
    options = [(*range(item.earliest_day, item.latest_day + 1), None) for item in problem.items]
    count = 1
    for o in options:
        count *= len(o)
    if count > _BRUTE_FORCE_LIMIT:
        raise InvalidInput(f"{count} combinations is too many to search exhaustively")
    best: Days = tuple(None for _ in problem.items)
    best_cost = objective(problem, best)
    for days in itertools.product(*options):
        cost = objective(problem, days)
        if cost < best_cost and is_feasible(problem, days):
            best, best_cost = days, cost
    return best


class ExhaustiveSolver:
    """`brute_force_solve` as a schedule solver, for tiny problems and tests."""

    def solve(self, problem: ScheduleProblem) -> Days:
        return brute_force_solve(problem)


def settle_late(problem: ScheduleProblem, days: Days) -> Days:
    """Moves each placed payment as late as it can go at no extra cost: to its discount
    deadline when it takes the discount (but not later past its due day when lateness
    costs), else to its due day (never past either).

    A later payment never lowers the balance on any day, so feasibility holds and the
    objective is unchanged; the business keeps its cash longer."""
    out: list[int | None] = []
    for item, day in zip(problem.items, days, strict=True):
        if day is None:
            out.append(None)
            continue
        if item.discount_minor and day <= item.discount_until_day:
            limit = item.discount_until_day
            if item.late_fee_per_day_minor + item.priority_weight > 0:
                # Past the due day every day costs: keep the discount, add no lateness.
                limit = min(limit, max(day, item.due_day))
        elif day <= item.due_day:
            limit = item.due_day
        else:
            limit = day
        out.append(max(day, min(limit, item.latest_day)))
    return tuple(out)


# From bills to a problem and back ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BillTerms:
    """What the schedule knows about one open bill."""

    bill: Bill
    vendor_name: str
    due_date: date
    """The bill's due date, or one its vendor's terms imply."""
    terms: PaymentTerms
    priority: BillPriority


@dataclass(frozen=True, slots=True)
class ScheduledBill:
    bill_id: BillId
    vendor_name: str
    amount: Money
    """What is paid: the balance, less a discount taken."""
    due_date: date
    pay_on: date | None
    """None: could not be placed within the horizon."""
    discount_taken: Money
    late_fee: Money
    priority: int
    reasons: tuple[str, ...]
    explanation: str

    @property
    def placed(self) -> bool:
        return self.pay_on is not None


@dataclass(frozen=True, slots=True)
class Schedule:
    business_id: BusinessId
    as_of: date
    buffer: Money
    hurdle_rate: Decimal
    bills: tuple[ScheduledBill, ...]
    """Soonest payment first; unplaced bills last, highest priority first."""
    objective: int
    low_balance: Money
    """The lowest projected daily balance with the schedule paid."""

    @property
    def unplaced(self) -> tuple[ScheduledBill, ...]:
        return tuple(b for b in self.bills if not b.placed)

    @property
    def discounts_taken(self) -> Money:
        return total((b.discount_taken for b in self.bills), self.buffer.currency)

    @property
    def late_fees(self) -> Money:
        return total((b.late_fee for b in self.bills), self.buffer.currency)


def late_fee_per_day(amount: Money, monthly_percent: Decimal) -> Money:
    """A monthly percentage spread over 30 days, rounded half to even."""
    return amount.times(monthly_percent / 100 / 30, rounding=ROUND_HALF_EVEN)


def build_problem(
    bills: Sequence[BillTerms],
    *,
    as_of: date,
    cash_path: Sequence[Money],
    buffer: Money,
    hurdle_rate: Decimal = DEFAULT_HURDLE_RATE,
) -> ScheduleProblem:
    """Each bill may be paid any day from today to the horizon's end; a discount is on
    offer only when its implied annual rate beats the hurdle rate."""
    currency = buffer.currency
    last = len(cash_path) - 1
    items = []
    for entry in bills:
        bill = entry.bill
        if bill.balance.currency != currency:
            raise InvalidInput(f"bill {bill.bill_id} is not in {currency}")
        discount, until = _discount(entry, as_of, hurdle_rate)
        fee_pct = entry.terms.late_fee_monthly_percent or DEFAULT_LATE_FEE_MONTHLY_PERCENT
        items.append(
            ScheduleItem(
                key=bill.bill_id,
                amount_minor=bill.balance.amount_minor,
                earliest_day=0,
                latest_day=last,
                due_day=(entry.due_date - as_of).days,
                discount_minor=discount.amount_minor,
                discount_until_day=until,
                late_fee_per_day_minor=late_fee_per_day(bill.balance, fee_pct).amount_minor,
                priority_weight=max(
                    1, bill.balance.amount_minor * entry.priority.score // _PRIORITY_SCALE
                ),
            )
        )
    return ScheduleProblem(
        tuple(items),
        tuple(m.amount_minor for m in cash_path),
        buffer.amount_minor,
    )


def _discount(entry: BillTerms, as_of: date, hurdle_rate: Decimal) -> tuple[Money, int]:
    terms = entry.terms
    rate = terms.implied_annual_rate
    zero = Money.zero(entry.bill.balance.currency)
    if rate is None or rate <= hurdle_rate or terms.discount_days is None:
        return zero, -1
    until = entry.bill.issue_date + timedelta(days=terms.discount_days)
    if until < as_of:
        return zero, -1
    assert terms.discount_percent is not None
    amount = entry.bill.balance.percent(terms.discount_percent, rounding=ROUND_HALF_EVEN)
    return amount, (until - as_of).days


def explain(
    business_id: BusinessId,
    bills: Sequence[BillTerms],
    problem: ScheduleProblem,
    days: Days,
    *,
    as_of: date,
    buffer: Money,
    hurdle_rate: Decimal = DEFAULT_HURDLE_RATE,
) -> Schedule:
    """The schedule in words: why each bill is paid when it is, or not at all."""
    currency = buffer.currency
    headroom = problem.headroom()
    paid_by = _paid_by(problem, days)
    out = []
    for entry, item, day in zip(bills, problem.items, days, strict=True):
        pay_on = None if day is None else as_of + timedelta(days=day)
        taken = item.discount_minor if day is not None and day <= item.discount_until_day else 0
        late_days = 0 if day is None else max(0, day - max(item.due_day, 0))
        fee = Money(late_days * item.late_fee_per_day_minor, currency)
        words = _words(entry, item, day, pay_on, fee, headroom, paid_by, as_of, buffer, hurdle_rate)
        out.append(
            ScheduledBill(
                bill_id=entry.bill.bill_id,
                vendor_name=entry.vendor_name,
                amount=Money(item.amount_minor - taken, currency),
                due_date=entry.due_date,
                pay_on=pay_on,
                discount_taken=Money(taken, currency),
                late_fee=fee,
                priority=entry.priority.score,
                reasons=entry.priority.reasons,
                explanation=words,
            )
        )
    out.sort(key=lambda b: (b.pay_on is None, b.pay_on or date.max, -b.priority, b.bill_id))
    low = min(c - p for c, p in zip(problem.cash_path, paid_by, strict=True))
    return Schedule(
        business_id=business_id,
        as_of=as_of,
        buffer=buffer,
        hurdle_rate=hurdle_rate,
        bills=tuple(out),
        objective=objective(problem, days),
        low_balance=Money(low, currency),
    )


def _paid_by(problem: ScheduleProblem, days: Days) -> list[int]:
    per_day = [0] * problem.horizon_days
    for item, day in zip(problem.items, days, strict=True):
        if day is not None:
            per_day[day] += outflow(item, day)
    return list(itertools.accumulate(per_day))


def _words(
    entry: BillTerms,
    item: ScheduleItem,
    day: int | None,
    pay_on: date | None,
    fee: Money,
    headroom: Sequence[int],
    paid_by: Sequence[int],
    as_of: date,
    buffer: Money,
    hurdle_rate: Decimal,
) -> str:
    terms = entry.terms
    rate = terms.implied_annual_rate
    hurdle = f"{_pct(hurdle_rate * 100)}%"
    parts: list[str] = []
    if day is None or pay_on is None:
        parts.append(
            "Not placed: paying it within the 13 weeks would take the projected balance "
            f"below the {buffer.format()} buffer; bills of higher priority came first"
        )
    elif item.discount_minor and day <= item.discount_until_day:
        assert rate is not None
        parts.append(
            f"Paid {pay_on.isoformat()} to take the {terms.label()} discount "
            f"({Money(item.discount_minor, buffer.currency).format()}): worth about "
            f"{rate * 100:.0f}% a year, above the {hurdle} hurdle rate"
        )
    elif day > item.due_day and item.due_day >= 0:
        parts.append(
            f"Paid {pay_on.isoformat()}, {day - item.due_day} days after its "
            f"{entry.due_date.isoformat()} due date: paying sooner would take the projected "
            f"balance below the {buffer.format()} buffer; late fee about {fee.format()}"
        )
    elif item.due_day < 0:
        when = "today" if day == 0 else pay_on.isoformat()
        parts.append(
            f"Overdue since {entry.due_date.isoformat()}: paid {when}"
            + ("" if day == 0 else ", the first day the buffer allows")
        )
    elif day == item.due_day:
        parts.append(
            f"Paid on its due date, {pay_on.isoformat()}: the cash stays in the account until then"
        )
    else:
        parts.append(f"Paid {pay_on.isoformat()}, before its {entry.due_date.isoformat()} due date")
    if item.discount_minor and (day is None or day > item.discount_until_day):
        parts.append(
            f"the {terms.label()} discount was missed: paying by "
            f"{(as_of + timedelta(days=item.discount_until_day)).isoformat()} would break "
            "the buffer"
        )
    elif rate is not None and not item.discount_minor and rate <= hurdle_rate:
        parts.append(
            f"its {terms.label()} discount is worth about {rate * 100:.0f}% a year, "
            f"not above the {hurdle} hurdle rate, so it is not taken"
        )
    parts.append("priority " + str(entry.priority.score) + ": " + "; ".join(entry.priority.reasons))
    return "; ".join(parts) + "."


def daily_path(opening: Money, closings: Sequence[Money], *, days: int) -> tuple[Money, ...]:
    """A daily balance path from weekly closings: day 0 is the opening; each day of a
    week takes the lower of that week's opening and closing, since the weekly figures do
    not say on which day within the week money moves."""
    path = [opening]
    week_open = opening
    for close in closings:
        low = min(week_open, close)
        path.extend([low] * 7)
        week_open = close
    if len(path) < days:
        path.extend([week_open] * (days - len(path)))
    return tuple(path[:days])


def due_date_of(bill: Bill, terms_days: int | None) -> date:
    """The bill's due date, else its issue date plus its vendor's terms (30 days)."""
    if bill.due_date is not None:
        return bill.due_date
    return bill.issue_date + timedelta(days=30 if terms_days is None else terms_days)


def terms_of(bill: Bill, vendor_terms: Mapping[BillId, str] | None = None) -> PaymentTerms:
    """Terms stated on the bill's memo (or text given for it)."""
    text = (vendor_terms or {}).get(bill.bill_id, "") + " " + bill.memo
    return parse_terms(text)
