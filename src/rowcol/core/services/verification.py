"""Following each payment across the rails until all agree.

The rail (Ramp) says it paid: rail-confirmed. A matching bank transaction (Plaid) shows
the money left: bank-confirmed. The books (QBO) show the bill settled: verified. Each
step has a deadline; a payment that misses one is stuck, which is audited and told to
the client's controllers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from rowcol.core.domain import payments as life
from rowcol.core.domain.ids import BankTransactionId, BusinessId, Rail, VendorId
from rowcol.core.domain.notifications import EmailMessage
from rowcol.core.domain.payments import Payment, PaymentStatus, VerificationDeadlines
from rowcol.core.domain.records import BankTransaction, Bill
from rowcol.core.domain.tenancy import SYSTEM_ACTOR, Role
from rowcol.core.domain.verification import Expected, ledger_settled, match_bank_transactions
from rowcol.core.services.payments import PaymentService
from rowcol.core.services.scope import record
from rowcol.core.services.sync import SmartSync
from rowcol.ports.clock import Clock
from rowcol.ports.errors import PortError
from rowcol.ports.notifier import Notifier
from rowcol.ports.payment_rail import PaymentRail, RailPaymentStatus
from rowcol.ports.repository import StaleWrite, UnitOfWork, UnitOfWorkFactory

AWAITING = (
    PaymentStatus.SUBMITTED,
    PaymentStatus.RAIL_CONFIRMED,
    PaymentStatus.BANK_CONFIRMED,
    PaymentStatus.STUCK,
)


@dataclass(slots=True)
class VerificationReport:
    checked: int = 0
    advanced: list[str] = field(default_factory=list)
    """`payment_id: old -> new` for every payment that moved."""
    stuck: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    reconciled: int = 0


class VerificationService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        payments: PaymentService,
        *,
        rail: PaymentRail | None = None,
        notifier: Notifier | None = None,
        sync: SmartSync | None = None,
        deadlines: VerificationDeadlines | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._payments = payments
        self._rail = rail
        self._notifier = notifier
        self._sync = sync
        self._deadlines = deadlines or VerificationDeadlines()

    async def run(self, *, business_id: BusinessId | None = None) -> VerificationReport:
        """One pass over every payment awaiting evidence (or one business's)."""
        report = VerificationReport()
        report.reconciled = len(await self._payments.reconcile(business_id=business_id))
        async with self._uow() as uow:
            waiting = await uow.payments.list(business_id, statuses=AWAITING)
        by_business: dict[BusinessId, list[Payment]] = defaultdict(list)
        for payment in waiting:
            by_business[payment.business_id].append(payment)
        for business, payments in sorted(by_business.items()):
            await self._verify_business(business, payments, report)
        return report

    async def on_rail_event(self, rail_payment_id: str) -> VerificationReport:
        """A rail said something about one of its payments: look at that business now."""
        async with self._uow() as uow:
            payment = await uow.payments.find_by_rail_id(rail_payment_id)
        if payment is None:
            return VerificationReport()
        return await self.run(business_id=payment.business_id)

    async def _verify_business(
        self, business_id: BusinessId, payments: Sequence[Payment], report: VerificationReport
    ) -> None:
        if self._sync is not None:
            # Fresh bank and books first; a rail that fails leaves what was stored.
            await self._sync.sync_business(
                business_id, rails=(Rail.PLAID, Rail.QBO), balances=False
            )
        async with self._uow() as uow:
            transactions = await uow.bank_transactions.list(business_id)
            bills = {b.bill_id: b for b in await uow.bills.list(business_id)}
            vendors = {v.vendor_id: v.name for v in await uow.vendors.list(business_id)}
            every = await uow.payments.list(business_id)
        matches = _bank_matches(payments, every, transactions, vendors)
        for payment in payments:
            report.checked += 1
            rail_status = await self._rail_status(payment)
            changed = await self._advance(payment, rail_status, matches, bills.get(payment.bill_id))
            if changed is None:
                continue
            if changed.status is not payment.status:
                report.advanced.append(
                    f"{payment.payment_id}: {payment.status.value} -> {changed.status.value}"
                )
            if changed.status is PaymentStatus.STUCK and payment.status is not PaymentStatus.STUCK:
                report.stuck.append(payment.payment_id)
                await self._tell_controllers(changed)
            if changed.status is PaymentStatus.FAILED:
                report.failed.append(payment.payment_id)

    async def _rail_status(self, payment: Payment) -> RailPaymentStatus | None:
        if self._rail is None or payment.rail_payment_id is None:
            return None
        if payment.rail_confirmed_at is not None:
            return None
        try:
            found = await self._rail.payment_status(payment.business_id, payment.rail_payment_id)
        except PortError:
            return None  # asked again on the next pass; the deadline decides when to worry
        return found.status

    async def _advance(
        self,
        payment: Payment,
        rail_status: RailPaymentStatus | None,
        matches: dict[str, str],
        bill: Bill | None,
    ) -> Payment | None:
        now = self._clock.now()

        def change(p: Payment) -> Payment:
            if rail_status is RailPaymentStatus.PAID:
                p = life.record_rail_confirmed(p, now=now)
            elif rail_status in (RailPaymentStatus.FAILED, RailPaymentStatus.CANCELED):
                return life.fail(p, f"the rail reports it {rail_status.value}", now=now)
            txn = matches.get(p.reference)
            if txn is not None and p.bank_transaction_id is None:
                p = life.record_bank_confirmed(
                    p, bank_transaction_id=BankTransactionId(txn), now=now
                )
            if bill is not None and p.ledger_confirmed_at is None and ledger_settled(bill):
                p = life.record_ledger_confirmed(
                    p, ledger_ref=bill.external_ref or bill.bill_id, now=now
                )
            late = life.overdue_step(p, now, self._deadlines)
            if late is not None and p.status is not PaymentStatus.STUCK:
                p = life.mark_stuck(
                    p,
                    f"no {late.value} confirmation by "
                    f"{life.due_at(p, late, self._deadlines):%Y-%m-%d %H:%M} UTC",
                    now=now,
                )
            return p

        for _ in range(5):
            async with self._uow() as uow:
                current = await uow.payments.get(payment.payment_id)
                if current is None:
                    return None
                changed = change(current)
                if changed is current:
                    return None
                # Several pieces of evidence at once are still one write.
                changed = replace(changed, version=current.version + 1)
                try:
                    await uow.payments.update(changed)
                except StaleWrite:
                    continue
                await record(
                    uow,
                    self._clock,
                    SYSTEM_ACTOR,
                    _action(current, changed),
                    f"payment:{changed.payment_id}",
                    before={"status": current.status.value},
                    after={
                        "status": changed.status.value,
                        "rail_payment_id": changed.rail_payment_id,
                        "bank_transaction_id": changed.bank_transaction_id,
                        "ledger_ref": changed.ledger_ref,
                        "stuck_reason": changed.stuck_reason,
                        "failure_reason": changed.failure_reason,
                    },
                )
                await uow.commit()
                return changed
        return None

    async def _tell_controllers(self, payment: Payment) -> None:
        if self._notifier is None:
            return
        async with self._uow() as uow:
            emails = await _controller_emails(uow, payment.business_id)
            business = await uow.businesses.get(payment.business_id)
        if not emails:
            return
        name = business.name if business else payment.business_id
        text = (
            f"Payment {payment.payment_id} of {payment.amount.format()} for bill "
            f"{payment.bill_id} ({name}) is stuck: {payment.stuck_reason}.\n"
            "RowCol keeps checking; look at its chain of custody to see where it stopped."
        )
        try:
            await self._notifier.send(
                EmailMessage(
                    message_id=f"stuck-{payment.payment_id}",
                    to=tuple(emails),
                    subject=f"Payment stuck: {payment.amount.format()} for {name}",
                    text=text,
                    category="payment_stuck",
                )
            )
        except PortError:
            return  # the stuck status and its audit event stand; mail is best effort


def _bank_matches(
    waiting: Sequence[Payment],
    every: Sequence[Payment],
    transactions: Sequence[BankTransaction],
    vendors: Mapping[VendorId, str],
) -> dict[str, str]:
    used = {p.bank_transaction_id for p in every if p.bank_transaction_id is not None}
    expected = [
        Expected(
            reference=p.reference,
            business_id=p.business_id,
            amount=p.amount,
            pay_on=p.pay_on,
            counterparty=vendors.get(p.vendor_id),
        )
        for p in waiting
        if p.bank_transaction_id is None
    ]
    if not expected:
        return {}
    return dict(match_bank_transactions(expected, transactions, already_matched=used))


def _action(before: Payment, after: Payment) -> str:
    if after.status is PaymentStatus.STUCK:
        return "payment.stuck"
    if after.status is PaymentStatus.FAILED:
        return "payment.failed"
    if after.status is PaymentStatus.VERIFIED:
        return "payment.verified"
    return (
        f"payment.{after.status.value}" if after.status is not before.status else "payment.evidence"
    )


async def _controller_emails(uow: UnitOfWork, business_id: BusinessId) -> list[str]:
    emails: list[str] = []
    for advisor in await uow.advisors.list():
        if await uow.clients.get(advisor.advisor_id, business_id) is None:
            continue
        for user in await uow.users.list_for_advisor(advisor.advisor_id):
            if user.role is Role.CONTROLLER:
                emails.append(user.email)
    return sorted(set(emails))
