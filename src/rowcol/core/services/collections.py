"""Collections: reminder sequences for soon-due and overdue invoices, early-pay offers when
cash runs short, and the messages both send.

A reminder goes out at most once per invoice and step, whatever crashes: the intent is
stored (unique per invoice and step) and committed before the notifier is called, and an
intent whose outcome is unknown is never sent again; the notifier's own record of its
message id (SendGrid's event webhook) settles it through `reconcile`.
"""

from __future__ import annotations

import html
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal

from rowcol.core.domain.collections import (
    EARLY_PAY_STEP,
    CollectionOutcome,
    CollectionSend,
    DuplicateSend,
    ReminderSequence,
    ReminderStep,
    SendStatus,
    StopReason,
    Tone,
    cash_is_short,
    check_discount_percent,
    default_sequence,
    due_step,
    early_pay_discount,
    in_window,
    outcome,
    stop_reason,
)
from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.ids import AdvisorId, BusinessId, CustomerId
from rowcol.core.domain.money import Money
from rowcol.core.domain.notifications import EmailMessage
from rowcol.core.domain.records import Customer, Invoice, InvoiceStatus
from rowcol.core.domain.tenancy import SYSTEM_ACTOR, Actor, Business
from rowcol.core.services.forecasts import forecast_input
from rowcol.core.services.scope import client_for, record
from rowcol.ports.clock import Clock
from rowcol.ports.errors import OutcomeUnknown, PortError
from rowcol.ports.notifier import Notifier
from rowcol.ports.repository import UnitOfWorkFactory

MAX_ATTEMPTS = 3
"""A send the notifier refused is tried again on later runs, up to this many times."""

_SUBJECTS: Mapping[Tone, str] = {
    Tone.FRIENDLY: "Reminder: invoice $invoice from $business",
    Tone.FIRM: "Overdue: invoice $invoice from $business",
    Tone.FINAL: "Final notice: invoice $invoice from $business",
}
_GREETINGS: Mapping[Tone, str] = {
    Tone.FRIENDLY: "Hello $customer,",
    Tone.FIRM: "Dear $customer,",
    Tone.FINAL: "Dear $customer,",
}
_CLOSINGS: Mapping[Tone, str] = {
    Tone.FRIENDLY: "Thank you for your business,\n$business",
    Tone.FIRM: "If you have already paid, thank you and please ignore this message.\n$business",
    Tone.FINAL: "Please contact us today if there is a problem with this invoice.\n$business",
}
EARLY_PAY_TEMPLATE = (
    "Pay invoice $invoice ($amount, due $due_date) by $pay_by and take $discount off."
)


@dataclass(frozen=True, slots=True)
class BusinessRun:
    """What one run did for one business."""

    business_id: BusinessId
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    skipped_no_email: int = 0
    skipped_bounced: int = 0
    """Reminders not sent because the customer's address bounced an earlier one."""
    stopped: int = 0
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CollectionCase:
    """An invoice under its business's sequence: where it stands and what went out."""

    invoice: Invoice
    customer_name: str
    stopped: StopReason | None
    next_step: ReminderStep | None
    sends: tuple[CollectionSend, ...]
    outcome: CollectionOutcome


@dataclass(frozen=True, slots=True)
class CollectionsView:
    sequence: ReminderSequence
    cases: tuple[CollectionCase, ...]


@dataclass(frozen=True, slots=True)
class AccelerationResult:
    business_id: BusinessId
    cash_short: bool
    reason: str
    offers: tuple[CollectionSend, ...] = field(default_factory=tuple)


def _fill(template: str, values: Mapping[str, str]) -> str:
    return string.Template(template).safe_substitute(values)


class CustomerCommunicationService:
    """Renders collection messages and sends each at most once, logged and audited."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, notifier: Notifier | None) -> None:
        self._uow = uow
        self._clock = clock
        self._notifier = notifier

    @property
    def can_send(self) -> bool:
        return self._notifier is not None

    def render(
        self,
        business: Business,
        customer: Customer,
        invoice: Invoice,
        *,
        template: str,
        tone: Tone,
        today: date,
        discount_text: str = "",
        pay_by: date | None = None,
    ) -> tuple[str, str, str]:
        """Subject, plain text and HTML for a message about `invoice`."""
        values = {
            "business": business.name,
            "customer": customer.name,
            "invoice": invoice.invoice_id,
            "amount": invoice.balance.format(),
            "due_date": invoice.due_date.isoformat(),
            "days": str(max(0, (today - invoice.due_date).days)),
            "discount": discount_text,
            "pay_by": pay_by.isoformat() if pay_by else "",
        }
        subject = _fill(_SUBJECTS[tone], values)
        paragraphs = [
            _fill(_GREETINGS[tone], values),
            _fill(template, values),
            _fill(_CLOSINGS[tone], values),
        ]
        text = "\n\n".join(paragraphs) + "\n"
        body = "".join("<p>" + html.escape(p).replace("\n", "<br>") + "</p>" for p in paragraphs)
        return subject, text, f"<html><body>{body}</body></html>"

    async def send_once(
        self,
        actor: Actor,
        advisor_id: AdvisorId | None,
        business: Business,
        customer: Customer,
        invoice: Invoice,
        *,
        step_id: str,
        template: str,
        tone: Tone,
        retry: CollectionSend | None = None,
        discount: Decimal | None = None,
        pay_by: date | None = None,
    ) -> CollectionSend | None:
        """Stores the intent, sends, stores the outcome; None if the step was already
        taken (by another run, or an invoice that stopped meanwhile)."""
        if self._notifier is None or customer.email is None:
            return None
        now = self._clock.now()
        amount = early_pay_discount(invoice.balance, discount) if discount is not None else None
        async with self._uow() as uow:
            fresh = await uow.invoices.get(business.business_id, invoice.invoice_id)
            if fresh is None or stop_reason(fresh) is not None:
                return None
            if retry is None:
                intent = CollectionSend(
                    business_id=business.business_id,
                    invoice_id=invoice.invoice_id,
                    step_id=step_id,
                    tone=tone,
                    to=(customer.email,),
                    intended_at=now,
                    discount=amount,
                    pay_by=pay_by,
                )
                try:
                    await uow.collections.add_send(intent)
                except DuplicateSend:
                    return None
            else:
                stored = await uow.collections.find_send(retry.message_id)
                if stored is None or stored.status is not SendStatus.FAILED:
                    return None
                intent = replace(stored, status=SendStatus.INTENDED, error=None)
                await uow.collections.update_send(intent)
            await record(
                uow,
                self._clock,
                actor,
                "collections.send_intended",
                intent.message_id,
                after={"step": step_id, "tone": tone.value, "to": list(intent.to)},
                advisor_id=advisor_id,
            )
            await uow.commit()
        subject, text, body = self.render(
            business,
            customer,
            fresh,
            template=template,
            tone=tone,
            today=self._clock.today(),
            discount_text=amount.format() if amount else "",
            pay_by=pay_by,
        )
        message = EmailMessage(
            message_id=intent.message_id,
            to=intent.to,
            subject=subject,
            text=text,
            html=body,
            category="early_pay" if step_id == EARLY_PAY_STEP else "collection_reminder",
        )
        attempts = intent.attempts + 1
        try:
            provider_id = await self._notifier.send(message)
            done = replace(
                intent,
                status=SendStatus.SENT,
                sent_at=self._clock.now(),
                provider_id=provider_id,
                attempts=attempts,
            )
        except OutcomeUnknown as exc:
            done = replace(intent, status=SendStatus.UNKNOWN, error=str(exc), attempts=attempts)
        except PortError as exc:
            done = replace(intent, status=SendStatus.FAILED, error=str(exc), attempts=attempts)
        async with self._uow() as uow:
            await uow.collections.update_send(done)
            await record(
                uow,
                self._clock,
                actor,
                f"collections.send_{done.status.value}",
                done.message_id,
                before={"status": intent.status.value},
                after={
                    "status": done.status.value,
                    "provider_id": done.provider_id,
                    "error": done.error,
                },
                advisor_id=advisor_id,
            )
            await uow.commit()
        return done

    async def reconcile(self, message_id: str, *, delivered: bool) -> CollectionSend | None:
        """Settles a send from the notifier's record of its message (SendGrid events carry
        the message id). Delivered settles an unsettled send as sent. Not delivered (a
        bounce or a drop) marks it bounced even after it was taken as sent: the address
        refuses mail, so it is not retried. Unknown ids and settled sends are left alone."""
        async with self._uow() as uow:
            stored = await uow.collections.find_send(message_id)
            if stored is None:
                return None
            if delivered and stored.status in (SendStatus.INTENDED, SendStatus.UNKNOWN):
                settled = replace(
                    stored, status=SendStatus.SENT, sent_at=self._clock.now(), error=None
                )
            elif not delivered and stored.status is not SendStatus.BOUNCED:
                settled = replace(
                    stored, status=SendStatus.BOUNCED, error="the address refused the message"
                )
            else:
                return None
            await uow.collections.update_send(settled)
            await record(
                uow,
                self._clock,
                SYSTEM_ACTOR,
                "collections.send_reconciled",
                message_id,
                before={"status": stored.status.value},
                after={"status": settled.status.value},
            )
            await uow.commit()
            return settled


class EarlyCollectionService:
    """Runs each business's reminder sequence over its open invoices."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, messages: CustomerCommunicationService
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._messages = messages

    async def sequence(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId
    ) -> ReminderSequence:
        async with self._uow() as uow:
            await client_for(uow, actor, advisor_id, business_id)
            return await uow.collections.get_sequence(business_id) or default_sequence(business_id)

    async def set_sequence(
        self,
        actor: Actor,
        advisor_id: AdvisorId,
        business_id: BusinessId,
        steps: Sequence[ReminderStep],
    ) -> ReminderSequence:
        async with self._uow() as uow:
            await client_for(uow, actor, advisor_id, business_id)
            stored = await uow.collections.get_sequence(business_id)
            made = ReminderSequence(
                business_id, tuple(steps), version=1 if stored is None else stored.version + 1
            )
            await uow.collections.save_sequence(made)
            await record(
                uow,
                self._clock,
                actor,
                "collections.sequence_saved",
                business_id,
                before=None if stored is None else _steps_audit(stored),
                after=_steps_audit(made),
                advisor_id=advisor_id,
            )
            await uow.commit()
            return made

    async def run(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId
    ) -> BusinessRun:
        """Sends every reminder due today for the business; one send per invoice."""
        today = self._clock.today()
        async with self._uow() as uow:
            scoped = await client_for(uow, actor, advisor_id, business_id)
            sequence = await uow.collections.get_sequence(business_id) or default_sequence(
                business_id
            )
            invoices = await uow.invoices.list(business_id)
            customers = {c.customer_id: c for c in await uow.customers.list(business_id)}
            sends = await uow.collections.list_sends(business_id)
            # An intent left from an earlier run never learned its outcome (a crash
            # between intent and send): it may have gone out, so it is not sent again.
            for lost in (s for s in sends if s.status is SendStatus.INTENDED):
                await uow.collections.update_send(replace(lost, status=SendStatus.UNKNOWN))
                await record(
                    uow,
                    self._clock,
                    actor,
                    "collections.send_unknown",
                    lost.message_id,
                    before={"status": lost.status.value},
                    after={"status": SendStatus.UNKNOWN.value},
                    advisor_id=advisor_id,
                )
            await uow.commit()
            sends = await uow.collections.list_sends(business_id)
        if not self._messages.can_send:
            return BusinessRun(business_id, notes=("no notifier is configured",))
        by_invoice: dict[str, list[CollectionSend]] = {}
        for s in sends:
            if s.step_id != EARLY_PAY_STEP:
                by_invoice.setdefault(s.invoice_id, []).append(s)
        refused = {a for s in sends if s.status is SendStatus.BOUNCED for a in s.to}
        counts = {
            "sent": 0,
            "failed": 0,
            "unknown": 0,
            "no_email": 0,
            "stopped": 0,
            "bounced": 0,
        }
        for invoice in invoices:
            mine = by_invoice.get(invoice.invoice_id, [])
            if stop_reason(invoice) is not None:
                counts["stopped"] += 1 if mine else 0
                continue
            taken = {s.step_id for s in mine if s.status is not SendStatus.FAILED}
            step = due_step(sequence, invoice, today, taken)
            if step is None:
                continue
            customer = customers.get(invoice.customer_id)
            if customer is None or customer.email is None:
                counts["no_email"] += 1
                continue
            if customer.email in refused:
                counts["bounced"] += 1
                continue
            failed = next((s for s in mine if s.step_id == step.step_id), None)
            if failed is not None and failed.attempts >= MAX_ATTEMPTS:
                continue
            done = await self._messages.send_once(
                actor,
                advisor_id,
                scoped.business,
                customer,
                invoice,
                step_id=step.step_id,
                template=step.template,
                tone=step.tone,
                retry=failed,
            )
            if done is not None:
                counts[done.status.value] = counts.get(done.status.value, 0) + 1
        return BusinessRun(
            business_id,
            sent=counts["sent"],
            failed=counts["failed"],
            unknown=counts["unknown"],
            skipped_no_email=counts["no_email"],
            skipped_bounced=counts["bounced"],
            stopped=counts["stopped"],
        )

    async def view(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId
    ) -> CollectionsView:
        """Invoices whose sequence has started or that were reminded, with their sends."""
        today = self._clock.today()
        async with self._uow() as uow:
            await client_for(uow, actor, advisor_id, business_id)
            sequence = await uow.collections.get_sequence(business_id) or default_sequence(
                business_id
            )
            invoices = await uow.invoices.list(business_id)
            customers = {c.customer_id: c for c in await uow.customers.list(business_id)}
            sends = await uow.collections.list_sends(business_id)
        by_invoice: dict[str, list[CollectionSend]] = {}
        for s in sends:
            by_invoice.setdefault(s.invoice_id, []).append(s)
        cases = []
        for invoice in invoices:
            mine = by_invoice.get(invoice.invoice_id, [])
            if not mine and not in_window(sequence, invoice, today):
                continue
            taken = {s.step_id for s in mine if s.status is not SendStatus.FAILED}
            customer = customers.get(invoice.customer_id)
            cases.append(
                CollectionCase(
                    invoice=invoice,
                    customer_name=customer.name if customer else invoice.customer_id,
                    stopped=stop_reason(invoice),
                    next_step=_next_step(sequence, invoice, taken),
                    sends=tuple(mine),
                    outcome=outcome(invoice, mine),
                )
            )
        return CollectionsView(sequence, tuple(cases))

    async def outcomes(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId
    ) -> list[CollectionOutcome]:
        """For each reminded invoice: reminders, days to pay, days from first reminder."""
        found = await self.view(actor, advisor_id, business_id)
        return [c.outcome for c in found.cases if c.sends]


class PaymentAccelerationService:
    """Offers customers an early-pay discount when the latest forecast says cash is short."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        messages: CustomerCommunicationService,
        *,
        breach_threshold: float = 0.25,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._messages = messages
        self._threshold = breach_threshold

    async def offer(
        self,
        actor: Actor,
        advisor_id: AdvisorId,
        business_id: BusinessId,
        *,
        percent: Decimal = Decimal("1.5"),
        pay_within_days: int = 10,
    ) -> AccelerationResult:
        """One offer per open invoice not yet due; none unless cash is short."""
        if not 1 <= pay_within_days <= 60:
            raise InvalidInput("pay_within_days must be between 1 and 60")
        check_discount_percent(percent)
        today = self._clock.today()
        async with self._uow() as uow:
            scoped = await client_for(uow, actor, advisor_id, business_id)
            snapshot = await uow.forecasts.latest(business_id)
            if snapshot is None:
                return AccelerationResult(business_id, False, "no forecast yet")
            data = await forecast_input(uow, self._clock, scoped.business)
            invoices = await uow.invoices.list(business_id)
            customers = {c.customer_id: c for c in await uow.customers.list(business_id)}
        forecast = snapshot.forecast
        breach = max((w.breach_probability for w in forecast.weeks), default=0.0)
        buffer = data.buffer or Money.zero(forecast.low_point.currency)
        if buffer.currency != forecast.low_point.currency or not cash_is_short(
            forecast.low_point, buffer, breach, self._threshold
        ):
            return AccelerationResult(
                business_id,
                False,
                f"low point {forecast.low_point.format()} keeps the buffer "
                f"{buffer.format()}; breach probability {breach:.0%}",
            )
        reason = (
            f"low point {forecast.low_point.format()} against a buffer of {buffer.format()}; "
            f"breach probability {breach:.0%}"
        )
        offers = []
        for invoice in invoices:
            if invoice.status is not InvoiceStatus.OPEN or invoice.due_date <= today:
                continue
            customer = customers.get(CustomerId(invoice.customer_id))
            if customer is None:
                continue
            pay_by = min(invoice.due_date, today + timedelta(days=pay_within_days))
            done = await self._messages.send_once(
                actor,
                advisor_id,
                scoped.business,
                customer,
                invoice,
                step_id=EARLY_PAY_STEP,
                template=EARLY_PAY_TEMPLATE,
                tone=Tone.FRIENDLY,
                discount=percent,
                pay_by=pay_by,
            )
            if done is not None:
                offers.append(done)
        return AccelerationResult(business_id, True, reason, tuple(offers))


def _next_step(
    sequence: ReminderSequence, invoice: Invoice, taken: set[str]
) -> ReminderStep | None:
    if stop_reason(invoice) is not None:
        return None
    reached = max((s.offset_days for s in sequence.steps if s.step_id in taken), default=None)
    return next((s for s in sequence.steps if reached is None or s.offset_days > reached), None)


def _steps_audit(sequence: ReminderSequence) -> list[dict[str, object]]:
    return [
        {"step": s.step_id, "offset_days": s.offset_days, "tone": s.tone.value}
        for s in sequence.steps
    ]
