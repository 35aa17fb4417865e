"""Scenarios change what the projector reads; their comparison with the baseline."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.forecast import CashFlowProjector, ForecastInput
from rowcol.core.domain.ids import BillId, BusinessId, CustomerId, InvoiceId, VendorId
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import Bill, Invoice
from rowcol.core.domain.scenarios import (
    Cadence,
    Change,
    CustomerNeverPays,
    CustomerPaysLate,
    MoveBills,
    NewCost,
    RevenueChange,
    Scenario,
    apply,
    change_to_json,
    changes_of,
    compare,
    runway_weeks,
)

AS_OF = date(2026, 11, 2)
BIZ = BusinessId("biz-1")
NOW = datetime(2026, 11, 2, 15, tzinfo=UTC)
PROJECTOR = CashFlowProjector(samples=20)


def usd(minor: int) -> Money:
    return Money(minor, "USD")


def bill(n: int, minor: int, due_in: int) -> Bill:
    return Bill(
        BillId(f"b{n}"),
        BIZ,
        VendorId(f"v{n}"),
        usd(minor),
        usd(minor),
        AS_OF - timedelta(days=10),
        AS_OF + timedelta(days=due_in),
    )


def invoice(n: int, minor: int, due_in: int, customer: str = "c1") -> Invoice:
    return Invoice(
        InvoiceId(f"i{n}"),
        BIZ,
        CustomerId(customer),
        usd(minor),
        usd(minor),
        AS_OF - timedelta(days=5),
        AS_OF + timedelta(days=due_in),
    )


def data_of(bills: list[Bill], invoices: list[Invoice], opening: int = 1_000_000) -> ForecastInput:
    return ForecastInput(BIZ, "USD", AS_OF, usd(opening), bills, invoices, (), buffer=usd(0))


def scenario(*changes: Change) -> Scenario:
    return Scenario(BIZ, "what-if", tuple(changes), NOW, "controller:u1")


bills_st = st.lists(
    st.tuples(st.integers(1, 500_000), st.integers(-5, 80)), min_size=1, max_size=5
).map(lambda xs: [bill(n, m, d) for n, (m, d) in enumerate(xs)])
invoices_st = st.lists(st.tuples(st.integers(1, 500_000), st.integers(0, 80)), max_size=4).map(
    lambda xs: [invoice(n, m, d, f"c{n % 2}") for n, (m, d) in enumerate(xs)]
)


@settings(max_examples=40, deadline=None)
@given(bills_st, invoices_st, st.integers(0, 4), st.integers(1, 90))
def test_delaying_a_bill_never_lowers_a_closing_before_its_new_date(
    bills: list[Bill], invoices: list[Invoice], pick: int, days_late: int
) -> None:
    data = data_of(bills, invoices)
    chosen = bills[pick % len(bills)]
    assert chosen.due_date is not None
    new_date = max(chosen.due_date, AS_OF + timedelta(days=1)) + timedelta(days=days_late)
    base = PROJECTOR.project(data)
    changed = PROJECTOR.project(apply(scenario(MoveBills((chosen.bill_id,), to=new_date)), data))
    for b, c in zip(base.weeks, changed.weeks, strict=True):
        if b.ends_on < new_date:
            assert c.p50 >= b.p50
        else:
            # Once the new date has passed the bill is paid either way.
            assert c.p50 == b.p50


@settings(max_examples=40, deadline=None)
@given(bills_st, invoices_st, st.integers(1, 900_000), st.sampled_from(list(Cadence)))
def test_a_new_cost_lowers_closings_by_exactly_what_it_has_paid(
    bills: list[Bill], invoices: list[Invoice], amount: int, cadence: Cadence
) -> None:
    data = data_of(bills, invoices)
    cost = NewCost("new hire", usd(amount), cadence, AS_OF + timedelta(days=3))
    base = PROJECTOR.project(data)
    changed = PROJECTOR.project(apply(scenario(cost), data))
    for b, c in zip(base.weeks, changed.weeks, strict=True):
        paid = len(cost.dates(b.ends_on)) * amount
        assert (b.p50 - c.p50).amount_minor == paid


@settings(max_examples=30, deadline=None)
@given(bills_st, invoices_st, st.integers(-100, 300).filter(bool))
def test_revenue_up_never_lowers_and_down_never_raises_a_closing(
    bills: list[Bill], invoices: list[Invoice], percent: int
) -> None:
    data = data_of(bills, invoices)
    change = RevenueChange(Decimal(percent), AS_OF + timedelta(days=10))
    base = PROJECTOR.project(data)
    changed = PROJECTOR.project(apply(scenario(change), data))
    for b, c in zip(base.weeks, changed.weeks, strict=True):
        assert (c.p50 >= b.p50) if percent > 0 else (c.p50 <= b.p50)
        if b.ends_on < change.starts_on:
            assert c.p50 == b.p50


@settings(max_examples=30, deadline=None)
@given(bills_st, invoices_st)
def test_a_customer_that_never_pays_never_raises_a_closing(
    bills: list[Bill], invoices: list[Invoice]
) -> None:
    data = data_of(bills, invoices)
    base = PROJECTOR.project(data)
    changed = PROJECTOR.project(apply(scenario(CustomerNeverPays(CustomerId("c0"))), data))
    for b, c in zip(base.weeks, changed.weeks, strict=True):
        assert c.p50 <= b.p50
    lost = sum(i.balance.amount_minor for i in invoices if i.customer_id == "c0")
    assert (base.weeks[-1].p50 - changed.weeks[-1].p50).amount_minor == lost


def test_a_late_customer_moves_its_open_invoices_due_dates_and_no_one_elses() -> None:
    data = data_of([bill(0, 100, 5)], [invoice(0, 500, 3, "c1"), invoice(1, 700, 3, "c2")])
    changed = apply(scenario(CustomerPaysLate(CustomerId("c1"), 21)), data)
    dues = {i.invoice_id: i.due_date for i in changed.invoices}
    assert dues[InvoiceId("i0")] == AS_OF + timedelta(days=24)
    assert dues[InvoiceId("i1")] == AS_OF + timedelta(days=3)


def test_moving_a_bill_by_days_counts_from_its_scheduled_date_then_its_due_date() -> None:
    data = data_of([bill(0, 100, 5), bill(1, 100, 9)], [])
    data = ForecastInput(**{**_fields(data), "pay_dates": {BillId("b1"): AS_OF}})
    changed = apply(scenario(MoveBills((BillId("b0"), BillId("b1")), by_days=-3)), data)
    assert changed.pay_dates == {
        BillId("b0"): AS_OF + timedelta(days=2),
        BillId("b1"): AS_OF - timedelta(days=3),
    }


def _fields(data: ForecastInput) -> dict[str, object]:
    return {name: getattr(data, name) for name in data.__slots__}


def test_a_scenario_naming_an_unknown_bill_is_refused_with_its_name() -> None:
    with pytest.raises(InvalidInput, match="unknown bill nope"):
        apply(scenario(MoveBills((BillId("nope"),), by_days=7)), data_of([bill(0, 1, 1)], []))


def test_a_cost_in_another_currency_is_refused() -> None:
    cost = NewCost("rent", Money(100, "EUR"), Cadence.MONTHLY, AS_OF)
    with pytest.raises(InvalidInput, match="in EUR"):
        apply(scenario(cost), data_of([bill(0, 1, 1)], []))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([{"kind": "fly"}], "change 1: a change's kind is one of"),
        ([{"kind": "move_bills", "bills": ["b1"]}], "either a date"),
        ([{"kind": "move_bills", "bills": ["b1"], "by_days": 0}], "by_days"),
        ([{"kind": "revenue", "percent": 12.5, "from": "2026-12-01"}], "text or a whole"),
        ([{"kind": "revenue", "percent": "0", "from": "2026-12-01"}], "not 0"),
        ([{"kind": "customer_late", "customer": "c1", "days": -2}], "at least 1 day"),
        ([{"kind": "customer_never_pays", "customer": "c1", "x": 1}], "no field x"),
        (
            [
                {
                    "kind": "new_cost",
                    "label": "x",
                    "amount": "-5",
                    "currency": "USD",
                    "every": "monthly",
                    "from": "2026-12-01",
                }
            ],
            "positive",
        ),
        (
            [
                {
                    "kind": "new_cost",
                    "label": "x",
                    "amount": "5",
                    "currency": "USD",
                    "every": "daily",
                    "from": "2026-12-01",
                }
            ],
            "monthly or biweekly",
        ),
        ("nope", "JSON list"),
    ],
)
def test_bad_changes_are_refused_with_a_clear_message(raw: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        changes_of(raw)


def test_changes_survive_their_json_form() -> None:
    changes: tuple[Change, ...] = (
        MoveBills((BillId("b1"), BillId("b2")), to=date(2026, 12, 1)),
        MoveBills((BillId("b3"),), by_days=-4),
        CustomerPaysLate(CustomerId("c1"), 30),
        CustomerNeverPays(CustomerId("c2")),
        NewCost("hire", Money.of("6500.25", "USD"), Cadence.BIWEEKLY, AS_OF, AS_OF),
        RevenueChange(Decimal("-12.5"), AS_OF),
    )
    assert changes_of([change_to_json(c) for c in changes]) == changes


def test_a_scenario_needs_a_usable_name_and_a_change() -> None:
    with pytest.raises(InvalidInput, match="scenario name"):
        Scenario(BIZ, "no spaces", (CustomerNeverPays(CustomerId("c")),), NOW, "x")
    with pytest.raises(InvalidInput, match="at least one change"):
        Scenario(BIZ, "ok", (), NOW, "x")


def test_compare_reports_runway_low_points_and_differences_per_week() -> None:
    data = data_of([bill(0, 900_000, 10)], [], opening=500_000)
    base = PROJECTOR.project(data)
    changed = PROJECTOR.project(apply(scenario(MoveBills((BillId("b0"),), by_days=30)), data))
    result = compare(base, changed)
    # The bill falls due in week 2 and moves to week 6: weeks 2-5 keep its 9,000.
    assert [w.difference for w in result.weeks][:7] == [usd(0)] + [usd(900_000)] * 4 + [usd(0)] * 2
    assert [w.changed for w in result.weeks] == [w.p50 for w in changed.weeks]
    assert result.baseline_low_point == base.low_point
    assert result.changed_low_point == changed.low_point
    assert result.baseline_runway_weeks == runway_weeks(base) == 1
    assert result.changed_runway_weeks == 5
    assert result.weeks[1].baseline_breach_probability == 1.0
    assert result.weeks[1].changed_breach_probability == 0.0
    assert compare(base, base).changed_runway_weeks == 1


def test_compare_refuses_forecasts_of_different_horizons() -> None:
    data = data_of([bill(0, 1, 1)], [])
    with pytest.raises(InvalidInput, match="same weeks"):
        compare(PROJECTOR.project(data, weeks=4), PROJECTOR.project(data, weeks=8))
