"""Cross-rail findings from what RowCol stores and what the rails answer: a bill whose
books and Ramp copy disagree, a payout the bank never showed, and a rail that cannot
answer is named rather than taken as agreement."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from rowcol.adapters.clock import ManualClock
from rowcol.adapters.memory.rails import MemoryBankVerifier, MemoryLedger, MemoryPaymentRail
from rowcol.core.domain.crossrail import FindingKind, LedgerDeposit
from rowcol.core.domain.ids import BankAccountId, BillId, Rail, VendorId
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import Balance, Bill, Payout, PayoutStatus, Vendor
from rowcol.core.domain.tenancy import Role
from rowcol.core.services.crossrail import CrossRailService
from rowcol.core.services.payments import Outcome, PaymentService
from support import NOW, add_tenant, make_services


async def test_the_books_and_the_rails_disagreeing_are_findings_with_both_sides(
    tmp_path: Path,
) -> None:
    clock = ManualClock(NOW)
    services = make_services(tmp_path, clock=clock)
    tenant = await add_tenant(services, 1)
    controller = tenant.actors[Role.CONTROLLER]
    view = await services.clients.add_client_to_advisor(controller, tenant.advisor_id, name="Acme")
    biz = view.business.business_id
    rail = MemoryPaymentRail(clock)
    rail.connect(biz, ["v1"])
    bank = MemoryBankVerifier(clock)
    ledger = MemoryLedger(clock)
    bill = Bill(
        BillId("qbo-1"),
        biz,
        VendorId("v1"),
        Money(120_000, "USD"),
        Money(120_000, "USD"),
        NOW.date() - timedelta(days=10),
        NOW.date() + timedelta(days=5),
    )
    payout = Payout(
        "po_1", biz, Money(50_000, "USD"), NOW.date() - timedelta(days=9), PayoutStatus.PAID
    )
    async with services.uow_factory() as uow:
        await uow.vendors.upsert([Vendor(VendorId("v1"), biz, "Rent Co")])
        await uow.bills.upsert([bill])
        await uow.payouts.upsert([payout])
        await uow.balances.add(
            [Balance(BankAccountId("acc-1"), biz, Money(10_000_000, "USD"), None, NOW)]
        )
        await uow.commit()
    for r in (Rail.QBO, Rail.RAMP, Rail.PLAID):
        await services.sync.connect(biz, r, account=f"{r.value}-1")
    payments = PaymentService(services.uow_factory, clock, rail=rail, bank=bank)
    (paid,) = await payments.approve_bills(controller, tenant.advisor_id, biz, ["qbo-1"])
    assert paid.outcome is Outcome.PAID
    # Someone edits the bill in the books after it went to Ramp.
    async with services.uow_factory() as uow:
        await uow.bills.upsert(
            [replace(bill, amount=Money(125_000, "USD"), balance=Money(125_000, "USD"))]
        )
        await uow.commit()
    ledger.books[biz].deposits = [
        LedgerDeposit("dep-1", biz, Money(50_000, "USD"), NOW.date() - timedelta(days=9))
    ]
    checker = CrossRailService(services.uow_factory, clock, rail=rail, ledger=ledger)

    report = await checker.findings(controller, tenant.advisor_id, biz)

    kinds = sorted(f.kind for f in report.findings)
    assert kinds == [FindingKind.BILL_AMOUNT_MISMATCH, FindingKind.PAYOUT_NOT_IN_BANK]
    amount = next(f for f in report.findings if f.kind is FindingKind.BILL_AMOUNT_MISMATCH)
    assert amount.money_at_stake == Money(5_000, "USD")
    assert [getattr(r, "bill_id", None) for r in amount.left] == ["qbo-1"]
    assert amount.right and "1,250.00" in amount.summary
    assert report.compared["rail_bills"] == 1 and report.unavailable == []

    rail.unavailable = True
    down = await checker.findings(controller, tenant.advisor_id, biz)
    assert [f.kind for f in down.findings] == [FindingKind.PAYOUT_NOT_IN_BANK]
    assert down.unavailable and down.unavailable[0].startswith("ramp")
