"""Cross-rail validation: the books against the rails' copies, each disagreement a
finding with the records on both sides.

QBO bills are compared with the copies Ramp holds of the bills RowCol sent; Stripe
payouts with the bank's deposits (Plaid) and with the deposits the books record (QBO).
Stored records are used where RowCol keeps them; what only a rail knows (its bill
copies, the books' deposits) is asked for, and a rail that cannot answer is named in
the report rather than taken as agreement.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rowcol.core.domain.crossrail import (
    Finding,
    LedgerDeposit,
    RailBillCopy,
    compare_bills,
    compare_payouts,
)
from rowcol.core.domain.ids import AdvisorId, BusinessId, Rail
from rowcol.core.domain.payments import RELEASES_BILL
from rowcol.core.domain.records import BillStatus
from rowcol.core.domain.tenancy import Actor
from rowcol.core.services.scope import client_for
from rowcol.ports.clock import Clock
from rowcol.ports.errors import PortError
from rowcol.ports.ledger import Ledger
from rowcol.ports.payment_rail import PaymentRail, RailBill, RailPaymentStatus
from rowcol.ports.repository import UnitOfWorkFactory

_RAIL_STATUS = {
    RailPaymentStatus.PAID: BillStatus.PAID,
    RailPaymentStatus.CANCELED: BillStatus.VOID,
    RailPaymentStatus.FAILED: BillStatus.VOID,
    RailPaymentStatus.PENDING: BillStatus.OPEN,
    RailPaymentStatus.SCHEDULED: BillStatus.OPEN,
}


@dataclass(frozen=True, slots=True)
class CrossRailReport:
    business_id: BusinessId
    findings: list[Finding]
    compared: dict[str, int] = field(default_factory=dict)
    """How many records of each kind were compared."""
    unavailable: list[str] = field(default_factory=list)
    """Rails that could not answer: their side was not compared."""


class CrossRailService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        *,
        rail: PaymentRail | None = None,
        ledger: Ledger | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._rail = rail
        self._ledger = ledger

    async def findings(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId
    ) -> CrossRailReport:
        async with self._uow() as uow:
            await client_for(uow, actor, advisor_id, business_id)
            bills = await uow.bills.list(business_id)
            vendors = {v.vendor_id: v.name for v in await uow.vendors.list(business_id)}
            payments = await uow.payments.list(business_id)
            payouts = await uow.payouts.list(business_id)
            transactions = await uow.bank_transactions.list(business_id)
            connected = {c.rail for c in await uow.connections.list(business_id)}
        unavailable: list[str] = []
        findings: list[Finding] = []
        compared: dict[str, int] = {"ledger_bills": len(bills)}

        sent = await self._sent(business_id, connected, unavailable)
        if sent is not None:
            by_reference = {p.reference: p for p in payments}
            copies = [
                RailBillCopy(
                    rail_bill_id=copy.rail_bill_id,
                    business_id=business_id,
                    ledger_bill_id=by_reference[copy.reference].bill_id,
                    vendor=copy.vendor,
                    amount=copy.amount,
                    due_date=copy.due_date,
                    status=_RAIL_STATUS[copy.status],
                    rail=Rail.RAMP,
                )
                for copy in sent
                if copy.reference in by_reference
            ]
            # Every payment sent and still holding its bill should have its copy on Ramp.
            expected = frozenset(
                p.bill_id
                for p in payments
                if p.submitted_at is not None and p.status not in RELEASES_BILL
            )
            findings += compare_bills(
                bills, copies, vendor_names=vendors, expected_on_rail=expected
            )
            compared["rail_bills"] = len(copies)

        if payouts:
            deposits = await self._deposits(business_id, connected, unavailable)
            if deposits is not None:
                inflows = [t for t in transactions if not t.is_outflow]
                findings += compare_payouts(payouts, inflows, deposits, today=self._clock.today())
                compared["payouts"] = len(payouts)
                compared["ledger_deposits"] = len(deposits)
        findings.sort(key=lambda f: (_SEVERITY_ORDER[f.severity.value], f.key))
        return CrossRailReport(business_id, findings, compared, unavailable)

    async def _sent(
        self, business_id: BusinessId, connected: set[Rail], unavailable: list[str]
    ) -> list[RailBill] | None:
        if self._rail is None or Rail.RAMP not in connected:
            return None
        try:
            return list(await self._rail.list_sent(business_id))
        except PortError as exc:
            unavailable.append(f"ramp: {exc}")
            return None

    async def _deposits(
        self, business_id: BusinessId, connected: set[Rail], unavailable: list[str]
    ) -> list[LedgerDeposit] | None:
        if self._ledger is None or Rail.QBO not in connected:
            return None
        try:
            return list(await self._ledger.list_deposits(business_id))
        except PortError as exc:
            unavailable.append(f"qbo: {exc}")
            return None


_SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}
