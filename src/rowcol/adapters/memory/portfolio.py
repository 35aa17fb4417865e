"""The portfolio console's rows in memory, read through the unit of work's fakes with
the same rules as the SQL statement."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from rowcol.core.domain.ids import AdvisorId
from rowcol.core.domain.money import Money, total
from rowcol.core.domain.payments import (
    Payment,
    PaymentStatus,
    VerificationDeadlines,
    VerificationStep,
)
from rowcol.core.domain.portfolio import (
    ClientFacts,
    ClientSignals,
    RailHealth,
    late_cutoff,
    signals_of,
    summarize,
)
from rowcol.core.domain.records import InvoiceStatus
from rowcol.core.domain.tenancy import Business
from rowcol.ports.repository import PortfolioReadModel, UnitOfWork

_AWAITING_STEP = {
    PaymentStatus.SUBMITTED: VerificationStep.RAIL,
    PaymentStatus.RAIL_CONFIRMED: VerificationStep.BANK,
    PaymentStatus.BANK_CONFIRMED: VerificationStep.LEDGER,
}
_OPEN_INVOICE = frozenset({InvoiceStatus.OPEN, InvoiceStatus.DISPUTED})


def _is_late(payment: Payment, today: date, deadlines: VerificationDeadlines) -> bool:
    if payment.status is PaymentStatus.STUCK:
        return True
    step = _AWAITING_STEP.get(payment.status)
    if step is None or payment.submitted_at is None:
        return False
    started = max(payment.pay_on, payment.submitted_at.date())
    return started <= late_cutoff(today, step, deadlines)


class MemoryPortfolio(PortfolioReadModel):
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def client_signals(
        self,
        advisor_id: AdvisorId,
        *,
        today: date,
        deadlines: VerificationDeadlines | None = None,
    ) -> Sequence[ClientSignals]:
        deadlines = deadlines or VerificationDeadlines()
        found = await self._uow.clients.list_for_advisor(advisor_id)
        out = [await self._facts(business, today, deadlines) for _, business in found]
        return [signals_of(f) for f in sorted(out, key=lambda f: f.business_id)]

    async def _facts(
        self, business: Business, today: date, deadlines: VerificationDeadlines
    ) -> ClientFacts:
        uow = self._uow
        business_id = business.business_id
        currency = business.currency
        balances = [
            b for b in await uow.balances.latest(business_id) if b.current.currency == currency
        ]
        snapshot = await uow.forecasts.latest(business_id)
        summary = summarize(snapshot.forecast) if snapshot and snapshot.forecast.weeks else None
        payments = await uow.payments.list(business_id)
        overdue = [
            i
            for i in await uow.invoices.list(business_id)
            if i.status in _OPEN_INVOICE and i.due_date < today and i.balance.currency == currency
        ]
        rails = tuple(
            RailHealth(c.rail, c.status, c.last_synced_at)
            for c in await uow.connections.list(business_id)
        )
        owed: Money | None = total((i.balance for i in overdue), currency) if overdue else None
        hygiene = (await uow.hygiene.open_counts([business_id], today=today)).get(business_id, {})
        return ClientFacts(
            business_id=business_id,
            name=business.name,
            currency=currency,
            cash=total((b.current for b in balances), currency),
            cash_as_of=min((b.as_of for b in balances), default=None),
            forecast_as_of=snapshot.forecast.as_of if snapshot and summary else None,
            forecast=summary,
            buffer=snapshot.buffer if snapshot and summary else None,
            awaiting_approval=sum(1 for p in payments if p.status is PaymentStatus.PROPOSED),
            stuck_payments=sum(1 for p in payments if _is_late(p, today, deadlines)),
            overdue_invoices=len(overdue),
            overdue_receivables=owed,
            rails=tuple(sorted(rails, key=lambda r: r.rail.value)),
            hygiene=hygiene,
        )
