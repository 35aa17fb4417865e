"""Aging and the week-on-week insights of the advisor digest."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rowcol.core.domain.digest import (
    AGING_BUCKETS,
    Facts,
    Tone,
    aging,
    insights,
    payables_owed,
    receivables_owed,
)
from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.ids import BillId, BusinessId, CustomerId, InvoiceId, VendorId
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import Bill, BillStatus, Invoice, InvoiceStatus

TODAY = date(2026, 11, 29)
BIZ = BusinessId("biz-1")


def usd(minor: int) -> Money:
    return Money(minor, "USD")


owed_items = st.lists(
    st.tuples(
        st.one_of(st.none(), st.dates(date(2025, 1, 1), date(2027, 6, 1))),
        st.integers(0, 10**9).map(usd),
    ),
    max_size=40,
)


@given(owed_items)
def test_aging_keeps_every_amount_in_exactly_one_bucket(
    owed: list[tuple[date | None, Money]],
) -> None:
    aged = aging(owed, as_of=TODAY, currency="USD")
    assert [b.label for b in aged.buckets] == [label for label, _, _ in AGING_BUCKETS]
    assert aged.total.amount_minor == sum(m.amount_minor for _, m in owed)
    assert sum(b.count for b in aged.buckets) == len(owed)
    not_due = sum(m.amount_minor for d, m in owed if d is None or d >= TODAY)
    assert aged.buckets[0].amount.amount_minor == not_due
    assert aged.overdue.amount_minor == aged.total.amount_minor - not_due


def test_aging_puts_the_boundaries_where_the_labels_say() -> None:
    owed = [(TODAY - timedelta(days=d), usd(100)) for d in (0, 1, 30, 31, 60, 61, 90, 91)]
    aged = aging(owed, as_of=TODAY, currency="USD")
    assert [b.count for b in aged.buckets] == [1, 2, 2, 2, 1]


def test_aging_refuses_another_currency() -> None:
    with pytest.raises(InvalidInput):
        aging([(None, Money(1, "EUR"))], as_of=TODAY, currency="USD")


def invoice(n: int, issued: date, due: date, paid: date | None, amount: int) -> Invoice:
    return Invoice(
        InvoiceId(f"inv-{n}"),
        BIZ,
        CustomerId("c"),
        usd(amount),
        usd(0 if paid else amount),
        issued,
        due,
        InvoiceStatus.PAID if paid else InvoiceStatus.OPEN,
        paid,
    )


@given(
    st.lists(
        st.tuples(
            st.integers(-120, 0),
            st.integers(0, 60),
            st.one_of(st.none(), st.integers(0, 90)),
            st.integers(1, 10**7),
        ),
        max_size=30,
    ),
    st.integers(0, 30),
)
def test_receivables_owed_on_a_day_are_those_issued_by_then_and_paid_after(
    rows: list[tuple[int, int, int | None, int]], back: int
) -> None:
    on = TODAY - timedelta(days=back)
    invoices = []
    for n, (issued, terms, paid_after, amount) in enumerate(rows):
        issue = TODAY + timedelta(days=issued)
        paid = None if paid_after is None else min(TODAY, issue + timedelta(days=paid_after))
        invoices.append(invoice(n, issue, issue + timedelta(days=terms), paid, amount))
    owed = receivables_owed(invoices, on=on)
    expected = sum(
        i.amount.amount_minor
        for i in invoices
        if i.issue_date <= on and (i.paid_date is None or i.paid_date > on)
    )
    assert sum(m.amount_minor for _, m in owed) == expected


def test_payables_skip_void_and_future_bills() -> None:
    def bill(n: int, issued: date, status: BillStatus, paid: date | None = None) -> Bill:
        return Bill(
            BillId(f"b-{n}"),
            BIZ,
            VendorId("v"),
            usd(500),
            usd(0 if status is not BillStatus.OPEN else 500),
            issued,
            issued + timedelta(days=30),
            status,
            paid_date=paid,
        )

    bills = [
        bill(1, TODAY - timedelta(days=40), BillStatus.OPEN),
        bill(2, TODAY - timedelta(days=40), BillStatus.VOID),
        bill(3, TODAY + timedelta(days=1), BillStatus.OPEN),
        bill(4, TODAY - timedelta(days=40), BillStatus.PAID, paid=TODAY - timedelta(days=3)),
    ]
    assert [m.amount_minor for _, m in payables_owed(bills, on=TODAY)] == [500]
    week_ago = payables_owed(bills, on=TODAY - timedelta(days=7))
    assert sorted(m.amount_minor for _, m in week_ago) == [500, 500]


def facts(on: date, **changes: object) -> Facts:
    base: dict[str, object] = {
        "on": on,
        "cash": usd(100_000_00),
        "low_point": usd(60_000_00),
        "low_week_starts": on + timedelta(days=22),
        "breach_probability": 0.05,
        "buffer": usd(20_000_00),
        "runway_weeks": None,
        "overdue_receivables": usd(10_000_00),
        "overdue_payables": usd(0),
    }
    base.update(changes)
    return Facts(**base)  # type: ignore[arg-type]


def test_a_quiet_week_says_nothing() -> None:
    assert insights(facts(TODAY), facts(TODAY - timedelta(days=7))) == []


def test_a_low_point_below_the_buffer_comes_first_and_names_the_numbers() -> None:
    now = facts(TODAY, low_point=usd(12_000_00), breach_probability=0.7, cash=usd(80_000_00))
    said = insights(now, facts(TODAY - timedelta(days=7)))
    assert said[0].tone is Tone.ACT
    assert "12,000.00" in said[0].headline and "20,000.00" in said[0].headline
    headlines = " ".join(i.headline for i in said)
    assert "fell by 20,000.00" in headlines
    assert "from 5% to 70%" in headlines


@given(
    st.integers(0, 10**9),
    st.integers(0, 10**9),
    st.floats(0, 1),
    st.floats(0, 1),
    st.integers(0, 10**8),
    st.integers(0, 10**8),
)
def test_insights_are_ordered_by_urgency_and_change_with_the_facts(
    cash_before: int, cash_now: int, p_before: float, p_now: float, ar_before: int, ar_now: int
) -> None:
    now = facts(
        TODAY, cash=usd(cash_now), breach_probability=p_now, overdue_receivables=usd(ar_now)
    )
    before = facts(
        TODAY - timedelta(days=7),
        cash=usd(cash_before),
        breach_probability=p_before,
        overdue_receivables=usd(ar_before),
    )
    said = insights(now, before)
    rank = {Tone.ACT: 0, Tone.WATCH: 1, Tone.NEUTRAL: 2, Tone.GOOD: 3}
    assert [rank[i.tone] for i in said] == sorted(rank[i.tone] for i in said)
    assert all(i.headline and i.why for i in said)
    if cash_now == cash_before:
        assert not any(i.headline.startswith("Cash ") for i in said)


def test_the_earlier_facts_must_be_earlier() -> None:
    with pytest.raises(InvalidInput):
        insights(facts(TODAY), facts(TODAY))


def test_the_runway_trend_walks_cash_back_through_the_bank() -> None:
    from rowcol.core.domain.digest import runway_trend
    from rowcol.core.domain.ids import BankAccountId, BankTransactionId
    from rowcol.core.domain.records import BankTransaction

    def spent(n: int, days_ago: int, minor: int) -> BankTransaction:
        return BankTransaction(
            BankTransactionId(f"t-{n}"),
            BIZ,
            BankAccountId("a"),
            usd(minor),
            TODAY - timedelta(days=days_ago),
            "rent",
        )

    # $1,000 out every week for half a year, nothing in.
    txns = [spent(n, 7 * n + 1, 1_000_00) for n in range(26)]
    points = runway_trend(usd(20_000_00), txns, today=TODAY, points=3)
    assert [p.on for p in points] == [TODAY - timedelta(days=14), TODAY - timedelta(days=7), TODAY]
    assert [p.cash.amount_minor for p in points] == [22_000_00, 21_000_00, 20_000_00]
    assert [p.weeks for p in points] == [22, 21, 20]
    with pytest.raises(InvalidInput):
        runway_trend(usd(1), txns, today=TODAY, points=0)
