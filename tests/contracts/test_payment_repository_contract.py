"""Payments and policies behave the same on memory, SQLite and PostgreSQL: one open
payment per bill whatever the race, writes over a stale version refused, and every
field stored exactly."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from rowcol.core.domain.approval import Approval, default_policy
from rowcol.core.domain.guardrail import BufferRule
from rowcol.core.domain.ids import BankTransactionId, BillId, BusinessId, PaymentId, VendorId
from rowcol.core.domain.money import Money
from rowcol.core.domain.payments import (
    DuplicatePayment,
    Payment,
    PaymentStatus,
    payment_reference,
)
from rowcol.core.domain.tenancy import Business, Role
from rowcol.ports.repository import StaleWrite, UnitOfWorkFactory

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
BIZ = BusinessId("biz-1")


def payment(n: int, bill: str = "bill-1", **changes: object) -> Payment:
    payment_id = PaymentId(f"pay-{n}")
    base = Payment(
        payment_id=payment_id,
        business_id=BIZ,
        bill_id=BillId(bill),
        vendor_id=VendorId("ven-1"),
        amount=Money(123_456, "USD"),
        pay_on=date(2026, 11, 5),
        reference=payment_reference(payment_id),
        status=PaymentStatus.PROPOSED,
        created_at=NOW + timedelta(seconds=n),
        updated_at=NOW + timedelta(seconds=n),
        prepared_by="user-bk",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


async def seeded(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.businesses.add(Business(BIZ, "Acme"))
        await uow.commit()


async def test_a_payment_is_stored_exactly_and_found_every_way(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await seeded(uow_factory)
    approvals = (Approval("user-c1", Role.CONTROLLER, NOW, 3),)
    full = payment(
        1,
        status=PaymentStatus.VERIFIED,
        approvals=approvals,
        rail_payment_id="ramp-bill-9",
        submitted_at=NOW,
        rail_confirmed_at=NOW + timedelta(hours=1),
        bank_confirmed_at=NOW + timedelta(days=1),
        bank_transaction_id=BankTransactionId("txn-7"),
        ledger_confirmed_at=NOW + timedelta(days=2),
        ledger_ref="qbo:77",
        version=6,
    )
    async with uow_factory() as uow:
        await uow.payments.add(full)
        await uow.payments.add(payment(2, "bill-2"))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.payments.get(full.payment_id) == full
        assert await uow.payments.find_by_reference(full.reference) == full
        assert await uow.payments.find_by_rail_id("ramp-bill-9") == full
        assert await uow.payments.find_by_rail_id("nothing") is None
        assert [p.payment_id for p in await uow.payments.list(BIZ)] == ["pay-1", "pay-2"]
        proposed = await uow.payments.list(statuses={PaymentStatus.PROPOSED})
        assert [p.payment_id for p in proposed] == ["pay-2"]
        assert await uow.payments.list(BusinessId("other")) == []


async def test_a_bill_holds_one_open_payment_but_many_failed_ones(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await seeded(uow_factory)
    async with uow_factory() as uow:
        await uow.payments.add(payment(1))
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(DuplicatePayment):
            await uow.payments.add(payment(2))
    async with uow_factory() as uow:
        first = await uow.payments.get(PaymentId("pay-1"))
        assert first is not None
        await uow.payments.update(
            replace(first, status=PaymentStatus.CANCELLED, version=first.version + 1)
        )
        await uow.payments.add(payment(2))
        await uow.commit()
    async with uow_factory() as uow:
        second = await uow.payments.get(PaymentId("pay-2"))
        assert second is not None
        with pytest.raises(DuplicatePayment):
            # Reviving the cancelled payment would make two.
            await uow.payments.update(
                replace(first, status=PaymentStatus.PROPOSED, version=first.version + 2)
            )


async def test_two_approvers_racing_for_one_bill_make_one_payment(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await seeded(uow_factory)

    async def propose(n: int) -> str:
        try:
            async with uow_factory() as uow:
                await uow.payments.add(payment(n))
                await asyncio.sleep(0.05)  # both hold their transaction open
                await uow.commit()
        except DuplicatePayment:
            return "refused"
        return "stored"

    outcomes = await asyncio.gather(*(propose(n) for n in range(1, 6)))

    assert sorted(outcomes) == ["refused"] * 4 + ["stored"]
    async with uow_factory() as uow:
        assert len(await uow.payments.list(BIZ)) == 1


async def test_a_write_over_a_stale_version_is_refused(uow_factory: UnitOfWorkFactory) -> None:
    await seeded(uow_factory)
    async with uow_factory() as uow:
        await uow.payments.add(payment(1))
        await uow.commit()
    async with uow_factory() as uow:
        read = await uow.payments.get(PaymentId("pay-1"))
        assert read is not None
        approved = replace(read, status=PaymentStatus.APPROVED, version=2)
        await uow.payments.update(approved)
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(StaleWrite):
            await uow.payments.update(replace(read, status=PaymentStatus.CANCELLED, version=2))
        assert await uow.payments.get(PaymentId("pay-1")) == approved


async def test_policies_are_versioned_and_round_trip(uow_factory: UnitOfWorkFactory) -> None:
    await seeded(uow_factory)
    first = default_policy(BIZ, "USD")
    edited = replace(
        first,
        version=2,
        per_payment_cap=Money(5_000_000, "USD"),
        vendor_holds=frozenset({VendorId("ven-9")}),
        buffer=BufferRule.fixed(Money(1_000_000, "USD")),
        max_balance_age=timedelta(minutes=5),
    )
    async with uow_factory() as uow:
        assert await uow.policies.get(BIZ) is None
        await uow.policies.save(first)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.policies.get(BIZ) == first
        with pytest.raises(StaleWrite):
            await uow.policies.save(first)
        await uow.policies.save(edited)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.policies.get(BIZ) == edited
        with pytest.raises(StaleWrite):
            await uow.policies.save(replace(edited, version=5))
