from datetime import date, timedelta
from pathlib import Path

from rowcol.adapters.clock import ManualClock
from rowcol.adapters.memory.rails import MemoryARSource, MemoryBankVerifier, MemoryLedger
from rowcol.adapters.memory.repository import MemoryUnitOfWorkFactory
from rowcol.core.domain.connections import ConnectionStatus
from rowcol.core.domain.ids import (
    BankAccountId,
    BankTransactionId,
    BillId,
    BusinessId,
    CustomerId,
    InvoiceId,
    Rail,
    VendorId,
)
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import (
    Balance,
    BankAccount,
    BankTransaction,
    Bill,
    Customer,
    Invoice,
    Payout,
    PayoutStatus,
    Vendor,
)
from rowcol.core.domain.tenancy import Role
from rowcol.core.services.sync import SmartSync
from rowcol.ports.errors import Rejected
from rowcol.ports.ledger import LedgerKind
from support import NOW, add_tenant, make_services


async def setup(
    tmp_path: Path,
) -> tuple[
    SmartSync, MemoryLedger, MemoryBankVerifier, BusinessId, MemoryUnitOfWorkFactory, ManualClock
]:
    clock = ManualClock(NOW)
    uow = MemoryUnitOfWorkFactory()
    services = make_services(tmp_path, uow_factory=uow, clock=clock)
    tenant = await add_tenant(services, 1)
    view = await services.clients.add_client_to_advisor(
        tenant.actors[Role.CONTROLLER], tenant.advisor_id, name="Acme"
    )
    biz = view.business.business_id
    ledger = MemoryLedger(clock)
    bank = MemoryBankVerifier(clock, page_size=2)
    vendor = Vendor(VendorId("v1"), biz, "Rent Co")
    ledger.books[biz].vendors.append(vendor)
    ledger.books[biz].bills.append(
        Bill(
            BillId("b1"),
            biz,
            vendor.vendor_id,
            Money(5000, "USD"),
            Money(5000, "USD"),
            date(2026, 10, 1),
            date(2026, 10, 31),
        )
    )
    account = BankAccount(BankAccountId("acc-1"), biz, "Operating")
    bank.accounts[biz].append(account)
    bank.balances[biz].append(Balance(account.account_id, biz, Money(90_000, "USD"), None, NOW))
    for n in range(5):
        bank.transactions[biz].append(
            BankTransaction(
                BankTransactionId(f"t{n}"),
                biz,
                account.account_id,
                Money(100 + n, "USD"),
                date(2026, 10, 1 + n),
                f"txn {n}",
            )
        )
    sync = SmartSync(uow, clock, ledger=ledger, bank=bank)
    await sync.connect(biz, Rail.QBO, account="realm-1")
    await sync.connect(biz, Rail.PLAID, account="item-1")
    return sync, ledger, bank, biz, uow, clock


async def test_a_sync_pulls_every_page_and_stores_records_with_their_cursor(tmp_path: Path) -> None:
    sync, _, _, biz, uow, _ = await setup(tmp_path)
    results = await sync.sync_business(biz)
    assert {r.rail: r.ok for r in results} == {Rail.QBO: True, Rail.PLAID: True}
    async with uow() as unit:
        assert await unit.bank_transactions.count(biz) == 5
        assert await unit.bills.count(biz) == 1
        cursor = await unit.cursors.get(biz, Rail.PLAID, "transactions")
        assert cursor is not None and cursor.cursor == "5"
        connection = await unit.connections.get(biz, Rail.PLAID)
        assert connection is not None and connection.status is ConnectionStatus.OK


async def test_running_a_sync_twice_changes_nothing(tmp_path: Path) -> None:
    sync, _, _, biz, uow, _ = await setup(tmp_path)
    await sync.sync_business(biz)
    async with uow() as unit:
        before = (await unit.bank_transactions.list(biz), await unit.bills.list(biz))
    again = await sync.sync_business(biz)
    assert all(r.ok for r in again)
    async with uow() as unit:
        after = (await unit.bank_transactions.list(biz), await unit.bills.list(biz))
    assert before == after


async def test_only_new_transactions_are_fetched_after_the_cursor(tmp_path: Path) -> None:
    sync, _, bank, biz, uow, _ = await setup(tmp_path)
    await sync.sync_business(biz, rails=[Rail.PLAID])
    bank.transactions[biz].append(
        BankTransaction(
            BankTransactionId("t9"),
            biz,
            BankAccountId("acc-1"),
            Money(999, "USD"),
            date(2026, 11, 1),
            "new",
        )
    )
    results = await sync.sync_business(biz, rails=[Rail.PLAID])
    assert results[0].changed["transactions"] == 1
    async with uow() as unit:
        assert await unit.bank_transactions.count(biz) == 6


async def test_a_failed_pull_stores_nothing_and_marks_the_connection(tmp_path: Path) -> None:
    sync, _, bank, biz, uow, clock = await setup(tmp_path)
    bank.unavailable = True
    results = await sync.sync_business(biz, rails=[Rail.PLAID])
    assert not results[0].ok
    async with uow() as unit:
        assert await unit.bank_transactions.count(biz) == 0
        assert await unit.cursors.get(biz, Rail.PLAID, "transactions") is None
        connection = await unit.connections.get(biz, Rail.PLAID)
        assert connection is not None and connection.status is ConnectionStatus.FAILING
    bank.unavailable = False
    clock.advance(timedelta(minutes=5))
    assert (await sync.sync_business(biz, rails=[Rail.PLAID]))[0].ok
    async with uow() as unit:
        assert await unit.bank_transactions.count(biz) == 5


async def test_a_refused_connection_needs_attention_and_that_is_audited(tmp_path: Path) -> None:
    sync, ledger, _, biz, uow, _ = await setup(tmp_path)

    async def refuse(*_: object, **__: object) -> list[Vendor]:
        raise Rejected("QBO connection needs re-authorisation")

    ledger.list_vendors = refuse  # type: ignore[method-assign]
    results = await sync.sync_business(biz, rails=[Rail.QBO])
    assert results[0].error == "QBO connection needs re-authorisation"
    async with uow() as unit:
        connection = await unit.connections.get(biz, Rail.QBO)
        events = await unit.audit.events()
    assert connection is not None
    assert connection.status is ConnectionStatus.NEEDS_ATTENTION
    assert events[-1].action == "rail.status_changed"


def second_bill(biz: BusinessId) -> Bill:
    return Bill(
        BillId("b2"),
        biz,
        VendorId("v1"),
        Money(700, "USD"),
        Money(700, "USD"),
        date(2026, 10, 5),
        date(2026, 11, 5),
    )


async def test_a_bill_deleted_in_the_books_is_dropped_on_the_next_sync(tmp_path: Path) -> None:
    sync, ledger, _, biz, uow, clock = await setup(tmp_path)
    ledger.books[biz].bills.append(second_bill(biz))
    await sync.sync_business(biz, rails=[Rail.QBO])
    clock.advance(timedelta(hours=1))
    ledger.books[biz].delete(LedgerKind.BILL, "b1", clock.now())

    (result,) = await sync.sync_business(biz, rails=[Rail.QBO])

    assert result.ok and result.changed["removed"] == 1
    async with uow() as unit:
        assert [b.bill_id for b in await unit.bills.list(biz)] == ["b2"]


async def test_after_the_deletion_window_everything_is_listed_and_the_gone_dropped(
    tmp_path: Path,
) -> None:
    sync, ledger, _, biz, uow, clock = await setup(tmp_path)
    ledger.books[biz].bills.append(second_bill(biz))
    await sync.sync_business(biz, rails=[Rail.QBO])
    # Forty days later the ledger can no longer say what was deleted.
    clock.advance(timedelta(days=40))
    ledger.books[biz].bills = [b for b in ledger.books[biz].bills if b.bill_id != "b2"]
    ledger.books[biz].vendors.append(Vendor(VendorId("v2"), biz, "Power Co"))

    (result,) = await sync.sync_business(biz, rails=[Rail.QBO])

    assert result.ok and result.changed["removed"] == 1
    async with uow() as unit:
        assert [b.bill_id for b in await unit.bills.list(biz)] == ["b1"]
        assert [v.vendor_id for v in await unit.vendors.list(biz)] == ["v1", "v2"]


def receivables(biz: BusinessId) -> MemoryARSource:
    source = MemoryARSource()
    source.customers[biz].append(Customer(CustomerId("cus_1"), biz, "Mesa", "ap@mesa.example"))
    source.invoices[biz].append(
        Invoice(
            InvoiceId("in_1"),
            biz,
            CustomerId("cus_1"),
            Money(125_050, "USD"),
            Money(125_050, "USD"),
            date(2026, 10, 1),
            date(2026, 10, 31),
            external_ref="stripe:in_1",
        )
    )
    source.payouts[biz].append(
        Payout("po_1", biz, Money(98_000, "USD"), date(2026, 10, 3), PayoutStatus.PAID)
    )
    return source


async def test_stripe_brings_payouts_and_leaves_receivables_to_the_connected_books(
    tmp_path: Path,
) -> None:
    _, ledger, bank, biz, uow, clock = await setup(tmp_path)
    sync = SmartSync(uow, clock, ledger=ledger, bank=bank, receivables=receivables(biz))
    await sync.connect(biz, Rail.STRIPE, account="acct_1")

    results = {r.rail: r for r in await sync.sync_business(biz)}

    assert results[Rail.STRIPE].changed == {"payouts": 1, "customers": 0, "invoices": 0}
    async with uow() as unit:
        assert [p.payout_id for p in await unit.payouts.list(biz)] == ["po_1"]
        assert await unit.invoices.list(biz) == []


async def test_without_books_stripe_is_where_the_receivables_come_from(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    uow = MemoryUnitOfWorkFactory()
    services = make_services(tmp_path, uow_factory=uow, clock=clock)
    tenant = await add_tenant(services, 1)
    view = await services.clients.add_client_to_advisor(
        tenant.actors[Role.CONTROLLER], tenant.advisor_id, name="Card-only Co"
    )
    biz = view.business.business_id
    sync = SmartSync(uow, clock, receivables=receivables(biz))
    await sync.connect(biz, Rail.STRIPE, account="acct_1")

    (first,) = await sync.sync_business(biz)
    async with uow() as unit:
        stored = (await unit.invoices.list(biz), await unit.customers.list(biz))
    (again,) = await sync.sync_business(biz)
    assert again.ok

    assert first.ok and first.changed == {"payouts": 1, "customers": 1, "invoices": 1}
    assert [i.invoice_id for i in stored[0]] == ["in_1"]
    async with uow() as unit:
        assert (await unit.invoices.list(biz), await unit.customers.list(biz)) == stored


async def test_a_quick_sync_reads_accounts_again_only_for_an_account_it_does_not_know(
    tmp_path: Path,
) -> None:
    sync, _, bank, biz, uow, _ = await setup(tmp_path)
    await sync.sync_business(biz, rails=[Rail.PLAID])
    reads = 0
    listed = bank.list_accounts

    async def counted(business_id: BusinessId) -> list[BankAccount]:
        nonlocal reads
        reads += 1
        return list(await listed(business_id))

    bank.list_accounts = counted  # type: ignore[method-assign]

    def txn(n: int, account: str) -> BankTransaction:
        return BankTransaction(
            BankTransactionId(f"q{n}"),
            biz,
            BankAccountId(account),
            Money(10, "USD"),
            date(2026, 11, 2),
            "quick",
        )

    bank.transactions[biz].append(txn(1, "acc-1"))
    await sync.sync_business(biz, rails=[Rail.PLAID], balances=False)
    assert reads == 0  # the account is known: no account read for a quick sync
    savings = BankAccount(BankAccountId("acc-2"), biz, "Savings")
    bank.accounts[biz].append(savings)
    bank.transactions[biz].append(txn(2, "acc-2"))
    await sync.sync_business(biz, rails=[Rail.PLAID], balances=False)
    assert reads == 1
    async with uow() as unit:
        assert {a.account_id for a in await unit.bank_accounts.list(biz)} == {"acc-1", "acc-2"}
        assert await unit.bank_transactions.count(biz) == 7
