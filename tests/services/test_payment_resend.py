"""A resend the rail refuses because it already holds the payment links it instead of
failing it (the rail's look-up can lag behind its own creates)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from rowcol.adapters.clock import ManualClock
from rowcol.adapters.memory.rails import MemoryBankVerifier, MemoryPaymentRail
from rowcol.core.domain.ids import BankAccountId, BillId, BusinessId, VendorId
from rowcol.core.domain.money import Money
from rowcol.core.domain.payments import PaymentStatus
from rowcol.core.domain.records import Balance, Bill, Vendor
from rowcol.core.domain.tenancy import Role
from rowcol.core.services.payments import Outcome, PaymentService
from rowcol.ports.payment_rail import RailPayment
from support import NOW, add_tenant, make_services


async def test_a_refused_resend_of_a_payment_the_rail_holds_is_linked_not_failed(
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
    async with services.uow_factory() as uow:
        await uow.vendors.upsert([Vendor(VendorId("v1"), biz, "Rent Co")])
        await uow.bills.upsert(
            [
                Bill(
                    BillId("b1"),
                    biz,
                    VendorId("v1"),
                    Money(30_000, "USD"),
                    Money(30_000, "USD"),
                    NOW.date() - timedelta(days=3),
                    NOW.date(),
                )
            ]
        )
        await uow.balances.add([Balance(BankAccountId("a"), biz, Money(10**8, "USD"), None, NOW)])
        await uow.commit()
    payments = PaymentService(
        services.uow_factory, clock, rail=rail, bank=MemoryBankVerifier(clock)
    )
    rail.lose_next_answer = True
    (sent,) = await payments.approve_bills(controller, tenant.advisor_id, biz, ["b1"])
    assert sent.outcome is Outcome.PAID and sent.payment_id is not None
    real_find = rail.find_payment
    misses = [True]

    async def lagging_find(business_id: BusinessId, reference: str) -> RailPayment | None:
        if misses and misses.pop():
            return None  # the rail's list has not caught up with its own create yet
        return await real_find(business_id, reference)

    rail.find_payment = lagging_find  # type: ignore[method-assign]

    done = await payments.reconcile()

    assert [d.action for d in done] == ["resent"]
    async with services.uow_factory() as uow:
        stored = await uow.payments.get(sent.payment_id)
    assert stored is not None and stored.status is PaymentStatus.SUBMITTED
    assert stored.rail_payment_id == "rp-1" and stored.failure_reason is None
    assert len(rail.requests) == 1, "paid once"
