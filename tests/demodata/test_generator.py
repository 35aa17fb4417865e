"""The synthetic demo firm: deterministic, consistent, and believable enough to demo."""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from statistics import mean
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rowcol.adapters.memory.repository import MemoryUnitOfWorkFactory
from rowcol.core.domain.errors import Conflict
from rowcol.core.domain.ids import check_id
from rowcol.core.domain.records import BillStatus, InvoiceStatus
from rowcol.core.domain.tenancy import Role
from rowcol.demodata import BusinessData, DemoFirm, generate_firm
from rowcol.demodata.seed import seed_firm

TODAY = date(2026, 11, 2)


@pytest.fixture(scope="module")
def firm() -> DemoFirm:
    return generate_firm(clients=50, seed=7, today=TODAY)


def assert_balances_follow_transactions(data: BusinessData) -> None:
    """Each balance is the account's opening balance minus what was posted by then."""
    posted: dict[str, list[tuple[date, int]]] = defaultdict(list)
    for t in data.bank_transactions:
        posted[t.account_id].append((t.posted_on, t.amount.amount_minor))
    for account in data.bank_accounts:
        history = sorted(
            (b for b in data.balances if b.account_id == account.account_id),
            key=lambda b: b.as_of,
        )
        assert history, f"{account.account_id} has no balances"
        opening = history[0]
        flows = posted[account.account_id]
        assert all(day > opening.as_of.date() for day, _ in flows)
        for balance in history:
            spent = sum(minor for day, minor in flows if day <= balance.as_of.date())
            assert balance.current.amount_minor == opening.current.amount_minor - spent
            assert balance.current.currency == "USD"


def assert_amounts_respect_the_domain(data: BusinessData) -> None:
    for bill in data.bills:
        assert bill.amount.amount_minor > 0
        assert 0 <= bill.balance.amount_minor <= bill.amount.amount_minor
    for invoice in data.invoices:
        assert invoice.amount.amount_minor > 0
        assert 0 <= invoice.balance.amount_minor <= invoice.amount.amount_minor
    for reserve in data.reserves:
        assert reserve.amount.amount_minor > 0
    for vendor in data.vendors:
        assert vendor.payment_terms_days is None or vendor.payment_terms_days >= 0
    for t in data.bank_transactions:
        assert t.amount.amount_minor != 0


def weekly_outflow(data: BusinessData, today: date) -> float:
    start = today - timedelta(weeks=13)
    out = sum(
        t.amount.amount_minor
        for t in data.bank_transactions
        if t.amount.amount_minor > 0 and start <= t.posted_on < today
    )
    return out / 13


def cash_today(data: BusinessData) -> int:
    latest: dict[str, Any] = {}
    for balance in data.balances:
        known = latest.get(balance.account_id)
        if known is None or balance.as_of > known.as_of:
            latest[balance.account_id] = balance
    return sum(b.current.amount_minor for b in latest.values())


def all_values(value: Any) -> list[Any]:
    """Every leaf value reachable through dataclasses, tuples, lists and dicts."""
    found: list[Any] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            stack.extend(getattr(item, f.name) for f in dataclasses.fields(item))
        elif isinstance(item, tuple | list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        else:
            found.append(item)
    return found


def test_the_same_arguments_give_an_equal_firm() -> None:
    first = generate_firm(clients=6, seed=11, today=TODAY)
    second = generate_firm(clients=6, seed=11, today=TODAY)
    assert first == second


def test_a_different_seed_gives_a_different_firm() -> None:
    first = generate_firm(clients=6, seed=11, today=TODAY)
    other = generate_firm(clients=6, seed=12, today=TODAY)
    assert first != other
    assert [b.name for b in first.businesses] != [b.name for b in other.businesses]


def test_the_firm_holds_the_requested_number_of_clients(firm: DemoFirm) -> None:
    assert len(firm.businesses) == len(firm.clients) == len(firm.records) == 50
    assert [r.business_id for r in firm.records] == [b.business_id for b in firm.businesses]
    assert {c.business_id for c in firm.clients} == {b.business_id for b in firm.businesses}
    advisor_ids = {a.advisor_id for a in firm.advisors}
    assert all(c.advisor_id in advisor_ids for c in firm.clients)
    for client in firm.clients:
        assert client.created_at.tzinfo is not None
        assert client.created_at.utcoffset() == timedelta(0)
        assert client.created_at.date() <= TODAY


def test_every_advisor_has_a_bookkeeper_a_controller_and_an_advisor(firm: DemoFirm) -> None:
    assert len(firm.advisors) >= 3
    assert len({a.runway_tier for a in firm.advisors}) == 3
    for advisor in firm.advisors:
        roles = Counter(u.role for u in firm.users if u.advisor_id == advisor.advisor_id)
        assert roles[Role.BOOKKEEPER] == roles[Role.CONTROLLER] == roles[Role.ADVISOR] == 1
    admins = [u for u in firm.users if u.role is Role.FIRM_ADMIN]
    assert len(admins) == 1
    assert admins[0].advisor_id == firm.advisors[0].advisor_id
    assert all(a.firm_id == firm.firm.firm_id for a in firm.advisors)


def test_the_first_advisor_looks_after_the_most_clients(firm: DemoFirm) -> None:
    share = Counter(c.advisor_id for c in firm.clients)
    lead = share[firm.advisors[0].advisor_id]
    assert all(lead > share[a.advisor_id] for a in firm.advisors[1:])
    assert all(share[a.advisor_id] > 0 for a in firm.advisors)


def test_every_id_is_a_short_url_safe_token(firm: DemoFirm) -> None:
    ids: list[tuple[str, str]] = [("firm", firm.firm.firm_id)]
    ids += [("advisor", a.advisor_id) for a in firm.advisors]
    ids += [("user", u.user_id) for u in firm.users]
    ids += [("business", b.business_id) for b in firm.businesses]
    for data in firm.records:
        ids += [("vendor", v.vendor_id) for v in data.vendors]
        ids += [("customer", c.customer_id) for c in data.customers]
        ids += [("bill", b.bill_id) for b in data.bills]
        ids += [("invoice", i.invoice_id) for i in data.invoices]
        ids += [("account", a.account_id) for a in data.bank_accounts]
        ids += [("transaction", t.transaction_id) for t in data.bank_transactions]
        ids += [("reserve", r.reserve_id) for r in data.reserves]
    for kind, value in ids:
        assert check_id(value, kind) == value
    assert len(ids) == len(set(ids))


def test_records_point_at_their_own_business_vendors_and_customers(firm: DemoFirm) -> None:
    for data in firm.records:
        vendors = {v.vendor_id for v in data.vendors}
        customers = {c.customer_id for c in data.customers}
        accounts = {a.account_id for a in data.bank_accounts}
        assert all(b.vendor_id in vendors for b in data.bills)
        assert all(i.customer_id in customers for i in data.invoices)
        assert all(t.account_id in accounts for t in data.bank_transactions)
        records = data.vendors + data.customers + data.bills + data.invoices + data.bank_accounts
        assert all(r.business_id == data.business_id for r in records)
        assert all(t.business_id == data.business_id for t in data.bank_transactions)
        assert all(b.business_id == data.business_id for b in data.balances)


def test_emails_are_unique_across_the_firm_and_on_an_example_domain(firm: DemoFirm) -> None:
    emails = [a.email for a in firm.advisors] + [u.email for u in firm.users]
    assert len(emails) == len(set(emails))
    assert all(e.endswith(".example") for e in emails)


def test_no_value_anywhere_is_a_float(firm: DemoFirm) -> None:
    small = generate_firm(clients=3, seed=5, today=TODAY)
    assert not [v for v in all_values(small) if isinstance(v, float)]
    money = [b.amount for data in firm.records for b in data.bills]
    assert all(type(m.amount_minor) is int and m.currency == "USD" for m in money)


def test_businesses_differ_in_size_industry_and_place(firm: DemoFirm) -> None:
    assert len({b.name for b in firm.businesses}) == len(firm.businesses)
    assert all(b.currency == "USD" for b in firm.businesses)
    assert all(b.timezone.startswith(("America/", "Pacific/")) for b in firm.businesses)
    assert len({b.timezone for b in firm.businesses}) >= 3
    payroll_per_run = [
        mean(t.amount.amount_minor for t in data.bank_transactions if t.category == "payroll")
        for data in firm.records
    ]
    assert max(payroll_per_run) > 5 * min(payroll_per_run)


def test_every_balance_equals_the_opening_minus_the_transactions_since(
    firm: DemoFirm,
) -> None:
    for data in firm.records:
        assert_balances_follow_transactions(data)


def test_balances_are_taken_at_each_month_end_and_today(firm: DemoFirm) -> None:
    data = firm.records[0]
    account = data.bank_accounts[0].account_id
    moments = sorted(b.as_of for b in data.balances if b.account_id == account)
    assert moments[-1] == datetime(2026, 11, 2, tzinfo=UTC)
    month_ends = [m.date() for m in moments[:-1]]
    assert all((d + timedelta(days=1)).day == 1 for d in month_ends)
    assert month_ends[0] == date(2025, 4, 30)
    assert month_ends[-1] == date(2026, 10, 31)
    assert len(month_ends) == 19


def test_every_paid_bill_left_the_bank_on_its_paid_date(firm: DemoFirm) -> None:
    for data in firm.records:
        outflows = Counter(
            (t.posted_on, t.amount.amount_minor) for t in data.bank_transactions if t.is_outflow
        )
        for bill in data.bills:
            if bill.status is BillStatus.PAID:
                assert bill.balance.amount_minor == 0
                assert bill.paid_date is not None
                key = (bill.paid_date, bill.amount.amount_minor)
                assert outflows[key] > 0, f"{bill.bill_id} has no payment in the bank"
                outflows[key] -= 1
            else:
                assert bill.status is BillStatus.OPEN
                assert bill.balance == bill.amount
                assert bill.paid_date is None


def test_every_paid_invoice_came_into_the_bank_on_its_paid_date(firm: DemoFirm) -> None:
    for data in firm.records:
        inflow_days = {t.posted_on for t in data.bank_transactions if not t.is_outflow}
        for invoice in data.invoices:
            if invoice.status is InvoiceStatus.PAID:
                assert invoice.balance.amount_minor == 0
                assert invoice.paid_date in inflow_days
            else:
                assert invoice.paid_date is None
                assert invoice.balance.amount_minor > 0


def test_bills_and_invoices_look_like_real_books(firm: DemoFirm) -> None:
    bills = [b for data in firm.records for b in data.bills]
    invoices = [i for data in firm.records for i in data.invoices]
    overdue = [
        b for b in bills if b.status is BillStatus.OPEN and b.due_date and b.due_date < TODAY
    ]
    assert 0 < len(overdue) < len(bills) // 20
    assert sum(b.status is BillStatus.PAID for b in bills) > 0.85 * len(bills)
    assert 0 < sum(b.due_date is None for b in bills) < len(bills) // 20
    assert any(b.recurring for b in bills) and not all(b.recurring for b in bills)
    assert any(b.prepared_by is not None for b in bills)
    assert any(b.prepared_by is None for b in bills)
    disputed = sum(i.status is InvoiceStatus.DISPUTED for i in invoices)
    assert 0 < disputed < len(invoices) // 100
    assert any(
        i.status is InvoiceStatus.OPEN and 0 < i.balance.amount_minor < i.amount.amount_minor
        for i in invoices
    )


def test_some_businesses_hold_near_duplicate_bills(firm: DemoFirm) -> None:
    with_duplicates = 0
    for data in firm.records:
        by_vendor_amount: dict[tuple[str, int], list[date]] = defaultdict(list)
        for bill in data.bills:
            by_vendor_amount[(bill.vendor_id, bill.amount.amount_minor)].append(bill.issue_date)
        if any(
            0 < (b - a).days <= 7
            for days in by_vendor_amount.values()
            for a, b in itertools.pairwise(sorted(days))
        ):
            with_duplicates += 1
    assert 0 < with_duplicates < len(firm.records)


def test_vendors_have_categories_terms_and_critical_flags(firm: DemoFirm) -> None:
    for data in firm.records:
        assert 8 <= len(data.vendors) <= 30
        assert 5 <= len(data.customers) <= 40
        categories = {v.category for v in data.vendors}
        assert {"rent", "payroll", "taxes", "utilities", "software"} <= categories
        for vendor in data.vendors:
            critical = vendor.category in ("payroll", "taxes", "rent")
            assert vendor.is_critical is critical
    vendors = [v for data in firm.records for v in data.vendors]
    assert {v.payment_terms_days for v in vendors} >= {0, 15, 30, 45, 60, None}
    assert any(not v.has_payment_details for v in vendors)


def test_payroll_runs_every_two_weeks_with_a_steady_amount(firm: DemoFirm) -> None:
    for data in firm.records:
        runs = sorted(
            (t.posted_on, t.amount.amount_minor)
            for t in data.bank_transactions
            if t.category == "payroll"
        )
        gaps = {(b[0] - a[0]).days for a, b in itertools.pairwise(runs)}
        assert gaps <= {13, 14, 15}
        amounts = [minor for _, minor in runs]
        assert max(amounts) < 1.6 * min(amounts)


def test_history_spans_the_requested_months() -> None:
    firm = generate_firm(clients=2, seed=3, today=TODAY, history_months=6)
    for data in firm.records:
        first = min(t.posted_on for t in data.bank_transactions)
        last = max(t.posted_on for t in data.bank_transactions)
        assert date(2026, 5, 1) <= first <= date(2026, 5, 10)
        assert TODAY - timedelta(days=7) <= last < TODAY
        assert min(b.issue_date for b in data.bills) >= date(2026, 5, 1) - timedelta(days=60)


def test_customers_pay_with_their_own_habits(firm: DemoFirm) -> None:
    spreads = []
    for data in firm.records:
        late: dict[str, list[int]] = defaultdict(list)
        for invoice in data.invoices:
            if invoice.status is InvoiceStatus.PAID and invoice.paid_date is not None:
                late[invoice.customer_id].append((invoice.paid_date - invoice.due_date).days)
        averages = [mean(days) for days in late.values() if len(days) >= 3]
        if len(averages) >= 2:
            spreads.append(max(averages) - min(averages))
    assert max(spreads) >= 25
    assert sum(s >= 10 for s in spreads) > len(spreads) // 2


def test_a_few_businesses_run_tight_while_most_stay_comfortable(firm: DemoFirm) -> None:
    tight = [data for data in firm.records if cash_today(data) < 2 * weekly_outflow(data, TODAY)]
    assert 1 <= len(tight) <= 10
    assert all(cash_today(data) > 0 for data in tight)
    never_negative = sum(
        all(b.current.amount_minor >= 0 for b in data.balances) for data in firm.records
    )
    assert never_negative >= 0.9 * len(firm.records)


def test_reserves_are_active_and_earmark_payroll_or_taxes(firm: DemoFirm) -> None:
    reserves = [r for data in firm.records for r in data.reserves]
    assert reserves
    assert all(r.is_active(TODAY) and r.until > TODAY for r in reserves)
    assert {r.purpose for r in reserves} >= {"payroll", "taxes"}
    assert all(len(data.reserves) <= 3 for data in firm.records)


def test_bad_arguments_are_refused() -> None:
    from rowcol.core.domain.errors import InvalidInput

    with pytest.raises(InvalidInput):
        generate_firm(clients=-1, today=TODAY)
    with pytest.raises(InvalidInput):
        generate_firm(clients=1, today=TODAY, history_months=0)


@settings(max_examples=15, deadline=None)
@given(
    clients=st.integers(min_value=1, max_value=4),
    seed=st.integers(min_value=0, max_value=2**32),
    today=st.dates(min_value=date(2015, 1, 1), max_value=date(2035, 12, 31)),
    history_months=st.integers(min_value=1, max_value=24),
)
def test_balances_stay_consistent_for_any_seed(
    clients: int, seed: int, today: date, history_months: int
) -> None:
    firm = generate_firm(clients=clients, seed=seed, today=today, history_months=history_months)
    assert len(firm.records) == clients
    for data in firm.records:
        assert_balances_follow_transactions(data)
        assert_amounts_respect_the_domain(data)
        assert all(t.posted_on < today for t in data.bank_transactions)
        ids = [t.transaction_id for t in data.bank_transactions]
        assert len(ids) == len(set(ids))


async def test_seeding_stores_the_whole_firm_once() -> None:
    firm = generate_firm(clients=4, seed=9, today=TODAY)
    factory = MemoryUnitOfWorkFactory()
    reported: list[tuple[int, int]] = []

    await seed_firm(factory, firm, progress=lambda done, total: reported.append((done, total)))

    assert reported == [(1, 4), (2, 4), (3, 4), (4, 4)]
    async with factory() as uow:
        assert await uow.firms.get(firm.firm.firm_id) == firm.firm
        assert len(await uow.advisors.list(firm.firm.firm_id)) == len(firm.advisors)
        for advisor in firm.advisors:
            staff = await uow.users.list_for_advisor(advisor.advisor_id)
            assert len(staff) == sum(u.advisor_id == advisor.advisor_id for u in firm.users)
            held = await uow.clients.list_for_advisor(advisor.advisor_id)
            assert len(held) == sum(c.advisor_id == advisor.advisor_id for c in firm.clients)
        for data in firm.records:
            biz = data.business_id
            assert await uow.businesses.get(biz) is not None
            assert await uow.vendors.count(biz) == len(data.vendors)
            assert await uow.customers.count(biz) == len(data.customers)
            assert await uow.bills.count(biz) == len(data.bills)
            assert await uow.invoices.count(biz) == len(data.invoices)
            assert await uow.bank_accounts.count(biz) == len(data.bank_accounts)
            assert await uow.bank_transactions.count(biz) == len(data.bank_transactions)
            assert await uow.reserves.count(biz) == len(data.reserves)
            latest = await uow.balances.latest(biz)
            assert len(latest) == len(data.bank_accounts)
            stored = [
                b
                for account in data.bank_accounts
                for b in await uow.balances.history(biz, account.account_id)
            ]
            assert len(stored) == len(data.balances)
        assert await uow.audit.head_count() == 0

    with pytest.raises(Conflict):
        await seed_firm(factory, firm)
    async with factory() as uow:
        assert len(await uow.advisors.list()) == len(firm.advisors)
