from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.forecast import (
    Adjustment,
    CashFlowProjector,
    Forecast,
    ForecastInput,
)
from rowcol.core.domain.ids import (
    BankAccountId,
    BankTransactionId,
    BillId,
    BusinessId,
    CustomerId,
    InvoiceId,
    ReserveId,
    VendorId,
)
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import (
    BankTransaction,
    Bill,
    BillStatus,
    Invoice,
    InvoiceStatus,
)
from rowcol.core.domain.reserves import Reserve

BIZ = BusinessId("biz-1")
AS_OF = date(2025, 3, 14)  # a Friday
FIRST_PAYDAY = date(2024, 9, 6)  # a Friday, every other week since


def usd(minor: int) -> Money:
    return Money(minor, "USD")


def txn(n: int, day: date, minor: int, category: str, who: str | None = None) -> BankTransaction:
    return BankTransaction(
        transaction_id=BankTransactionId(f"t-{n}"),
        business_id=BIZ,
        account_id=BankAccountId("acct-1"),
        amount=usd(minor),
        posted_on=day,
        description=category.upper(),
        category=category,
        counterparty=who,
    )


def history() -> list[BankTransaction]:
    """Payroll every other Friday, rent on the 1st, card deposits twice a week, a paid
    bill and paid invoices for customer c-1."""
    out: list[BankTransaction] = []
    n = 0
    day = FIRST_PAYDAY
    while day <= AS_OF:
        n += 1
        out.append(txn(n, day, 500_000 + n * 100, "payroll", "Crewpay"))
        day += timedelta(days=14)
    day = date(2024, 9, 1)
    while day <= AS_OF:
        n += 1
        out.append(txn(n, day, 30_000, "utilities_autopay", "Power Co"))
        month = day.month % 12 + 1
        day = date(day.year + (day.month == 12), month, 1)
    day = date(2024, 9, 2)
    while day <= AS_OF:
        if day.weekday() in (1, 4):
            n += 1
            out.append(txn(n, day, -120_000, "card_deposit", "Square"))
        day += timedelta(days=1)
    for k, paid in enumerate((date(2024, 10, 20), date(2024, 11, 22), date(2025, 1, 8))):
        n += 1
        out.append(txn(n, paid, -200_000 - k, "customer_payment", "Acme"))
        n += 1
        out.append(txn(n, paid, 50_000, "supplies", None))
    return out


def paid_invoices() -> list[Invoice]:
    out = []
    for k, (issue, paid) in enumerate(
        (
            (date(2024, 9, 10), date(2024, 10, 20)),
            (date(2024, 10, 12), date(2024, 11, 22)),
            (date(2024, 11, 28), date(2025, 1, 8)),
        )
    ):
        out.append(
            Invoice(
                invoice_id=InvoiceId(f"i-{k}"),
                business_id=BIZ,
                customer_id=CustomerId("c-1"),
                amount=usd(200_000 + k),
                balance=usd(0),
                issue_date=issue,
                due_date=issue + timedelta(days=30),
                status=InvoiceStatus.PAID,
                paid_date=paid,
            )
        )
    return out


def paid_bills() -> list[Bill]:
    return [
        Bill(
            bill_id=BillId(f"b-paid-{k}"),
            business_id=BIZ,
            vendor_id=VendorId("v-supplies"),
            amount=usd(50_000),
            balance=usd(0),
            issue_date=paid - timedelta(days=20),
            due_date=paid - timedelta(days=5),
            status=BillStatus.PAID,
            category="supplies",
            paid_date=paid,
        )
        for k, paid in enumerate((date(2024, 10, 20), date(2024, 11, 22), date(2025, 1, 8)))
    ]


def open_bill(n: int, minor: int, due: date, vendor: str = "v-new") -> Bill:
    return Bill(
        bill_id=BillId(f"b-open-{n}"),
        business_id=BIZ,
        vendor_id=VendorId(vendor),
        amount=usd(minor),
        balance=usd(minor),
        issue_date=min(due, AS_OF) - timedelta(days=10),
        due_date=due,
        category="contractors",
    )


def open_invoice(minor: int, due: date) -> Invoice:
    return Invoice(
        invoice_id=InvoiceId("i-open"),
        business_id=BIZ,
        customer_id=CustomerId("c-1"),
        amount=usd(minor),
        balance=usd(minor),
        issue_date=due - timedelta(days=30),
        due_date=due,
    )


HISTORY = history()


def make_input(**changes: object) -> ForecastInput:
    base: dict[str, object] = {
        "business_id": BIZ,
        "currency": "USD",
        "as_of": AS_OF,
        "opening_balance": usd(2_000_000),
        "bills": paid_bills(),
        "invoices": [*paid_invoices(), open_invoice(300_000, AS_OF + timedelta(days=10))],
        "transactions": HISTORY,
    }
    base.update(changes)
    return ForecastInput(**base)  # type: ignore[arg-type]


PROJECTOR = CashFlowProjector(samples=100, seed=3)


def project(data: ForecastInput, weeks: int = 13) -> Forecast:
    return PROJECTOR.project(data, weeks=weeks)


BASELINE = project(make_input())

days_ahead = st.integers(min_value=-20, max_value=100)
amounts = st.integers(min_value=1, max_value=5_000_000)


# Conservation and shape --------------------------------------------------------------------


@given(
    st.lists(st.tuples(days_ahead, amounts), max_size=6),
    st.integers(min_value=-(10**8), max_value=10**8),
    st.sampled_from([4, 8, 13, 1, 26]),
)
@settings(max_examples=30, deadline=None)
def test_each_week_closes_at_opening_plus_inflows_minus_outflows_and_weeks_chain(
    bills: list[tuple[int, int]], opening: int, weeks: int
) -> None:
    data = make_input(
        opening_balance=usd(opening),
        bills=[
            *paid_bills(),
            *(open_bill(n, m, AS_OF + timedelta(days=d)) for n, (d, m) in enumerate(bills)),
        ],
    )
    forecast = project(data, weeks)
    assert len(forecast.weeks) == weeks
    assert forecast.weeks[0].opening == usd(opening)
    for week in forecast.weeks:
        assert week.closing == week.opening + week.inflows - week.outflows
        assert not week.inflows.is_negative and not week.outflows.is_negative
        net = sum(m.amount_minor for m in week.by_category.values())
        assert net == week.inflows.amount_minor - week.outflows.amount_minor
        assert week.p10 <= week.p50 <= week.p90
        assert week.p50 == week.closing
        assert (week.ends_on - week.starts_on).days == 6
    for before, after in zip(forecast.weeks, forecast.weeks[1:], strict=False):
        assert after.opening == before.closing
        assert after.starts_on == before.ends_on + timedelta(days=1)
    assert forecast.weeks[0].starts_on == AS_OF + timedelta(days=1)


@given(st.integers(min_value=-(10**8), max_value=10**8), st.integers(0, 10**7))
@settings(max_examples=30, deadline=None)
def test_breach_probability_is_a_probability_that_rises_with_the_buffer(
    buffer: int, step: int
) -> None:
    low = project(make_input(buffer=usd(buffer)))
    high = project(make_input(buffer=usd(buffer + step)))
    for a, b in zip(low.weeks, high.weeks, strict=True):
        assert 0.0 <= a.breach_probability <= b.breach_probability <= 1.0


def test_without_a_buffer_nothing_is_breached() -> None:
    assert all(w.breach_probability == 0.0 for w in BASELINE.weeks)


def test_a_buffer_far_above_every_path_is_always_breached() -> None:
    forecast = project(make_input(buffer=usd(10**12)))
    assert all(w.breach_probability == 1.0 for w in forecast.weeks)


@given(st.integers(min_value=0, max_value=2**32))
@settings(max_examples=10, deadline=None)
def test_the_same_seed_gives_the_same_forecast(seed: int) -> None:
    data = make_input(buffer=usd(1_000_000))
    first = CashFlowProjector(samples=50, seed=seed).project(data)
    second = CashFlowProjector(samples=50, seed=seed).project(data)
    assert first == second


@given(
    st.lists(st.tuples(days_ahead, amounts), max_size=4),
    days_ahead,
    amounts,
    st.sampled_from(["v-new", "v-supplies", "v-other"]),
)
@settings(max_examples=40, deadline=None)
def test_adding_a_bill_never_raises_any_weeks_closing(
    existing: list[tuple[int, int]], due_in: int, minor: int, vendor: str
) -> None:
    bills = [
        *paid_bills(),
        *(open_bill(n, m, AS_OF + timedelta(days=d)) for n, (d, m) in enumerate(existing)),
    ]
    reserve = Reserve(ReserveId("r-1"), BIZ, "contractors", usd(400_000), AS_OF + timedelta(20))
    before = project(make_input(bills=bills, reserves=[reserve]))
    extra = open_bill(99, minor, AS_OF + timedelta(days=due_in), vendor)
    after = project(make_input(bills=[*bills, extra], reserves=[reserve]))
    for a, b in zip(before.weeks, after.weeks, strict=True):
        assert b.closing <= a.closing


@given(st.integers(min_value=-3, max_value=95), st.integers(-(10**7), 10**7))
@settings(max_examples=30, deadline=None)
def test_an_adjustment_moves_the_p50_path_by_its_amount_from_its_week_on(
    on_day: int, minor: int
) -> None:
    on = AS_OF + timedelta(days=on_day)
    adjusted = project(make_input(adjustments=[Adjustment(on, usd(minor), "scenario", "x")]))
    week_of = max(0, (on_day - 1) // 7) if on_day >= 1 else 0
    for index, (a, b) in enumerate(zip(BASELINE.weeks, adjusted.weeks, strict=True)):
        expected = minor if index >= week_of else 0
        assert b.closing.amount_minor - a.closing.amount_minor == expected


# Stories -----------------------------------------------------------------------------------


def test_payroll_every_other_friday_is_detected_and_projected_every_fourteen_days() -> None:
    payroll = [r for r in BASELINE.recurring if r.category == "payroll"]
    assert len(payroll) == 1
    flow = payroll[0]
    assert flow.cadence_days == 14
    assert flow.counterparty == "Crewpay"
    assert flow.typical.is_negative
    assert flow.next_on == date(2025, 3, 21)  # two weeks after the last run on 7 March
    paid_weeks = [w.week for w in BASELINE.weeks if "payroll" in w.by_category]
    assert paid_weeks == [1, 3, 5, 7, 9, 11, 13]
    payroll_out = BASELINE.weeks[0].by_category["payroll"].amount_minor
    # The last runs were about 5,03x.xx; a small upward drift is allowed, a jump is not.
    assert -520_000 < payroll_out < -500_000


def test_monthly_bank_flows_and_card_deposits_are_recurring() -> None:
    cadences = {r.category: r.cadence_days for r in BASELINE.recurring}
    assert cadences["utilities_autopay"] == 30
    assert cadences["card_deposit"] == 7
    card = next(r for r in BASELINE.recurring if r.category == "card_deposit")
    assert card.typical == usd(240_000)
    assert all(w.by_category["card_deposit"] == usd(240_000) for w in BASELINE.weeks)


def test_bill_payments_and_invoice_receipts_in_the_bank_are_not_projected_again() -> None:
    categories = {r.category for r in BASELINE.recurring}
    assert "supplies" not in categories
    assert "customer_payment" not in categories
    for week in BASELINE.weeks:
        assert "supplies" not in week.by_category
        assert "customer_payment" not in week.by_category


def test_an_open_invoice_is_expected_when_its_customer_usually_pays() -> None:
    # c-1 pays ten days after the due date; this invoice falls due on day 10.
    receivables = [w.by_category.get("receivables") for w in BASELINE.weeks]
    assert receivables[2] == usd(300_000)
    assert sum(1 for r in receivables if r is not None) == 1


def test_an_overdue_bill_is_paid_in_week_one_and_a_scheduled_date_overrides_the_due_date() -> None:
    # Issued long ago, so it does not also count towards the rate of new contractor bills.
    bill = open_bill(1, 77_700, AS_OF - timedelta(days=100))
    overdue = project(make_input(bills=[*paid_bills(), bill]))
    assert overdue.weeks[0].by_category["bills:contractors"] == usd(-77_700)
    scheduled = project(
        make_input(bills=[*paid_bills(), bill], pay_dates={bill.bill_id: AS_OF + timedelta(30)})
    )
    assert "bills:contractors" not in scheduled.weeks[0].by_category
    assert scheduled.weeks[4].by_category["bills:contractors"] == usd(-77_700)


def test_a_bill_paid_after_as_of_is_still_owed_at_as_of() -> None:
    later = Bill(
        bill_id=BillId("b-later"),
        business_id=BIZ,
        vendor_id=VendorId("v-new"),
        amount=usd(12_300),
        balance=usd(0),
        issue_date=AS_OF - timedelta(days=3),
        due_date=AS_OF + timedelta(days=4),
        status=BillStatus.PAID,
        category="contractors",
        paid_date=AS_OF + timedelta(days=4),
    )
    still_open = Bill(
        bill_id=later.bill_id,
        business_id=BIZ,
        vendor_id=later.vendor_id,
        amount=later.amount,
        balance=later.amount,
        issue_date=later.issue_date,
        due_date=later.due_date,
        category="contractors",
    )
    replayed = project(make_input(bills=[*paid_bills(), later]))
    assert replayed == project(make_input(bills=[*paid_bills(), still_open]))
    # The business pays five days after the due date, so it leaves in week 2.
    assert replayed.weeks[1].by_category["bills:contractors"].amount_minor <= -12_300


def test_a_reserve_leaves_on_its_date_unless_the_same_purpose_is_already_paid() -> None:
    rent = Reserve(ReserveId("r-1"), BIZ, "insurance", usd(90_000), AS_OF + timedelta(days=16))
    forecast = project(make_input(reserves=[rent]))
    assert forecast.weeks[2].by_category["reserve:insurance"] == usd(-90_000)
    payroll = Reserve(ReserveId("r-2"), BIZ, "payroll", usd(500_000), AS_OF + timedelta(14))
    covered = project(make_input(reserves=[payroll]))
    assert all("reserve:payroll" not in w.by_category for w in covered.weeks)
    released = Reserve(
        ReserveId("r-3"), BIZ, "insurance", usd(90_000), AS_OF + timedelta(16), released=True
    )
    assert project(make_input(reserves=[released])) == BASELINE


def test_the_low_point_is_the_lowest_p50_closing() -> None:
    bill = open_bill(1, 9_000_000, AS_OF + timedelta(days=30))
    forecast = project(make_input(bills=[*paid_bills(), bill]))
    closings = [w.closing for w in forecast.weeks]
    assert forecast.low_point == min(closings, key=lambda m: m.amount_minor)
    assert forecast.weeks[forecast.low_week - 1].closing == forecast.low_point
    assert forecast.low_p10 <= forecast.low_point


def test_a_steady_history_has_a_narrow_band_and_a_noisy_one_widens_with_the_horizon() -> None:
    assert BASELINE.weeks[0].p10 == BASELINE.weeks[0].p90
    noise = [
        txn(10_000 + k, AS_OF - timedelta(days=k * k % 90), (-1) ** k * (k * 7919 % 50_000), "misc")
        for k in range(1, 40)
    ]
    forecast = project(make_input(transactions=[*HISTORY, *noise]))
    first, last = forecast.weeks[0], forecast.weeks[-1]
    width = lambda w: w.p90.amount_minor - w.p10.amount_minor  # noqa: E731
    assert width(last) > width(first) > 0


def test_weeks_outside_one_to_twenty_six_are_refused() -> None:
    for weeks in (0, 27):
        with pytest.raises(InvalidInput):
            PROJECTOR.project(make_input(), weeks=weeks)


def test_amounts_in_another_currency_are_refused() -> None:
    with pytest.raises(InvalidInput):
        make_input(opening_balance=Money(100, "EUR"))
    euro = Bill(
        bill_id=BillId("b-eur"),
        business_id=BIZ,
        vendor_id=VendorId("v-eur"),
        amount=Money(100, "EUR"),
        balance=Money(100, "EUR"),
        issue_date=AS_OF,
        due_date=AS_OF,
    )
    with pytest.raises(InvalidInput):
        project(make_input(bills=[euro]))


def test_thirteen_weeks_of_a_demo_business_take_well_under_100_ms() -> None:
    from rowcol.demodata.generator import generate_firm

    today = date(2025, 6, 30)
    data = generate_firm(clients=3, seed=7, today=today).records[0]
    projector = CashFlowProjector(samples=400, seed=0)
    forecast_input = ForecastInput(
        business_id=data.business_id,
        currency="USD",
        as_of=today - timedelta(days=1),
        opening_balance=usd(0),
        bills=data.bills,
        invoices=data.invoices,
        transactions=data.bank_transactions,
        reserves=data.reserves,
    )
    projector.project(forecast_input)
    started = time.perf_counter()
    forecast = projector.project(forecast_input)
    elapsed = time.perf_counter() - started
    assert len(forecast.weeks) == 13
    assert elapsed < 0.1
