"""What RowCol holds about one client: its mirrored records and its cash."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rowcol.core.domain.cash import CashPosition, Runway, cash_position, runway
from rowcol.core.domain.ids import AdvisorId, BusinessId
from rowcol.core.domain.records import (
    Balance,
    BankAccount,
    BankTransaction,
    Bill,
    BillStatus,
    Customer,
    Invoice,
    Vendor,
)
from rowcol.core.domain.reserves import Reserve
from rowcol.core.domain.tenancy import Actor, Business
from rowcol.core.services.scope import client_for
from rowcol.ports.clock import Clock
from rowcol.ports.repository import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class ClientSummary:
    business: Business
    position: CashPosition
    balances: Sequence[Balance]
    counts: dict[str, int]


class ClientRecordsService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def summary(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId
    ) -> ClientSummary:
        async with self._uow() as uow:
            scoped = await client_for(uow, actor, advisor_id, business_id)
            balances = await uow.balances.latest(business_id)
            bills = await uow.bills.list(business_id)
            invoices = await uow.invoices.list(business_id)
            counts = {
                "vendors": await uow.vendors.count(business_id),
                "customers": await uow.customers.count(business_id),
                "bills": len(bills),
                "open_bills": sum(b.status is BillStatus.OPEN for b in bills),
                "invoices": len(invoices),
                "bank_transactions": await uow.bank_transactions.count(business_id),
            }
        position = cash_position(
            balances, bills, invoices, currency=scoped.business.currency, now=self._clock.now()
        )
        return ClientSummary(scoped.business, position, balances, counts)

    async def runway(self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId) -> Runway:
        async with self._uow() as uow:
            scoped = await client_for(uow, actor, advisor_id, business_id)
            balances = await uow.balances.latest(business_id)
            transactions = await uow.bank_transactions.list(business_id)
        position = cash_position(
            balances, (), (), currency=scoped.business.currency, now=self._clock.now()
        )
        return runway(position.cash, transactions, today=self._clock.today())

    async def bills(
        self,
        actor: Actor,
        advisor_id: AdvisorId,
        business_id: BusinessId,
        *,
        status: BillStatus | None = None,
    ) -> Sequence[Bill]:
        async with self._uow() as uow:
            await client_for(uow, actor, advisor_id, business_id)
            found = await uow.bills.list(business_id)
        return [b for b in found if status is None or b.status is status]

    async def invoices(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId
    ) -> Sequence[Invoice]:
        async with self._uow() as uow:
            await client_for(uow, actor, advisor_id, business_id)
            return await uow.invoices.list(business_id)

    async def vendors(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId
    ) -> Sequence[Vendor]:
        async with self._uow() as uow:
            await client_for(uow, actor, advisor_id, business_id)
            return await uow.vendors.list(business_id)

    async def customers(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId
    ) -> Sequence[Customer]:
        async with self._uow() as uow:
            await client_for(uow, actor, advisor_id, business_id)
            return await uow.customers.list(business_id)

    async def bank_accounts(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId
    ) -> Sequence[BankAccount]:
        async with self._uow() as uow:
            await client_for(uow, actor, advisor_id, business_id)
            return await uow.bank_accounts.list(business_id)

    async def bank_transactions(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId
    ) -> Sequence[BankTransaction]:
        async with self._uow() as uow:
            await client_for(uow, actor, advisor_id, business_id)
            return await uow.bank_transactions.list(business_id)

    async def reserves(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId
    ) -> Sequence[Reserve]:
        async with self._uow() as uow:
            await client_for(uow, actor, advisor_id, business_id)
            return await uow.reserves.list(business_id)
