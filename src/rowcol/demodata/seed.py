"""Write a generated demo firm into storage through the unit of work."""

from __future__ import annotations

from collections.abc import Callable

from rowcol.core.domain.errors import Conflict
from rowcol.demodata.generator import DemoFirm
from rowcol.ports.repository import UnitOfWorkFactory


async def seed_firm(
    uow_factory: UnitOfWorkFactory,
    firm: DemoFirm,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Store the firm, its people and clients, then each client's books.

    The tenancy goes in one transaction and each business's records in their own, so a
    1,000-client seed never holds one huge transaction open. Raises Conflict when the
    firm is already stored: whether to keep or replace it is the caller's decision.
    """
    async with uow_factory() as uow:
        if await uow.firms.get(firm.firm.firm_id) is not None:
            raise Conflict("demo firm already seeded")
        await uow.firms.add(firm.firm)
        for advisor in firm.advisors:
            await uow.advisors.add(advisor)
        for user in firm.users:
            await uow.users.add(user)
        for business in firm.businesses:
            await uow.businesses.add(business)
        for client in firm.clients:
            await uow.clients.add(client)
        await uow.commit()

    total = len(firm.records)
    for done, data in enumerate(firm.records, start=1):
        async with uow_factory() as uow:
            await uow.vendors.upsert(data.vendors)
            await uow.customers.upsert(data.customers)
            await uow.bills.upsert(data.bills)
            await uow.invoices.upsert(data.invoices)
            await uow.bank_accounts.upsert(data.bank_accounts)
            await uow.bank_transactions.upsert(data.bank_transactions)
            await uow.balances.add(data.balances)
            await uow.reserves.upsert(data.reserves)
            await uow.commit()
        if progress is not None:
            progress(done, total)
