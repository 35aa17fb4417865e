"""Bill scheduling in the domain: terms, the objective, the buffer, the reference solver
and the schedule's explanations."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.ids import BillId, BusinessId, VendorId
from rowcol.core.domain.money import Money
from rowcol.core.domain.priority import BillPriority
from rowcol.core.domain.records import Bill
from rowcol.core.domain.schedule import (
    BillTerms,
    ScheduleItem,
    ScheduleProblem,
    brute_force_solve,
    build_problem,
    daily_path,
    explain,
    is_feasible,
    objective,
    parse_terms,
    settle_late,
)

TODAY = date(2025, 3, 3)
BIZ = BusinessId("biz-1")


def usd(minor: int) -> Money:
    return Money(minor, "USD")


def test_two_ten_net_thirty_is_worth_about_37_percent_a_year() -> None:
    terms = parse_terms("Terms 2/10 net 30")
    assert (terms.discount_percent, terms.discount_days, terms.net_days) == (Decimal(2), 10, 30)
    rate = terms.implied_annual_rate
    assert rate is not None and Decimal("0.37") < rate < Decimal("0.38")


def test_late_fee_terms_are_read_and_absent_terms_stay_empty() -> None:
    assert parse_terms("late fee 2% per month").late_fee_monthly_percent == Decimal(2)
    empty = parse_terms("office chairs")
    assert empty.discount_percent is None and empty.late_fee_monthly_percent is None
    assert empty.implied_annual_rate is None


def test_paying_late_costs_fees_and_priority_and_unplaced_costs_most() -> None:
    item = ScheduleItem("a", 1000, 0, 9, 3, late_fee_per_day_minor=2, priority_weight=3)
    problem = ScheduleProblem((item,), (5000,) * 10, 0)
    assert objective(problem, (3,)) == 0
    assert objective(problem, (5,)) == 2 * 5
    assert objective(problem, (None,)) == (10 + 30 - 3) * 5


def test_a_payment_may_not_take_any_later_day_below_the_buffer() -> None:
    item = ScheduleItem("a", 300, 0, 4, 4)
    problem = ScheduleProblem((item,), (1000, 1000, 500, 1000, 1000), 300)
    assert not is_feasible(problem, (0,))
    assert is_feasible(problem, (None,))
    # The dip on day 2 leaves 200 of headroom: the bill waits until after it.
    assert brute_force_solve(problem) == (3,)


def test_when_cash_is_short_the_higher_priority_bill_is_placed() -> None:
    payroll = ScheduleItem("payroll", 800, 0, 4, 1, priority_weight=50)
    supplies = ScheduleItem("supplies", 800, 0, 4, 1, priority_weight=5)
    problem = ScheduleProblem((payroll, supplies), (1000,) * 5, 100)
    assert settle_late(problem, brute_force_solve(problem)) == (1, None)


def test_a_discount_is_taken_when_cash_allows() -> None:
    item = ScheduleItem("a", 1000, 0, 9, 8, discount_minor=20, discount_until_day=3)
    problem = ScheduleProblem((item,), (5000,) * 10, 0)
    days = settle_late(problem, brute_force_solve(problem))
    assert days == (3,)


def _items() -> st.SearchStrategy[ScheduleItem]:
    @st.composite
    def build(draw: st.DrawFn) -> ScheduleItem:
        earliest = draw(st.integers(0, 3))
        latest = draw(st.integers(earliest, 5))
        amount = draw(st.integers(0, 1000))
        return ScheduleItem(
            key="x",
            amount_minor=amount,
            earliest_day=earliest,
            latest_day=latest,
            due_day=draw(st.integers(-2, 6)),
            discount_minor=draw(st.integers(0, amount // 10)),
            discount_until_day=draw(st.integers(-1, 5)),
            late_fee_per_day_minor=draw(st.integers(0, 20)),
            priority_weight=draw(st.integers(0, 50)),
        )

    return build()


@settings(max_examples=60, deadline=None)
@given(
    items=st.lists(_items(), min_size=1, max_size=3),
    path=st.lists(st.integers(-500, 3000), min_size=6, max_size=6),
    buffer=st.integers(0, 800),
)
def test_the_reference_schedule_is_feasible_and_settling_late_keeps_it_so(
    items: list[ScheduleItem], path: list[int], buffer: int
) -> None:
    problem = ScheduleProblem(tuple(items), tuple(path), buffer)
    days = brute_force_solve(problem)
    assert is_feasible(problem, days)
    settled = settle_late(problem, days)
    assert is_feasible(problem, settled)
    assert objective(problem, settled) == objective(problem, days)
    assert all(a is None or (b is not None and b >= a) for a, b in zip(days, settled, strict=True))


def test_items_outside_the_horizon_are_refused() -> None:
    with pytest.raises(InvalidInput):
        ScheduleProblem((ScheduleItem("a", 1, 0, 9, 0),), (0,) * 5, 0)


def test_daily_path_takes_each_weeks_lower_end() -> None:
    path = daily_path(usd(1000), [usd(400), usd(900)], days=16)
    assert path[0] == usd(1000)
    assert set(path[1:8]) == {usd(400)}
    assert set(path[8:15]) == {usd(400)}
    assert path[15] == usd(900)


def _bill(bill_id: str, minor: int, due: date, memo: str = "") -> Bill:
    return Bill(
        BillId(bill_id),
        BIZ,
        VendorId("v-" + bill_id),
        usd(minor),
        usd(minor),
        issue_date=TODAY - timedelta(days=5),
        due_date=due,
        memo=memo,
    )


def _terms(bill: Bill, score: int = 20) -> BillTerms:
    return BillTerms(
        bill=bill,
        vendor_name="Vendor " + bill.bill_id,
        due_date=bill.due_date or TODAY,
        terms=parse_terms(bill.memo),
        priority=BillPriority(bill.bill_id, score, ("ordinary vendor bill",)),
    )


def test_the_schedule_explains_discounts_due_dates_and_unplaced_bills() -> None:
    entries = [
        _terms(_bill("disc", 100_000, TODAY + timedelta(days=25), "2/10 net 30")),
        _terms(_bill("rent", 200_000, TODAY + timedelta(days=10)), score=55),
        _terms(_bill("big", 900_000, TODAY + timedelta(days=12))),
    ]
    path = [usd(500_000)] * 40
    buffer = usd(100_000)
    problem = build_problem(entries, as_of=TODAY, cash_path=path, buffer=buffer)
    assert problem.items[0].discount_minor == 2_000
    assert problem.items[0].discount_until_day == 5
    days = settle_late(problem, brute_force_solve(problem))
    schedule = explain(BIZ, entries, problem, days, as_of=TODAY, buffer=buffer)
    by_id = {b.bill_id: b for b in schedule.bills}
    assert by_id[BillId("disc")].pay_on == TODAY + timedelta(days=5)
    assert by_id[BillId("disc")].discount_taken == usd(2_000)
    assert "2/10 net 30" in by_id[BillId("disc")].explanation
    assert "37%" in by_id[BillId("disc")].explanation
    assert by_id[BillId("rent")].pay_on == TODAY + timedelta(days=10)
    assert "due date" in by_id[BillId("rent")].explanation
    assert by_id[BillId("big")].pay_on is None
    assert "Not placed" in by_id[BillId("big")].explanation
    assert [b.bill_id for b in schedule.unplaced] == ["big"]
    assert schedule.low_balance >= buffer


def test_a_discount_below_the_hurdle_rate_is_not_offered() -> None:
    entry = _terms(_bill("d", 100_000, TODAY + timedelta(days=200), "1/10 net 120"))
    problem = build_problem([entry], as_of=TODAY, cash_path=[usd(10**7)] * 10, buffer=usd(0))
    assert problem.items[0].discount_minor == 0
    days = settle_late(problem, brute_force_solve(problem))
    schedule = explain(BIZ, [entry], problem, days, as_of=TODAY, buffer=usd(0))
    assert "not above the 12% hurdle rate" in schedule.bills[0].explanation
