"""Collections: reminder sequences for a business's invoices, and the rules for which
reminder is due on a day, when a sequence stops, and what came of it."""

from __future__ import annotations

import re
import string
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Final

from rowcol.core.domain.errors import Conflict, InvalidInput
from rowcol.core.domain.ids import BusinessId, InvoiceId, check_id
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import Invoice, InvoiceStatus
from rowcol.core.domain.time import require_utc

EARLY_PAY_STEP: Final = "early-pay"
"""The step id an early-pay offer is sent under, so it too goes out once per invoice."""

PLACEHOLDERS: Final = frozenset(
    {"business", "customer", "invoice", "amount", "due_date", "days", "discount", "pay_by"}
)
_STEP_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


class Tone(StrEnum):
    FRIENDLY = "friendly"
    FIRM = "firm"
    FINAL = "final"


class DuplicateSend(Conflict):
    """The invoice already has a send for this step: it must not go out twice."""


def check_template(template: str) -> str:
    """A template is text with `$placeholder`s from PLACEHOLDERS; anything else is refused
    here, so a typo fails when the sequence is saved, not when a reminder goes out."""
    if not template.strip():
        raise InvalidInput("a reminder template may not be empty")
    names: set[str] = set()
    for m in string.Template.pattern.finditer(template):
        if m.group("invalid") is not None:
            raise InvalidInput(
                "bad reminder template: a '$' that starts no placeholder (write '$$' for $)"
            )
        name = m.group("named") or m.group("braced")
        if name:
            names.add(name)
    unknown = names - PLACEHOLDERS
    if unknown:
        raise InvalidInput(
            f"unknown placeholders {sorted(unknown)}; use {', '.join(sorted(PLACEHOLDERS))}"
        )
    return template


@dataclass(frozen=True, slots=True)
class ReminderStep:
    """One reminder, `offset_days` from the due date (negative: before it)."""

    step_id: str
    offset_days: int
    template: str
    tone: Tone = Tone.FRIENDLY

    def __post_init__(self) -> None:
        if not isinstance(self.step_id, str) or not _STEP_ID.match(self.step_id):
            raise InvalidInput("a step id is 1-32 lower-case letters, digits, '_' or '-'")
        if self.step_id == EARLY_PAY_STEP:
            raise InvalidInput(f"{EARLY_PAY_STEP!r} is reserved for early-pay offers")
        if not -90 <= self.offset_days <= 365:
            raise InvalidInput("a step falls between 90 days before and 365 days after due")
        object.__setattr__(self, "tone", Tone(self.tone))
        check_template(self.template)

    def on(self, invoice: Invoice) -> date:
        return invoice.due_date + timedelta(days=self.offset_days)


@dataclass(frozen=True, slots=True)
class ReminderSequence:
    """A business's reminders, in offset order; saved with a version like a policy."""

    business_id: BusinessId
    steps: tuple[ReminderStep, ...]
    version: int = 1

    def __post_init__(self) -> None:
        check_id(self.business_id, "business_id")
        steps = tuple(sorted(self.steps, key=lambda s: s.offset_days))
        if not steps:
            raise InvalidInput("a reminder sequence needs at least one step")
        if len(steps) > 12:
            raise InvalidInput("a reminder sequence has at most 12 steps")
        if len({s.step_id for s in steps}) != len(steps):
            raise InvalidInput("step ids must be unique in a sequence")
        if len({s.offset_days for s in steps}) != len(steps):
            raise InvalidInput("two steps may not fall on the same day")
        if self.version < 1:
            raise InvalidInput("a sequence version starts at 1")
        object.__setattr__(self, "steps", steps)

    def step(self, step_id: str) -> ReminderStep | None:
        return next((s for s in self.steps if s.step_id == step_id), None)


def default_sequence(business_id: BusinessId) -> ReminderSequence:
    """What a business gets until it sets its own: a nudge before due, then firmer."""
    return ReminderSequence(
        business_id,
        (
            ReminderStep(
                "before-due",
                -3,
                "Invoice $invoice for $amount from $business is due on $due_date.",
                Tone.FRIENDLY,
            ),
            ReminderStep(
                "due-today", 0, "Invoice $invoice for $amount is due today.", Tone.FRIENDLY
            ),
            ReminderStep(
                "overdue-7",
                7,
                "Invoice $invoice for $amount was due on $due_date, $days days ago.",
                Tone.FIRM,
            ),
            ReminderStep(
                "overdue-30",
                30,
                "Invoice $invoice for $amount is $days days overdue. Please pay it now "
                "or tell $business when you will.",
                Tone.FINAL,
            ),
        ),
    )


class StopReason(StrEnum):
    PAID = "paid"
    DISPUTED = "disputed"
    VOID = "void"


def stop_reason(invoice: Invoice) -> StopReason | None:
    """Why no reminder may go out for the invoice any more; None while it is owed."""
    if invoice.status is InvoiceStatus.DISPUTED:
        return StopReason.DISPUTED
    if invoice.status is InvoiceStatus.VOID:
        return StopReason.VOID
    if invoice.status is InvoiceStatus.PAID or invoice.balance.is_zero:
        return StopReason.PAID
    return None


def due_step(
    sequence: ReminderSequence,
    invoice: Invoice,
    today: date,
    sent: Collection[str] = (),
) -> ReminderStep | None:
    """The step to send for the invoice today, or None.

    Only the latest step whose day has come is sent, and never one at or before a step
    already sent: an invoice found 40 days overdue gets the final reminder, not the
    whole sequence at once, and a sequence only moves forward."""
    if stop_reason(invoice) is not None:
        return None
    reached = max((s.offset_days for s in sequence.steps if s.step_id in sent), default=None)
    candidates = [
        s
        for s in sequence.steps
        if s.on(invoice) <= today
        and s.step_id not in sent
        and (reached is None or s.offset_days > reached)
    ]
    return candidates[-1] if candidates else None


def in_window(sequence: ReminderSequence, invoice: Invoice, today: date) -> bool:
    """Whether the invoice is soon due or overdue enough for its sequence to have started."""
    return stop_reason(invoice) is None and sequence.steps[0].on(invoice) <= today


def message_id(business_id: BusinessId, invoice_id: InvoiceId, step_id: str) -> str:
    """The notifier's message id for a step: the same on every attempt, so a send whose
    outcome is unknown is found again by it, never re-sent under another id."""
    return f"col-{business_id}-{invoice_id}-{step_id}"


class SendStatus(StrEnum):
    INTENDED = "intended"
    """Stored before the notifier is called; still so after a crash."""
    SENT = "sent"
    FAILED = "failed"
    """The notifier refused or could not be reached: nothing went out, it may be tried again."""
    UNKNOWN = "unknown"
    """It may have gone out: resolved only by the notifier's own record of the message."""
    BOUNCED = "bounced"
    """The customer's mail server refused it (or the notifier suppresses the address):
    trying again cannot help, so no later reminder goes to that address either."""


@dataclass(frozen=True, slots=True)
class CollectionSend:
    """One reminder (or early-pay offer) for one invoice, from intent to outcome."""

    business_id: BusinessId
    invoice_id: InvoiceId
    step_id: str
    tone: Tone
    to: tuple[str, ...]
    intended_at: datetime
    status: SendStatus = SendStatus.INTENDED
    sent_at: datetime | None = None
    provider_id: str | None = None
    error: str | None = None
    attempts: int = 0
    discount: Money | None = None
    pay_by: date | None = None
    message_id: str = field(default="")

    def __post_init__(self) -> None:
        object.__setattr__(self, "intended_at", require_utc(self.intended_at))
        if self.sent_at is not None:
            object.__setattr__(self, "sent_at", require_utc(self.sent_at))
        object.__setattr__(self, "status", SendStatus(self.status))
        object.__setattr__(self, "tone", Tone(self.tone))
        expected = message_id(self.business_id, self.invoice_id, self.step_id)
        if not self.message_id:
            object.__setattr__(self, "message_id", expected)
        elif self.message_id != expected:
            raise InvalidInput("a send's message id follows from its invoice and step")
        if self.discount is not None and self.discount.is_negative:
            raise InvalidInput("an early-pay discount may not be negative")


@dataclass(frozen=True, slots=True)
class CollectionOutcome:
    """What happened to an invoice that was reminded."""

    invoice_id: InvoiceId
    first_reminder_on: date | None
    reminders: int
    paid_on: date | None
    days_to_pay: int | None
    """From issue to payment."""
    days_after_reminder: int | None
    """From the first reminder to payment; None unless paid after one."""

    @property
    def paid_after_reminder(self) -> bool:
        return self.days_after_reminder is not None


def outcome(invoice: Invoice, sends: Iterable[CollectionSend]) -> CollectionOutcome:
    """Only sends that went out count as reminders; an offer counts like a reminder."""
    went_out = sorted(
        s.sent_at for s in sends if s.status is SendStatus.SENT and s.sent_at is not None
    )
    first = went_out[0].date() if went_out else None
    paid = invoice.paid_date if stop_reason(invoice) is StopReason.PAID else None
    return CollectionOutcome(
        invoice_id=invoice.invoice_id,
        first_reminder_on=first,
        reminders=len(went_out),
        paid_on=paid,
        days_to_pay=(paid - invoice.issue_date).days if paid else None,
        days_after_reminder=(
            (paid - first).days
            if paid is not None and first is not None and paid >= first
            else None
        ),
    )


def check_discount_percent(percent: Decimal) -> Decimal:
    if not Decimal(0) < percent <= Decimal(10):
        raise InvalidInput("an early-pay discount is more than 0% and at most 10%")
    return percent


def early_pay_discount(balance: Money, percent: Decimal) -> Money:
    """The discount offered on a balance; rounded down so it never exceeds the percent."""
    check_discount_percent(percent)
    return balance.percent(percent, rounding="ROUND_FLOOR")


def cash_is_short(
    low_point: Money, buffer: Money, breach_probability: float, threshold: float
) -> bool:
    """Whether to ask customers to pay early: the forecast dips under the buffer, or
    breaching it is likely enough."""
    return low_point < buffer or breach_probability > threshold


def sorted_sends(sends: Sequence[CollectionSend]) -> list[CollectionSend]:
    return sorted(sends, key=lambda s: (s.intended_at, s.invoice_id, s.step_id))
