"""The Ledger contract: one suite, run on the in-memory fake and on the QBO adapter
talking to the QBO simulator over HTTP. Both hold the same demo firm's books.

Where QBO cannot carry something the demo data has (a disputed invoice, a bill's
category), the comparison says so next to the assertion.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rowcol.adapters.clock import ManualClock
from rowcol.adapters.memory.credentials import MemoryCredentialStore
from rowcol.adapters.memory.rails import MemoryLedger
from rowcol.adapters.qbo import QBO_RATE_LIMIT, QboLedger, QboOAuthConfig
from rowcol.adapters.railkit.resilience import RailCaller, RailHealthMonitor, RetryPolicy
from rowcol.core.domain.crossrail import LedgerDeposit
from rowcol.core.domain.ids import BillId, BusinessId, InvoiceId, Rail
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import Bill, BillStatus, Invoice, InvoiceStatus, Vendor
from rowcol.demodata.generator import BusinessData, DemoFirm, generate_firm
from rowcol.ports.errors import Unavailable
from rowcol.ports.ledger import Ledger, LedgerDeletion, LedgerKind
from rowcol.simulators.faults import FaultKind, FaultPlan
from rowcol.simulators.qbo import create_app, seed_from_demo
from rowcol.simulators.server import BackgroundServer

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
FIRST, SECOND = BusinessId("biz-0001"), BusinessId("biz-0002")


@functools.cache
def firm() -> DemoFirm:
    return generate_firm(clients=2, seed=7, today=NOW.date())


def demo(business_id: BusinessId) -> BusinessData:
    return firm().data_for(business_id)


def books_balance(data: BusinessData, account_id: str) -> Money:
    """The books agree with the bank's newest balance of the account, as the demo seeds."""
    newest = max((b for b in data.balances if b.account_id == account_id), key=lambda b: b.as_of)
    return newest.current


def recorded_deposits(data: BusinessData) -> list[LedgerDeposit]:
    """What the bookkeeper recorded: each card payout that posted to the bank (money in,
    a negative amount in Plaid's sign) as a deposit on the day it posted."""
    return [
        LedgerDeposit(
            deposit_id=f"dep-{txn.transaction_id}",
            business_id=data.business_id,
            amount=-txn.amount,
            deposited_on=txn.posted_on,
            memo=f"{txn.counterparty} payout",
        )
        for txn in data.bank_transactions
        if txn.category == "card_deposit" and txn.amount.is_negative and not txn.pending
    ]


class Swappable:
    """One loopback server for the module; each test mounts its own simulator on it."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Swappable, str]]:
    swappable = Swappable()
    with BackgroundServer(swappable) as background:
        yield swappable, background.url


@dataclass
class Books:
    """A ledger holding the demo firm's books, and the hands to change them."""

    ledger: Ledger
    cutoff: datetime
    """Every seeded bill and invoice last changed at or before this moment."""
    set_bill_balance: Callable[[BusinessId, BillId, Money, datetime], None]
    set_invoice_balance: Callable[[BusinessId, InvoiceId, Money, datetime], None]
    go_down: Callable[[], None]
    kind: str
    delete_bill: Callable[[BusinessId, BillId, datetime], None]


async def fake_books() -> Books:
    ledger = MemoryLedger(ManualClock(NOW))
    seeded_at = NOW - timedelta(days=1)
    for data in firm().records:
        books = ledger.books[data.business_id]
        books.vendors = list(data.vendors)
        books.customers = list(data.customers)
        books.bills = list(data.bills)
        books.invoices = list(data.invoices)
        books.bank_accounts = [
            replace(a, books_balance=books_balance(data, a.account_id)) for a in data.bank_accounts
        ]
        books.deposits = recorded_deposits(data)
        books.changed_at = {b.bill_id: seeded_at for b in data.bills} | {
            i.invoice_id: seeded_at for i in data.invoices
        }

    def set_bill_balance(
        business: BusinessId, bill_id: BillId, balance: Money, at: datetime
    ) -> None:
        books = ledger.books[business]
        books.bills = [
            replace(b, balance=balance, status=BillStatus.OPEN) if b.bill_id == bill_id else b
            for b in books.bills
        ]
        books.changed_at[bill_id] = at

    def set_invoice_balance(
        business: BusinessId, invoice_id: InvoiceId, balance: Money, at: datetime
    ) -> None:
        books = ledger.books[business]
        books.invoices = [
            replace(i, balance=balance, status=InvoiceStatus.OPEN)
            if i.invoice_id == invoice_id
            else i
            for i in books.invoices
        ]
        books.changed_at[invoice_id] = at

    def go_down() -> None:
        ledger.unavailable = True

    def delete_bill(business: BusinessId, bill_id: BillId, at: datetime) -> None:
        ledger.books[business].delete(LedgerKind.BILL, bill_id, at)

    return Books(ledger, NOW, set_bill_balance, set_invoice_balance, go_down, "fake", delete_bill)


async def _no_sleep(seconds: float) -> None:
    return None


@pytest.fixture(params=["fake", "qbo"])
async def books(request: pytest.FixtureRequest) -> AsyncIterator[Books]:
    if request.param == "fake":
        yield await fake_books()
        return
    swappable, url = request.getfixturevalue("server")
    clock = ManualClock(NOW)
    state = seed_from_demo(firm(), now=clock.now)
    plan = FaultPlan()
    swappable.app = create_app(state, plan)
    store = MemoryCredentialStore()
    for business in (FIRST, SECOND):
        grant = state.connect(business)
        await store.save(
            business,
            Rail.QBO,
            {
                "realm_id": grant.realm_id,
                "access_token": grant.access_token,
                "refresh_token": grant.refresh_token,
                "access_expires_at": grant.access_expires_at.isoformat(),
                "refresh_expires_at": grant.refresh_expires_at.isoformat(),
            },
        )
    caller = RailCaller(
        "qbo",
        monitor=RailHealthMonitor(clock),
        rate_limit=QBO_RATE_LIMIT,
        retry=RetryPolicy(attempts=2),
        sleep=_no_sleep,
    )
    ledger = QboLedger(
        api_base_url=url,
        oauth=QboOAuthConfig(
            state.client_id,
            state.client_secret,
            "http://127.0.0.1/qbo/callback",
            discovery_url=f"{url}/.well-known/openid_configuration",
        ),
        credentials=store,
        clock=clock,
        caller=caller,
    )

    def set_bill_balance(
        business: BusinessId, bill_id: BillId, balance: Money, at: datetime
    ) -> None:
        state.change_bill(
            business, bill_id.removeprefix("qbo-"), balance=balance.to_decimal(), at=at
        )

    def set_invoice_balance(
        business: BusinessId, invoice_id: InvoiceId, balance: Money, at: datetime
    ) -> None:
        state.change_invoice(
            business, invoice_id.removeprefix("qbo-"), balance=balance.to_decimal(), at=at
        )

    def go_down() -> None:
        plan.add(FaultKind.SERVER_ERROR, path="^/v3/", times=1000)

    def delete_bill(business: BusinessId, bill_id: BillId, at: datetime) -> None:
        state.delete_bill(business, bill_id.removeprefix("qbo-"), at=at)

    cutoff = max(state.latest_change(FIRST), state.latest_change(SECOND))
    try:
        yield Books(
            ledger, cutoff, set_bill_balance, set_invoice_balance, go_down, "qbo", delete_bill
        )
    finally:
        await ledger.aclose()


# Vendors, customers, accounts ------------------------------------------------------------


async def test_every_vendor_of_the_business_is_listed_with_terms_and_payment_details(
    books: Books,
) -> None:
    vendors = await books.ledger.list_vendors(FIRST)

    def seen(v: Vendor) -> tuple[object, ...]:
        return (v.name, v.payment_terms_days, v.has_payment_details)

    assert sorted(map(seen, vendors)) == sorted(map(seen, demo(FIRST).vendors))
    assert {v.business_id for v in vendors} == {FIRST}
    assert len({v.vendor_id for v in vendors}) == len(vendors)


async def test_every_customer_is_listed_with_the_email_on_file(books: Books) -> None:
    customers = await books.ledger.list_customers(FIRST)

    assert sorted((c.name, c.email) for c in customers) == sorted(
        (c.name, c.email) for c in demo(FIRST).customers
    )


async def test_the_bank_accounts_are_listed_and_nothing_else_from_the_chart(books: Books) -> None:
    accounts = await books.ledger.list_bank_accounts(SECOND)

    # QBO keeps no account number (mask) for QBO companies: compare name and currency,
    # and the books' balance of each.
    data = demo(SECOND)
    assert sorted((a.name, a.currency, a.books_balance) for a in accounts) == sorted(
        (a.name, a.currency, books_balance(data, a.account_id)) for a in data.bank_accounts
    )


async def test_one_business_never_sees_another_business_s_books(books: Books) -> None:
    first = await books.ledger.list_bills(FIRST)
    second = await books.ledger.list_bills(SECOND)

    assert {b.business_id for b in first} == {FIRST}
    assert {b.business_id for b in second} == {SECOND}
    assert len(first) == len(demo(FIRST).bills)
    assert len(second) == len(demo(SECOND).bills)


# Deposits ----------------------------------------------------------------------------


async def test_deposits_are_the_card_payouts_recorded_in_the_books_to_the_cent(
    books: Books,
) -> None:
    first = await books.ledger.list_deposits(FIRST)
    second = await books.ledger.list_deposits(SECOND)

    # Ids differ between the fake and QBO; what the books say is the amount and the day.
    for business, deposits in ((FIRST, first), (SECOND, second)):
        expected = recorded_deposits(demo(business))
        assert expected
        assert Counter((d.amount, d.deposited_on) for d in deposits) == Counter(
            (d.amount, d.deposited_on) for d in expected
        )
        assert sum(d.amount.amount_minor for d in deposits) == sum(
            d.amount.amount_minor for d in expected
        )
        assert {d.business_id for d in deposits} == {business}
        assert len({d.deposit_id for d in deposits}) == len(deposits)
        days = [d.deposited_on for d in deposits]
        assert days == sorted(days)
    assert Counter((d.amount, d.deposited_on) for d in first) != Counter(
        (d.amount, d.deposited_on) for d in second
    )


# Bills and invoices ---------------------------------------------------------------------


async def test_bills_carry_exact_amounts_balances_dates_and_status(books: Books) -> None:
    vendors = {v.vendor_id: v.name for v in await books.ledger.list_vendors(FIRST)}
    bills = await books.ledger.list_bills(FIRST)
    demo_vendors = {v.vendor_id: v.name for v in demo(FIRST).vendors}

    # The ledger carries what QBO keeps; category, recurrence, preparer and paid date are
    # RowCol's own knowledge and are not compared.
    def seen(names: dict[str, str]) -> Callable[[Bill], tuple[object, ...]]:
        return lambda b: (
            names[b.vendor_id],
            b.amount,
            b.balance,
            b.issue_date,
            b.due_date,
            b.status,
            b.memo,
        )

    assert Counter(map(seen(vendors), bills)) == Counter(map(seen(demo_vendors), demo(FIRST).bills))


async def test_the_books_add_up_to_the_cent(books: Books) -> None:
    bills = await books.ledger.list_bills(FIRST)
    invoices = await books.ledger.list_invoices(FIRST)

    assert sum(b.amount.amount_minor for b in bills) == sum(
        b.amount.amount_minor for b in demo(FIRST).bills
    )
    assert sum(i.balance.amount_minor for i in invoices) == sum(
        i.balance.amount_minor for i in demo(FIRST).invoices
    )


async def test_a_paid_bill_has_nothing_left_to_pay(books: Books) -> None:
    bills = await books.ledger.list_bills(FIRST)

    assert any(b.status is BillStatus.PAID for b in bills)
    assert all(b.balance.is_zero for b in bills if b.status is BillStatus.PAID)
    assert all(not b.balance.is_zero for b in bills if b.status is BillStatus.OPEN)


async def test_every_bill_points_at_a_listed_vendor(books: Books) -> None:
    vendor_ids = {v.vendor_id for v in await books.ledger.list_vendors(SECOND)}
    bills = await books.ledger.list_bills(SECOND)

    assert {b.vendor_id for b in bills} <= vendor_ids


async def test_invoices_carry_exact_amounts_balances_and_dates(books: Books) -> None:
    customers = {c.customer_id: c.name for c in await books.ledger.list_customers(FIRST)}
    invoices = await books.ledger.list_invoices(FIRST)
    demo_customers = {c.customer_id: c.name for c in demo(FIRST).customers}

    def status(value: InvoiceStatus) -> InvoiceStatus:
        # DIFFERENCE: QBO has no "disputed" invoices, so the QBO adapter reports them OPEN
        # while the fake returns whatever status it was given.
        return InvoiceStatus.OPEN if value is InvoiceStatus.DISPUTED else value

    def seen(names: dict[str, str]) -> Callable[[Invoice], tuple[object, ...]]:
        return lambda i: (
            names[i.customer_id],
            i.amount,
            i.balance,
            i.issue_date,
            i.due_date,
            status(i.status),
        )

    assert Counter(map(seen(customers), invoices)) == Counter(
        map(seen(demo_customers), demo(FIRST).invoices)
    )
    assert set(customers) >= {i.customer_id for i in invoices}


# Changes -----------------------------------------------------------------------------


async def test_changed_since_returns_only_the_bills_changed_after_it(books: Books) -> None:
    bills = await books.ledger.list_bills(FIRST)
    target = next(b for b in bills if b.status is BillStatus.PAID)
    balance = Money(target.amount.amount_minor // 2, target.amount.currency)

    assert await books.ledger.list_bills(FIRST, changed_since=books.cutoff) == []
    books.set_bill_balance(FIRST, target.bill_id, balance, LATER)
    changed = await books.ledger.list_bills(FIRST, changed_since=books.cutoff)

    assert [(b.bill_id, b.balance, b.status) for b in changed] == [
        (target.bill_id, balance, BillStatus.OPEN)
    ]
    assert await books.ledger.list_bills(FIRST, changed_since=LATER) == []
    assert await books.ledger.list_bills(SECOND, changed_since=books.cutoff) == []


async def test_changed_since_returns_only_the_invoices_changed_after_it(books: Books) -> None:
    invoices = await books.ledger.list_invoices(SECOND)
    target = next(i for i in invoices if i.status is InvoiceStatus.PAID)
    balance = Money(1, target.amount.currency)

    books.set_invoice_balance(SECOND, target.invoice_id, balance, LATER)
    changed = await books.ledger.list_invoices(SECOND, changed_since=books.cutoff)
    everything = await books.ledger.list_invoices(SECOND)

    assert [(i.invoice_id, i.balance) for i in changed] == [(target.invoice_id, balance)]
    assert len(everything) == len(invoices)


async def test_a_deleted_bill_is_reported_deleted_and_no_longer_listed(books: Books) -> None:
    bills = await books.ledger.list_bills(FIRST)
    target = bills[0]

    assert await books.ledger.list_deleted(FIRST, since=books.cutoff) == []
    books.delete_bill(FIRST, target.bill_id, LATER)

    assert await books.ledger.list_deleted(FIRST, since=books.cutoff) == [
        LedgerDeletion(LedgerKind.BILL, target.bill_id)
    ]
    assert await books.ledger.list_deleted(FIRST, since=LATER + timedelta(seconds=1)) == []
    assert await books.ledger.list_deleted(SECOND, since=books.cutoff) == []
    remaining = await books.ledger.list_bills(FIRST)
    assert target.bill_id not in {b.bill_id for b in remaining}
    assert len(remaining) == len(bills) - 1


async def test_deletions_older_than_the_window_cannot_be_told(books: Books) -> None:
    assert await books.ledger.list_deleted(FIRST, since=NOW - timedelta(days=31)) is None


# Failures ----------------------------------------------------------------------------


async def test_a_ledger_that_is_down_is_unavailable(books: Books) -> None:
    books.go_down()

    with pytest.raises(Unavailable):
        await books.ledger.list_bills(FIRST)


async def test_a_business_without_a_ledger_connection_is_unavailable(books: Books) -> None:
    with pytest.raises(Unavailable, match="no QBO connection"):
        await books.ledger.list_vendors(BusinessId("biz-9999"))
    with pytest.raises(Unavailable, match="no QBO connection"):
        await books.ledger.list_deposits(BusinessId("biz-9999"))
