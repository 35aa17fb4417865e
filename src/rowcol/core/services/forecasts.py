"""Forecasts: the projector fed from what the rails synced, each forecast kept as a
snapshot so its accuracy can be measured against what then happened."""

from __future__ import annotations

import asyncio
import secrets

from rowcol.core.domain.approval import default_policy
from rowcol.core.domain.cash import cash_position, runway
from rowcol.core.domain.forecast import CashFlowProjector, Forecast, ForecastInput
from rowcol.core.domain.ids import AdvisorId, BusinessId
from rowcol.core.domain.payments import RELEASES_BILL, PaymentStatus
from rowcol.core.domain.tenancy import Actor, Business
from rowcol.core.services.scope import client_for
from rowcol.ports.clock import Clock
from rowcol.ports.repository import ForecastSnapshot, UnitOfWork, UnitOfWorkFactory

HORIZONS = (4, 8, 13)


class ForecastService:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, projector: CashFlowProjector | None = None
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._projector = projector or CashFlowProjector()

    async def forecast(
        self,
        actor: Actor,
        advisor_id: AdvisorId,
        business_id: BusinessId,
        *,
        weeks: int = 13,
    ) -> ForecastSnapshot:
        """Projects the business from its stored records and keeps the snapshot."""
        async with self._uow() as uow:
            scoped = await client_for(uow, actor, advisor_id, business_id)
            data = await forecast_input(uow, self._clock, scoped.business)
        made = await self.project(data, weeks=weeks)
        snapshot = ForecastSnapshot(
            snapshot_id=f"fc-{secrets.token_hex(8)}",
            business_id=business_id,
            created_at=self._clock.now(),
            forecast=made,
            buffer=data.buffer,
        )
        async with self._uow() as uow:
            await uow.forecasts.add(snapshot)
            await uow.commit()
        return snapshot

    async def project(self, data: ForecastInput, *, weeks: int = 13) -> Forecast:
        # The simulation is CPU work: off the event loop, so requests keep flowing.
        return await asyncio.to_thread(self._projector.project, data, weeks=weeks)

    async def latest(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId
    ) -> ForecastSnapshot | None:
        async with self._uow() as uow:
            await client_for(uow, actor, advisor_id, business_id)
            return await uow.forecasts.latest(business_id)


async def forecast_input(uow: UnitOfWork, clock: Clock, business: Business) -> ForecastInput:
    """Everything the projector reads about a business, from storage, as of today."""
    business_id = business.business_id
    currency = business.currency
    today = clock.today()
    balances = [b for b in await uow.balances.latest(business_id) if b.current.currency == currency]
    cash = cash_position(balances, (), (), currency=currency, now=clock.now()).cash
    transactions = await uow.bank_transactions.list(business_id)
    policy = await uow.policies.get(business_id) or default_policy(business_id, currency)
    recent = runway(cash, transactions, today=today)
    # Payments RowCol holds say when their bills will be paid.
    pay_dates = {
        p.bill_id: p.pay_on
        for p in await uow.payments.list(business_id)
        if p.status not in RELEASES_BILL and p.status is not PaymentStatus.VERIFIED
    }
    return ForecastInput(
        business_id=business_id,
        currency=currency,
        as_of=today,
        opening_balance=cash,
        bills=await uow.bills.list(business_id),
        invoices=await uow.invoices.list(business_id),
        transactions=transactions,
        reserves=await uow.reserves.list(business_id),
        pay_dates=pay_dates,
        buffer=policy.buffer.amount(recent.average_weekly_outflow),
    )
