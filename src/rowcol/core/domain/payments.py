"""Payments: one bill payment's life from proposal to verification across the rails.

proposed → approved → submitted → rail_confirmed → bank_confirmed → verified, or
blocked (guardrail), failed, cancelled, stuck. Every transition is a pure function
that returns a new `Payment` with `version` bumped, returns the payment unchanged when
the event was already applied, or raises `InvalidTransition`.

Once submitted, a payment's status follows its evidence: the furthest step whose
evidence and all earlier evidence is present (rail, then bank, then ledger). Evidence
may arrive in any order, since webhooks are reordered and lost.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Final

from rowcol.core.domain.approval import Approval, ApprovalDecision
from rowcol.core.domain.errors import Conflict, InvalidInput
from rowcol.core.domain.ids import (
    BankTransactionId,
    BillId,
    BusinessId,
    PaymentId,
    VendorId,
    check_id,
)
from rowcol.core.domain.money import CurrencyMismatch, Money, total
from rowcol.core.domain.records import Bill, BillStatus
from rowcol.core.domain.time import require_utc


class PaymentStatus(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    BLOCKED = "blocked"
    SUBMITTED = "submitted"
    RAIL_CONFIRMED = "rail_confirmed"
    BANK_CONFIRMED = "bank_confirmed"
    VERIFIED = "verified"
    FAILED = "failed"
    CANCELLED = "cancelled"
    STUCK = "stuck"


class VerificationStep(StrEnum):
    RAIL = "rail"
    BANK = "bank"
    LEDGER = "ledger"


TERMINAL: Final = frozenset({PaymentStatus.VERIFIED, PaymentStatus.FAILED, PaymentStatus.CANCELLED})
IN_FLIGHT: Final = frozenset(
    {PaymentStatus.SUBMITTED, PaymentStatus.RAIL_CONFIRMED, PaymentStatus.STUCK}
)
"""Submitted, money not yet seen leaving the bank (a stuck payment counts only while it
has no bank evidence)."""
RELEASES_BILL: Final = frozenset({PaymentStatus.FAILED, PaymentStatus.CANCELLED})
"""A payment in any other status holds its bill: no second payment may be proposed.
A verified one keeps holding it, since the mirrored bill may not show it paid yet."""

_BEFORE_SUBMISSION: Final = frozenset(
    {PaymentStatus.PROPOSED, PaymentStatus.APPROVED, PaymentStatus.BLOCKED}
)
_PROGRESS: Final = (
    PaymentStatus.SUBMITTED,
    PaymentStatus.RAIL_CONFIRMED,
    PaymentStatus.BANK_CONFIRMED,
    PaymentStatus.VERIFIED,
)
_AWAITING_EVIDENCE: Final = frozenset(
    {
        PaymentStatus.SUBMITTED,
        PaymentStatus.RAIL_CONFIRMED,
        PaymentStatus.BANK_CONFIRMED,
        PaymentStatus.STUCK,
    }
)
_ACCEPTS_EVIDENCE: Final = _AWAITING_EVIDENCE | {PaymentStatus.VERIFIED}


class InvalidTransition(Conflict):
    """The payment's status does not allow this event."""


class EvidenceConflict(Conflict):
    """Evidence that contradicts evidence already recorded (another rail id, another bank
    transaction): the rails disagree and a person must look."""


class DuplicatePayment(Conflict):
    """The bill already has a payment under way; a bill is never paid twice."""


def payment_reference(payment_id: PaymentId) -> str:
    """RowCol's own reference for a payment, sent to the rail as its remote id."""
    return f"rowcol-{payment_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Payment:
    """One payment of one bill. `version` grows by one with every change, for
    optimistic concurrency; `reference` is fixed at proposal and never changes."""

    payment_id: PaymentId
    business_id: BusinessId
    bill_id: BillId
    vendor_id: VendorId
    amount: Money
    pay_on: date
    reference: str
    status: PaymentStatus
    created_at: datetime
    updated_at: datetime
    prepared_by: str | None = None
    approvals: tuple[Approval, ...] = ()
    rail_payment_id: str | None = None
    submitted_at: datetime | None = None
    rail_confirmed_at: datetime | None = None
    bank_confirmed_at: datetime | None = None
    bank_transaction_id: BankTransactionId | None = None
    ledger_confirmed_at: datetime | None = None
    ledger_ref: str | None = None
    stuck_reason: str | None = None
    failure_reason: str | None = None
    blocked_reason: str | None = None
    version: int = 1

    def __post_init__(self) -> None:
        check_id(self.payment_id, "payment_id")
        check_id(self.business_id, "business_id")
        check_id(self.bill_id, "bill_id")
        check_id(self.vendor_id, "vendor_id")
        object.__setattr__(self, "status", PaymentStatus(self.status))
        object.__setattr__(self, "approvals", tuple(self.approvals))
        for name in (
            "created_at",
            "updated_at",
            "submitted_at",
            "rail_confirmed_at",
            "bank_confirmed_at",
            "ledger_confirmed_at",
        ):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, require_utc(value))
        if self.amount.amount_minor <= 0:
            raise InvalidInput("a payment amount must be positive")
        if not self.reference:
            raise InvalidInput("a payment needs a reference")
        if type(self.version) is not int or self.version < 1:
            raise InvalidInput("payment version starts at 1")
        self._check_evidence()
        self._check_status()

    def _check_evidence(self) -> None:
        if (self.bank_confirmed_at is None) != (self.bank_transaction_id is None):
            raise InvalidInput("bank evidence needs both a time and a transaction id")
        if (self.ledger_confirmed_at is None) != (self.ledger_ref is None):
            raise InvalidInput("ledger evidence needs both a time and a ledger reference")
        has_evidence = any(
            t is not None
            for t in (self.rail_confirmed_at, self.bank_confirmed_at, self.ledger_confirmed_at)
        )
        if has_evidence and self.submitted_at is None:
            raise InvalidInput("a payment has rail, bank or ledger evidence only once submitted")

    def _check_status(self) -> None:
        status = self.status
        unsent = status in _BEFORE_SUBMISSION or status is PaymentStatus.CANCELLED
        if unsent and self.submitted_at is not None:
            raise InvalidInput(f"a {status.value} payment cannot have been submitted")
        if status in _PROGRESS and status is not progress(self):
            raise InvalidInput(f"status {status.value} does not match the evidence")
        if status is PaymentStatus.STUCK:
            if progress(self) in (None, PaymentStatus.VERIFIED):
                raise InvalidInput("only a submitted, unverified payment can be stuck")
            if not self.stuck_reason:
                raise InvalidInput("a stuck payment needs a reason")
        if status is PaymentStatus.BLOCKED and not self.blocked_reason:
            raise InvalidInput("a blocked payment needs a reason")
        if status is PaymentStatus.FAILED and not self.failure_reason:
            raise InvalidInput("a failed payment needs a reason")

    @property
    def is_submitted(self) -> bool:
        return self.submitted_at is not None


def progress(payment: Payment) -> PaymentStatus | None:
    """The furthest step with its evidence and all earlier evidence; None before
    submission. Independent of failed/stuck, which are judgements, not evidence."""
    return _furthest(
        payment.submitted_at,
        payment.rail_confirmed_at,
        payment.bank_confirmed_at,
        payment.ledger_confirmed_at,
    )


def _furthest(
    submitted_at: datetime | None,
    rail_at: datetime | None,
    bank_at: datetime | None,
    ledger_at: datetime | None,
) -> PaymentStatus | None:
    if submitted_at is None:
        return None
    if rail_at is None:
        return PaymentStatus.SUBMITTED
    if bank_at is None:
        return PaymentStatus.RAIL_CONFIRMED
    if ledger_at is None:
        return PaymentStatus.BANK_CONFIRMED
    return PaymentStatus.VERIFIED


def is_terminal(subject: Payment | PaymentStatus) -> bool:
    status = subject.status if isinstance(subject, Payment) else subject
    return status in TERMINAL


def is_open(subject: Payment | PaymentStatus) -> bool:
    return not is_terminal(subject)


def propose(
    bill: Bill,
    *,
    payment_id: PaymentId,
    pay_on: date,
    now: datetime,
    existing_payments: Iterable[Payment],
    amount: Money | None = None,
    prepared_by: str | None = None,
) -> Payment:
    """A new payment of `bill` (its whole balance unless `amount` is given).

    `existing_payments` are the payments RowCol already holds for this bill: one that
    is not failed or cancelled refuses a second (DuplicatePayment). `prepared_by` is
    the person segregation of duties keeps from approving; it defaults to whoever
    prepared or imported the bill.
    """
    if bill.status is not BillStatus.OPEN:
        raise InvalidTransition(f"bill {bill.bill_id} is {bill.status.value}, not open")
    amount = bill.balance if amount is None else amount
    if amount.currency != bill.balance.currency:
        raise CurrencyMismatch(f"payment in {amount.currency}, bill in {bill.balance.currency}")
    if amount.amount_minor <= 0:
        raise InvalidInput("a payment amount must be positive")
    if amount > bill.balance:
        raise InvalidInput(
            f"{amount.format()} is more than the bill's open balance of {bill.balance.format()}"
        )
    for other in existing_payments:
        if (
            other.business_id == bill.business_id
            and other.bill_id == bill.bill_id
            and other.status not in RELEASES_BILL
        ):
            raise DuplicatePayment(
                f"bill {bill.bill_id} already has payment {other.payment_id} ({other.status.value})"
            )
    now = require_utc(now)
    return Payment(
        payment_id=payment_id,
        business_id=bill.business_id,
        bill_id=bill.bill_id,
        vendor_id=bill.vendor_id,
        amount=amount,
        pay_on=pay_on,
        reference=payment_reference(payment_id),
        status=PaymentStatus.PROPOSED,
        prepared_by=bill.prepared_by if prepared_by is None else prepared_by,
        created_at=now,
        updated_at=now,
    )


def approve(payment: Payment, decision: ApprovalDecision, *, now: datetime) -> Payment:
    """Add the decided approval; the payment is approved once the decision says enough
    distinct approvers have signed. The decision must have been evaluated against this
    payment's amount and current approvals."""
    if decision.approval in payment.approvals:
        return payment
    _require(payment, "approve", {PaymentStatus.PROPOSED})
    if decision.amount != payment.amount:
        raise InvalidTransition("the approval was evaluated for a different amount")
    if decision.approvals[:-1] != payment.approvals or decision.approvals[-1:] != (
        decision.approval,
    ):
        raise InvalidTransition("approvals changed since the decision; evaluate it again")
    return replace(
        payment,
        approvals=decision.approvals,
        status=PaymentStatus.APPROVED if decision.fully_approved else PaymentStatus.PROPOSED,
        updated_at=require_utc(now),
        version=payment.version + 1,
    )


def block(payment: Payment, reason: str, *, now: datetime) -> Payment:
    """The guardrail refused at submission; a later check may submit or cancel it."""
    reason = _reason(reason)
    if payment.status is PaymentStatus.BLOCKED and payment.blocked_reason == reason:
        return payment
    _require(payment, "block", {PaymentStatus.APPROVED, PaymentStatus.BLOCKED})
    return replace(
        payment,
        status=PaymentStatus.BLOCKED,
        blocked_reason=reason,
        updated_at=require_utc(now),
        version=payment.version + 1,
    )


def submit(payment: Payment, *, now: datetime, rail_payment_id: str | None = None) -> Payment:
    """Record that the rail has (or may have) the payment.

    Pass `rail_payment_id=None` when the rail's answer was lost: the money may move, so
    the payment counts as submitted until a look-up by `reference` settles it; submit
    again with the id found to attach it (even once verified or stuck). A different
    id from the one recorded means two executions and raises EvidenceConflict.
    """
    if payment.is_submitted and payment.status is not PaymentStatus.FAILED:
        rail_id = _rail_id(payment, rail_payment_id)
        if rail_id == payment.rail_payment_id:
            return payment
        return replace(
            payment,
            rail_payment_id=rail_id,
            updated_at=require_utc(now),
            version=payment.version + 1,
        )
    _require(payment, "submit", {PaymentStatus.APPROVED, PaymentStatus.BLOCKED})
    now = require_utc(now)
    return replace(
        payment,
        status=PaymentStatus.SUBMITTED,
        submitted_at=now,
        rail_payment_id=rail_payment_id,
        blocked_reason=None,
        updated_at=now,
        version=payment.version + 1,
    )


def record_rail_confirmed(
    payment: Payment,
    *,
    now: datetime,
    at: datetime | None = None,
    rail_payment_id: str | None = None,
) -> Payment:
    """The rail says it paid. `at` is when, if the rail says (default `now`)."""
    _require(payment, "record rail evidence", _ACCEPTS_EVIDENCE)
    rail_id = _rail_id(payment, rail_payment_id)
    if payment.rail_confirmed_at is not None and rail_id == payment.rail_payment_id:
        return payment
    rail_at = payment.rail_confirmed_at or require_utc(at or now)
    return _with_evidence(payment, now, rail_payment_id=rail_id, rail_confirmed_at=rail_at)


def record_bank_confirmed(
    payment: Payment,
    *,
    bank_transaction_id: BankTransactionId,
    now: datetime,
    at: datetime | None = None,
) -> Payment:
    """The bank shows the money leaving, as `bank_transaction_id`."""
    _require(payment, "record bank evidence", _ACCEPTS_EVIDENCE)
    if not bank_transaction_id:
        raise InvalidInput("bank evidence needs a transaction id")
    if payment.bank_transaction_id is not None:
        if payment.bank_transaction_id != bank_transaction_id:
            raise EvidenceConflict(
                f"payment {payment.payment_id} already matches bank transaction "
                f"{payment.bank_transaction_id}, not {bank_transaction_id}"
            )
        return payment
    return _with_evidence(
        payment,
        now,
        bank_confirmed_at=require_utc(at or now),
        bank_transaction_id=bank_transaction_id,
    )


def record_ledger_confirmed(
    payment: Payment,
    *,
    ledger_ref: str,
    now: datetime,
    at: datetime | None = None,
) -> Payment:
    """The books record the payment, as `ledger_ref` (the QBO bill payment)."""
    _require(payment, "record ledger evidence", _ACCEPTS_EVIDENCE)
    if not ledger_ref:
        raise InvalidInput("ledger evidence needs a ledger reference")
    if payment.ledger_ref is not None:
        if payment.ledger_ref != ledger_ref:
            raise EvidenceConflict(
                f"payment {payment.payment_id} is already recorded in the books as "
                f"{payment.ledger_ref}, not {ledger_ref}"
            )
        return payment
    return _with_evidence(
        payment, now, ledger_confirmed_at=require_utc(at or now), ledger_ref=ledger_ref
    )


def fail(payment: Payment, reason: str, *, now: datetime) -> Payment:
    """The rail refused, failed or cancelled the payment; only before it is verified.
    Failing an already failed payment keeps the first reason."""
    reason = _reason(reason)
    if payment.status is PaymentStatus.FAILED:
        return payment
    _require(payment, "fail", _AWAITING_EVIDENCE | {PaymentStatus.APPROVED})
    return replace(
        payment,
        status=PaymentStatus.FAILED,
        failure_reason=reason,
        stuck_reason=None,
        updated_at=require_utc(now),
        version=payment.version + 1,
    )


def cancel(payment: Payment, *, now: datetime) -> Payment:
    """Withdraw a payment that has not been submitted."""
    if payment.status is PaymentStatus.CANCELLED:
        return payment
    _require(payment, "cancel", _BEFORE_SUBMISSION)
    return replace(
        payment,
        status=PaymentStatus.CANCELLED,
        updated_at=require_utc(now),
        version=payment.version + 1,
    )


def mark_stuck(payment: Payment, reason: str, *, now: datetime) -> Payment:
    """A submitted payment's next step missed its deadline. Evidence that moves it
    further clears the mark; evidence completing the chain verifies it."""
    reason = _reason(reason)
    if payment.status is PaymentStatus.STUCK and payment.stuck_reason == reason:
        return payment
    _require(payment, "mark stuck", _AWAITING_EVIDENCE)
    return replace(
        payment,
        status=PaymentStatus.STUCK,
        stuck_reason=reason,
        updated_at=require_utc(now),
        version=payment.version + 1,
    )


@dataclass(frozen=True, slots=True)
class VerificationDeadlines:
    """How long after the end of the pay-on day (UTC) each rail has to confirm.

    A payment submitted after its pay-on day counts from the submission day instead.
    """

    rail: timedelta = timedelta(days=1)
    bank: timedelta = timedelta(days=5)
    ledger: timedelta = timedelta(days=7)

    def __post_init__(self) -> None:
        if not timedelta(0) <= self.rail <= self.bank <= self.ledger:
            raise InvalidInput("deadlines must be non-negative and run rail ≤ bank ≤ ledger")

    def for_step(self, step: VerificationStep) -> timedelta:
        return {
            VerificationStep.RAIL: self.rail,
            VerificationStep.BANK: self.bank,
            VerificationStep.LEDGER: self.ledger,
        }[step]


def due_at(
    payment: Payment, step: VerificationStep, deadlines: VerificationDeadlines
) -> datetime | None:
    """When `step`'s evidence is due; None for a payment not yet submitted."""
    if payment.submitted_at is None:
        return None
    start = max(payment.pay_on, payment.submitted_at.date())
    end_of_day = datetime.combine(start + timedelta(days=1), time(0), tzinfo=UTC)
    return end_of_day + deadlines.for_step(step)


def overdue_step(
    payment: Payment, now: datetime, deadlines: VerificationDeadlines
) -> VerificationStep | None:
    """The first step still without evidence whose deadline has passed, for a payment
    that is submitted and neither verified nor failed; otherwise None."""
    if payment.status not in _AWAITING_EVIDENCE:
        return None
    now = require_utc(now)
    for step, evidence in (
        (VerificationStep.RAIL, payment.rail_confirmed_at),
        (VerificationStep.BANK, payment.bank_confirmed_at),
        (VerificationStep.LEDGER, payment.ledger_confirmed_at),
    ):
        if evidence is not None:
            continue
        due = due_at(payment, step, deadlines)
        if due is not None and now > due:
            return step
        # Deadlines only grow along the chain: a later step cannot be overdue either.
        return None
    return None


def is_in_flight(payment: Payment, *, balance_as_of: datetime | None = None) -> bool:
    """Submitted, not failed, and its money not yet in the bank balance.

    With `balance_as_of`, a payment the bank confirmed after that balance was taken
    still counts, since that balance cannot show it yet.
    """
    if payment.status in IN_FLIGHT and payment.bank_confirmed_at is None:
        return True
    if balance_as_of is None or payment.bank_confirmed_at is None:
        return False
    if payment.status is PaymentStatus.FAILED:
        return False
    return payment.bank_confirmed_at > require_utc(balance_as_of)


def in_flight_total(
    payments: Iterable[Payment], currency: str, *, balance_as_of: datetime | None = None
) -> Money:
    """What the guardrail must hold back for payments already on their way."""
    return total(
        (p.amount for p in payments if is_in_flight(p, balance_as_of=balance_as_of)),
        currency,
    )


def _require(payment: Payment, action: str, allowed: Iterable[PaymentStatus]) -> None:
    if payment.status not in allowed:
        raise InvalidTransition(
            f"cannot {action} payment {payment.payment_id}: it is {payment.status.value}"
        )


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise InvalidInput("a reason is required")
    return reason


def _rail_id(payment: Payment, rail_payment_id: str | None) -> str | None:
    """The rail id to keep: the recorded one, or a first one; never a second one."""
    if rail_payment_id is None or payment.rail_payment_id == rail_payment_id:
        return payment.rail_payment_id
    if payment.rail_payment_id is not None:
        raise EvidenceConflict(
            f"payment {payment.payment_id} is rail payment {payment.rail_payment_id}, "
            f"not {rail_payment_id}"
        )
    return rail_payment_id


def _with_evidence(
    payment: Payment,
    now: datetime,
    *,
    rail_payment_id: str | None = None,
    rail_confirmed_at: datetime | None = None,
    bank_confirmed_at: datetime | None = None,
    bank_transaction_id: BankTransactionId | None = None,
    ledger_confirmed_at: datetime | None = None,
    ledger_ref: str | None = None,
) -> Payment:
    """Add evidence and move the status to match, as one change.

    A stuck payment stays stuck until the evidence moves it further.
    """
    rail_at = rail_confirmed_at or payment.rail_confirmed_at
    bank_at = bank_confirmed_at or payment.bank_confirmed_at
    ledger_at = ledger_confirmed_at or payment.ledger_confirmed_at
    reached = _furthest(payment.submitted_at, rail_at, bank_at, ledger_at)
    earlier = progress(payment)
    assert reached is not None and earlier is not None
    status, stuck_reason = reached, None
    if (
        payment.status is PaymentStatus.STUCK
        and reached is not PaymentStatus.VERIFIED
        and _PROGRESS.index(reached) <= _PROGRESS.index(earlier)
    ):
        status, stuck_reason = PaymentStatus.STUCK, payment.stuck_reason
    return replace(
        payment,
        status=status,
        stuck_reason=stuck_reason,
        rail_payment_id=rail_payment_id or payment.rail_payment_id,
        rail_confirmed_at=rail_at,
        bank_confirmed_at=bank_at,
        bank_transaction_id=bank_transaction_id or payment.bank_transaction_id,
        ledger_confirmed_at=ledger_at,
        ledger_ref=ledger_ref or payment.ledger_ref,
        updated_at=require_utc(now),
        version=payment.version + 1,
    )
