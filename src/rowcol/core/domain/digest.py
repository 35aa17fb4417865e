"""The advisor's weekly read of a client: aging of what is owed both ways, and what
changed since last week said in plain words, with why it matters."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Final

from rowcol.core.domain.cash import runway
from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.forecast import open_at
from rowcol.core.domain.money import Money, total
from rowcol.core.domain.records import (
    BankTransaction,
    Bill,
    BillStatus,
    Invoice,
    InvoiceStatus,
)

AGING_BUCKETS: Final = (
    ("not due", None, 0),
    ("1-30 days", 1, 30),
    ("31-60 days", 31, 60),
    ("61-90 days", 61, 90),
    ("over 90 days", 91, None),
)
"""(label, first day late, last day late); None is open-ended."""


@dataclass(frozen=True, slots=True)
class AgingBucket:
    label: str
    amount: Money
    count: int


@dataclass(frozen=True, slots=True)
class Aging:
    """What is owed, by how late it is on `as_of`."""

    as_of: date
    buckets: tuple[AgingBucket, ...]

    @property
    def total(self) -> Money:
        currency = self.buckets[0].amount.currency
        return total((b.amount for b in self.buckets), currency)

    @property
    def overdue(self) -> Money:
        currency = self.buckets[0].amount.currency
        return total((b.amount for b in self.buckets[1:]), currency)


def aging(owed: Iterable[tuple[date | None, Money]], *, as_of: date, currency: str) -> Aging:
    """Ages (due date, amount) pairs; no due date counts as not due."""
    amounts = [0] * len(AGING_BUCKETS)
    counts = [0] * len(AGING_BUCKETS)
    for due, amount in owed:
        if amount.currency != currency:
            raise InvalidInput(f"a {amount.currency} amount in a {currency} aging")
        late = 0 if due is None else (as_of - due).days
        index = next(
            n
            for n, (_, first, last) in enumerate(AGING_BUCKETS)
            if (first is None or late >= first) and (last is None or late <= last)
        )
        amounts[index] += amount.amount_minor
        counts[index] += 1
    return Aging(
        as_of,
        tuple(
            AgingBucket(label, Money(minor, currency), count)
            for (label, _, _), minor, count in zip(AGING_BUCKETS, amounts, counts, strict=True)
        ),
    )


def receivables_owed(invoices: Iterable[Invoice], *, on: date) -> list[tuple[date | None, Money]]:
    """What customers owed at the end of `on`: invoices issued by then and not yet paid
    then (today's open balance; the whole amount of one paid later)."""
    return _owed(invoices, on, frozenset({InvoiceStatus.OPEN, InvoiceStatus.DISPUTED}))


def payables_owed(bills: Iterable[Bill], *, on: date) -> list[tuple[date | None, Money]]:
    """What the business owed its vendors at the end of `on`, as for receivables."""
    return _owed(bills, on, frozenset({BillStatus.OPEN}))


def _owed(
    records: Iterable[Bill | Invoice],
    on: date,
    open_statuses: frozenset[BillStatus | InvoiceStatus],
) -> list[tuple[date | None, Money]]:
    out: list[tuple[date | None, Money]] = []
    for record in records:
        if record.issue_date > on:
            continue
        is_open = record.status in open_statuses
        minor = open_at(record.balance, record.amount, record.paid_date, is_open, on)
        if minor:
            out.append((record.due_date, Money(minor, record.amount.currency)))
    return out


RUNWAY_CAP_WEEKS: Final = 52
"""Runway at or beyond a year (or cash not shrinking at all) is drawn as a year."""


@dataclass(frozen=True, slots=True)
class RunwayPoint:
    on: date
    cash: Money
    weeks: int | None
    """Weeks the cash lasted at the 13 weeks' net burn before `on`; None: not shrinking."""


def runway_trend(
    cash: Money, transactions: Sequence[BankTransaction], *, today: date, points: int = 13
) -> list[RunwayPoint]:
    """Runway as it stood at the end of each of the last `points` weeks, oldest first:
    today's cash walked back through the bank lines posted since, over the net burn of
    the 13 weeks before each day."""
    if points < 1:
        raise InvalidInput("a trend needs at least one point")
    posted = sorted(
        (t for t in transactions if not t.pending and t.amount.currency == cash.currency),
        key=lambda t: t.posted_on,
    )
    out: list[RunwayPoint] = []
    for k in range(points - 1, -1, -1):
        on = today - timedelta(days=7 * k)
        later = sum(t.amount.amount_minor for t in posted if t.posted_on > on)
        # Bank sign: money out is positive, so it was still in the account on `on`.
        then = Money(cash.amount_minor + later, cash.currency)
        out.append(RunwayPoint(on, then, runway(then, posted, today=on).weeks))
    return out


# What changed ---------------------------------------------------------------------------------


class Tone(StrEnum):
    GOOD = "good"
    NEUTRAL = "neutral"
    WATCH = "watch"
    ACT = "act"


@dataclass(frozen=True, slots=True)
class Facts:
    """A client's position on one day, as the digest compares it week to week."""

    on: date
    cash: Money
    low_point: Money | None
    """The forecast's lowest P50 closing; None without a forecast."""
    low_week_starts: date | None
    breach_probability: float | None
    """The highest weekly probability of going below the buffer over the forecast."""
    buffer: Money | None
    runway_weeks: int | None
    """Weeks before the forecast first goes below zero; None when it never does."""
    overdue_receivables: Money
    overdue_payables: Money


@dataclass(frozen=True, slots=True)
class Insight:
    tone: Tone
    headline: str
    why: str


_MATERIAL_SHARE: Final = 0.05
"""A change in cash or the low point smaller than this share of the larger value is noise."""
_PROBABILITY_STEP: Final = 0.10


def insights(now: Facts, before: Facts | None) -> list[Insight]:
    """Plain-language insights: where the client stands, and what changed since
    `before` (usually a week earlier) and why it matters; the most pressing first."""
    if before is not None and before.on >= now.on:
        raise InvalidInput("the earlier facts must come before the later ones")
    out: list[Insight] = []
    out += _standing(now)
    if before is not None:
        out += _changes(now, before)
    order = {Tone.ACT: 0, Tone.WATCH: 1, Tone.NEUTRAL: 2, Tone.GOOD: 3}
    return sorted(out, key=lambda i: order[i.tone])


def _standing(now: Facts) -> list[Insight]:
    out: list[Insight] = []
    if now.low_point is not None and now.buffer is not None and now.low_point < now.buffer:
        when = f" in the week of {_day(now.low_week_starts)}" if now.low_week_starts else ""
        out.append(
            Insight(
                Tone.ACT,
                f"Cash is forecast to fall to {now.low_point.format()}{when}, below the "
                f"{now.buffer.format()} buffer.",
                "Bills that would take cash below the buffer are held at approval: move or "
                "split payments, or bring receipts forward, before that week.",
            )
        )
    elif now.breach_probability is not None and now.breach_probability >= 0.2:
        out.append(
            Insight(
                Tone.WATCH,
                f"A {_pct(now.breach_probability)} chance of going below the buffer in the next "
                "13 weeks.",
                "The most likely path stays above it, but late customers or an unplanned cost "
                "could take it there.",
            )
        )
    if now.runway_weeks is not None:
        out.append(
            Insight(
                Tone.ACT if now.runway_weeks < 8 else Tone.WATCH,
                f"At the forecast pace cash runs out in {now.runway_weeks} weeks.",
                "Under two months leaves little room to raise money or cut costs."
                if now.runway_weeks < 8
                else "Time enough to act, if the plan starts now.",
            )
        )
    return out


def _changes(now: Facts, before: Facts) -> list[Insight]:
    out: list[Insight] = []
    since = f"since {_day(before.on)}"
    moved = now.cash - before.cash
    if _material(moved, now.cash, before.cash):
        up = not moved.is_negative
        out.append(
            Insight(
                Tone.GOOD if up else Tone.NEUTRAL,
                f"Cash {'rose' if up else 'fell'} by {_abs(moved).format()} {since}, to "
                f"{now.cash.format()}.",
                "Receipts outran payments." if up else "Payments outran receipts.",
            )
        )
    if now.low_point is not None and before.low_point is not None:
        shift = now.low_point - before.low_point
        if _material(shift, now.low_point, before.low_point):
            better = not shift.is_negative
            out.append(
                Insight(
                    Tone.GOOD if better else Tone.WATCH,
                    f"The forecast low point {'improved' if better else 'worsened'} by "
                    f"{_abs(shift).format()} {since}, to {now.low_point.format()}.",
                    "More room for bills and surprises."
                    if better
                    else "Less room before the buffer: check what moved (a late customer, "
                    "a new bill) in the forecast.",
                )
            )
    if now.breach_probability is not None and before.breach_probability is not None:
        step = now.breach_probability - before.breach_probability
        if abs(step) >= _PROBABILITY_STEP:
            rose = step > 0
            out.append(
                Insight(
                    Tone.WATCH if rose else Tone.GOOD,
                    f"The chance of going below the buffer {'rose' if rose else 'fell'} from "
                    f"{_pct(before.breach_probability)} to {_pct(now.breach_probability)}.",
                    "Approvals will look harder at large bills."
                    if rose
                    else "Fewer payments will be held for cash.",
                )
            )
    grown = now.overdue_receivables - before.overdue_receivables
    if _material(grown, now.overdue_receivables, before.overdue_receivables):
        more = not grown.is_negative
        out.append(
            Insight(
                Tone.WATCH if more else Tone.GOOD,
                f"Overdue receivables {'grew' if more else 'shrank'} by {_abs(grown).format()} "
                f"{since}, to {now.overdue_receivables.format()}.",
                "Reminders run for overdue invoices; the oldest may need a call."
                if more
                else "Customers caught up: the forecast counts on that cash sooner.",
            )
        )
    late = now.overdue_payables - before.overdue_payables
    if not late.is_negative and _material(late, now.overdue_payables, before.overdue_payables):
        out.append(
            Insight(
                Tone.WATCH,
                f"Bills past due grew by {late.format()} {since}, to "
                f"{now.overdue_payables.format()}.",
                "Late bills risk fees and strain vendor terms.",
            )
        )
    return out


def _material(change: Money, *values: Money) -> bool:
    if change.is_zero:
        return False
    largest = max(abs(v.amount_minor) for v in values)
    return abs(change.amount_minor) >= _MATERIAL_SHARE * largest


def _abs(money: Money) -> Money:
    return -money if money.is_negative else money


def _pct(share: float) -> str:
    return f"{round(share * 100)}%"


def _day(day: date | None) -> str:
    return "" if day is None else f"{day:%-d %b}"


def week_before(on: date) -> date:
    return on - timedelta(days=7)


def highest_breach(probabilities: Sequence[float]) -> float | None:
    return max(probabilities, default=None)
