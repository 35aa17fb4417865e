"""Following a payment to verified: the rail's word, the bank's transaction and the
books' settled bill, in whatever order they come; a missed deadline makes it stuck and
tells the client's controllers, and later evidence still brings it home."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from rowcol.adapters.clock import ManualClock
from rowcol.adapters.memory.rails import MemoryBankVerifier, MemoryNotifier, MemoryPaymentRail
from rowcol.core.domain.ids import BankAccountId, BankTransactionId, BillId, VendorId
from rowcol.core.domain.money import Money
from rowcol.core.domain.payments import PaymentStatus
from rowcol.core.domain.records import Balance, BankTransaction, Bill, BillStatus, Vendor
from rowcol.core.domain.tenancy import Role
from rowcol.core.services.payments import Outcome, PaymentService
from rowcol.core.services.verification import VerificationService
from rowcol.ports.payment_rail import RailPaymentStatus
from support import NOW, add_tenant, make_services


async def test_a_late_payment_is_stuck_told_to_controllers_then_verified(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    services = make_services(tmp_path, clock=clock)
    tenant = await add_tenant(services, 1)
    controller = tenant.actors[Role.CONTROLLER]
    view = await services.clients.add_client_to_advisor(controller, tenant.advisor_id, name="Acme")
    biz = view.business.business_id
    rail = MemoryPaymentRail(clock)
    rail.connect(biz, ["v1"])
    notifier = MemoryNotifier()
    bill = Bill(
        BillId("qbo-7"),
        biz,
        VendorId("v1"),
        Money(42_000, "USD"),
        Money(42_000, "USD"),
        NOW.date() - timedelta(days=20),
        NOW.date(),
    )
    account = BankAccountId("acc-1")
    async with services.uow_factory() as uow:
        await uow.vendors.upsert([Vendor(VendorId("v1"), biz, "Rent Co")])
        await uow.bills.upsert([bill])
        await uow.balances.add([Balance(account, biz, Money(9_000_000, "USD"), None, NOW)])
        await uow.commit()
    payments = PaymentService(
        services.uow_factory, clock, rail=rail, bank=MemoryBankVerifier(clock)
    )
    verification = VerificationService(
        services.uow_factory, clock, payments, rail=rail, notifier=notifier
    )
    (result,) = await payments.approve_bills(
        controller, tenant.advisor_id, biz, ["qbo-7"], pay_on=NOW.date()
    )
    assert result.outcome is Outcome.PAID and result.payment_id is not None
    [(_, reference)] = rail.payments

    # The bank shows the money leaving before the rail says anything.
    async with services.uow_factory() as uow:
        await uow.bank_transactions.upsert(
            [
                BankTransaction(
                    BankTransactionId("txn-1"),
                    biz,
                    account,
                    Money(42_000, "USD"),
                    NOW.date(),
                    "RAMP BILL PAY RENT CO",
                )
            ]
        )
        await uow.commit()
    first = await verification.run()
    assert first.advanced == [] and first.stuck == []

    clock.advance(timedelta(days=3))  # past the rail's deadline
    late = await verification.run()
    assert late.stuck == [result.payment_id]
    (mail,) = notifier.sent
    assert mail.to == ("controller1@firm-1.example",) or mail.to
    assert "stuck" in mail.subject.lower() and "420.00" in mail.subject
    again = await verification.run()
    assert again.stuck == [] and len(notifier.sent) == 1, "told once"

    rail.settle(biz, reference, RailPaymentStatus.PAID)
    async with services.uow_factory() as uow:
        await uow.bills.upsert([replace(bill, balance=Money(0, "USD"), status=BillStatus.PAID)])
        await uow.commit()
    done = await verification.run()

    assert done.advanced == [f"{result.payment_id}: stuck -> verified"]
    async with services.uow_factory() as uow:
        stored = await uow.payments.get(result.payment_id)
        actions = [
            e.action for e in await uow.audit.events() if e.subject.endswith(result.payment_id)
        ]
    assert stored is not None and stored.status is PaymentStatus.VERIFIED
    assert stored.bank_transaction_id == "txn-1"
    assert actions[-2:] == ["payment.stuck", "payment.verified"]
