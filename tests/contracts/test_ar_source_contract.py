"""One behaviour suite for every ARSource: the in-memory fake, and the Stripe adapter
talking to the Stripe simulator over HTTP. Both hold the same demo receivables: what the
simulator's Stripe accounts hold, as RowCol records with `stripe:<id>` references."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from rowcol.adapters.clock import ManualClock
from rowcol.adapters.memory.credentials import MemoryCredentialStore
from rowcol.adapters.memory.rails import MemoryARSource
from rowcol.adapters.railkit.resilience import RailHealthMonitor, RateLimit
from rowcol.adapters.stripe import StripeARSource, stripe_caller
from rowcol.core.domain.ids import BusinessId, CustomerId, InvoiceId, Rail
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import (
    Customer,
    Invoice,
    InvoiceStatus,
    Payout,
    PayoutStatus,
)
from rowcol.demodata.generator import BusinessData, DemoFirm, generate_firm
from rowcol.ports.ar_source import ARSource
from rowcol.ports.errors import Unavailable
from rowcol.simulators.server import BackgroundServer
from rowcol.simulators.stripe import api_key_for, create_app, seed_from_demo, stripe_books

TODAY = date(2026, 11, 2)
NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
PAGE_SIZE = 25


def ref(ident: str) -> str:
    return f"stripe:{ident}"


def customers_of(data: BusinessData) -> list[Customer]:
    books = stripe_books(data, TODAY)
    return [replace(c, external_ref=ref(c.customer_id)) for c in books.customers]


def invoices_of(data: BusinessData) -> list[Invoice]:
    books = stripe_books(data, TODAY)
    return [replace(i, external_ref=ref(i.invoice_id)) for i in books.invoices]


def payouts_of(data: BusinessData) -> list[Payout]:
    books = stripe_books(data, TODAY)
    return [replace(p, external_ref=ref(p.payout_id)) for p in books.payouts]


@dataclass
class Receivables:
    kind: str
    source: ARSource
    add_customer: Callable[[BusinessId, Customer], None]
    add_invoice: Callable[[BusinessId, Invoice], None]
    pay_invoice: Callable[[BusinessId, str, date], None]
    add_payout: Callable[[BusinessId, Payout], None]


@pytest.fixture(scope="module")
def firm() -> DemoFirm:
    return generate_firm(clients=2, seed=5, today=TODAY, history_months=2)


class Switch:
    """One server for the module; each test plugs in its own simulator."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Switch, str]]:
    switch = Switch()
    with BackgroundServer(switch) as running:
        yield switch, running.url


def fake_receivables(firm: DemoFirm) -> Receivables:
    fake = MemoryARSource()
    for data in firm.records:
        fake.customers[data.business_id] = customers_of(data)
        fake.invoices[data.business_id] = invoices_of(data)
        fake.payouts[data.business_id] = payouts_of(data)

    def add_customer(business_id: BusinessId, customer: Customer) -> None:
        fake.customers[business_id].append(customer)

    def add_invoice(business_id: BusinessId, invoice: Invoice) -> None:
        fake.invoices[business_id].append(invoice)

    def pay_invoice(business_id: BusinessId, invoice_id: str, on: date) -> None:
        fake.invoices[business_id] = [
            replace(
                i, status=InvoiceStatus.PAID, balance=Money.zero(i.amount.currency), paid_date=on
            )
            if i.invoice_id == invoice_id
            else i
            for i in fake.invoices[business_id]
        ]

    def add_payout(business_id: BusinessId, payout: Payout) -> None:
        fake.payouts[business_id].append(payout)

    return Receivables("fake", fake, add_customer, add_invoice, pay_invoice, add_payout)


@pytest.fixture(params=["fake", "real"])
async def receivables(
    request: pytest.FixtureRequest, firm: DemoFirm, server: tuple[Switch, str]
) -> AsyncIterator[Receivables]:
    if request.param == "fake":
        yield fake_receivables(firm)
        return
    clock = ManualClock(NOW)
    state = seed_from_demo(firm, now=clock.now)
    switch, url = server
    switch.app = create_app(state)
    credentials = MemoryCredentialStore()
    for data in firm.records:
        await credentials.save(
            data.business_id, Rail.STRIPE, {"api_key": api_key_for(data.business_id)}
        )

    async def no_sleep(seconds: float) -> None:
        return None

    source = StripeARSource(
        base_url=url,
        credentials=credentials,
        caller=stripe_caller(
            RailHealthMonitor(clock), rate_limit=RateLimit(10_000, 1.0), sleep=no_sleep
        ),
        page_size=PAGE_SIZE,
    )

    def add_customer(business_id: BusinessId, customer: Customer) -> None:
        state.put_customer(business_id, customer)

    def add_invoice(business_id: BusinessId, invoice: Invoice) -> None:
        state.put_invoice(business_id, invoice)

    def pay_invoice(business_id: BusinessId, invoice_id: str, on: date) -> None:
        state.pay_invoice(business_id, invoice_id, at=datetime.combine(on, time(15), UTC))

    def add_payout(business_id: BusinessId, payout: Payout) -> None:
        state.put_payout(business_id, payout)

    yield Receivables("real", source, add_customer, add_invoice, pay_invoice, add_payout)
    await source.aclose()


def by_id(records: list[Any], field: str) -> list[Any]:
    return sorted(records, key=lambda r: getattr(r, field))


class TestStripeARSourceContract:
    """Every test runs twice: on MemoryARSource and on StripeARSource + simulator."""

    async def test_lists_the_customers_of_the_business(
        self, receivables: Receivables, firm: DemoFirm
    ) -> None:
        data = firm.records[0]

        customers = await receivables.source.list_customers(data.business_id)

        assert by_id(list(customers), "customer_id") == by_id(customers_of(data), "customer_id")

    async def test_lists_every_invoice_with_its_amount_balance_dates_and_status(
        self, receivables: Receivables, firm: DemoFirm
    ) -> None:
        data = firm.records[0]

        invoices = await receivables.source.list_invoices(data.business_id)

        assert len(invoices) > PAGE_SIZE
        assert by_id(list(invoices), "invoice_id") == by_id(invoices_of(data), "invoice_id")

    async def test_paid_invoices_owe_nothing_and_open_ones_still_owe_something(
        self, receivables: Receivables, firm: DemoFirm
    ) -> None:
        data = firm.records[0]

        invoices = await receivables.source.list_invoices(data.business_id)

        paid = [i for i in invoices if i.status is InvoiceStatus.PAID]
        still_open = [i for i in invoices if i.status is InvoiceStatus.OPEN]
        assert paid and still_open
        assert all(i.balance.is_zero and i.paid_date is not None for i in paid)
        assert all(not i.balance.is_zero and i.paid_date is None for i in still_open)
        assert {i.amount.currency for i in invoices} == {"USD"}

    async def test_invoices_name_customers_the_source_lists(
        self, receivables: Receivables, firm: DemoFirm
    ) -> None:
        data = firm.records[0]

        customers = await receivables.source.list_customers(data.business_id)
        invoices = await receivables.source.list_invoices(data.business_id)

        assert {i.customer_id for i in invoices} <= {c.customer_id for c in customers}

    async def test_lists_the_payouts_of_the_card_deposits(
        self, receivables: Receivables, firm: DemoFirm
    ) -> None:
        data = firm.records[0]

        payouts = await receivables.source.list_payouts(data.business_id)

        assert payouts
        assert by_id(list(payouts), "payout_id") == by_id(payouts_of(data), "payout_id")
        deposits = sorted(
            -t.amount.amount_minor for t in data.bank_transactions if t.category == "card_deposit"
        )
        assert sorted(p.amount.amount_minor for p in payouts) == deposits

    async def test_each_business_sees_only_its_own_receivables(
        self, receivables: Receivables, firm: DemoFirm
    ) -> None:
        first, second = firm.records

        mine = {i.invoice_id for i in await receivables.source.list_invoices(first.business_id)}
        theirs = {i.invoice_id for i in await receivables.source.list_invoices(second.business_id)}
        their_customers = await receivables.source.list_customers(second.business_id)

        assert mine and theirs
        assert not mine & theirs
        assert {c.business_id for c in their_customers} == {second.business_id}

    async def test_a_new_customer_and_invoice_show_on_the_next_read(
        self, receivables: Receivables, firm: DemoFirm
    ) -> None:
        business_id = firm.records[0].business_id
        customer = Customer(
            customer_id=CustomerId("cus_NewWalkIn0001"),
            business_id=business_id,
            name="Walk-in Catering",
            email="ap@walk-in.example",
            external_ref=ref("cus_NewWalkIn0001"),
        )
        invoice = Invoice(
            invoice_id=InvoiceId("in_NewWalkIn0001"),
            business_id=business_id,
            customer_id=customer.customer_id,
            amount=Money(1_234_56, "USD"),
            balance=Money(1_234_56, "USD"),
            issue_date=TODAY,
            due_date=date(2026, 12, 2),
            external_ref=ref("in_NewWalkIn0001"),
        )
        receivables.add_customer(business_id, customer)
        receivables.add_invoice(business_id, invoice)

        customers = await receivables.source.list_customers(business_id)
        invoices = await receivables.source.list_invoices(business_id)

        assert customer in customers
        assert invoice in invoices

    async def test_an_invoice_paid_since_the_last_read_reads_paid_with_nothing_owed(
        self, receivables: Receivables, firm: DemoFirm
    ) -> None:
        business_id = firm.records[0].business_id
        before = await receivables.source.list_invoices(business_id)
        target = next(i for i in before if i.status is InvoiceStatus.OPEN)

        receivables.pay_invoice(business_id, target.invoice_id, TODAY)
        after = {i.invoice_id: i for i in await receivables.source.list_invoices(business_id)}

        assert after[target.invoice_id] == replace(
            target, status=InvoiceStatus.PAID, balance=Money(0, "USD"), paid_date=TODAY
        )
        assert len(after) == len(before)

    async def test_a_new_payout_shows_on_the_next_read(
        self, receivables: Receivables, firm: DemoFirm
    ) -> None:
        business_id = firm.records[0].business_id
        payout = Payout(
            payout_id="po_NewDeposit0001",
            business_id=business_id,
            amount=Money(98_765_43, "USD"),
            arrival_date=date(2026, 11, 4),
            status=PayoutStatus.IN_TRANSIT,
            external_ref=ref("po_NewDeposit0001"),
        )
        receivables.add_payout(business_id, payout)

        payouts = await receivables.source.list_payouts(business_id)

        assert payout in payouts

    async def test_a_business_without_a_stripe_connection_is_unavailable(
        self, receivables: Receivables
    ) -> None:
        stranger = BusinessId("biz-without-stripe")

        with pytest.raises(Unavailable, match="no Stripe connection"):
            await receivables.source.list_invoices(stranger)
