"""Collections endpoints: reminder sequences in progress, running them, and the
business's sequence (smart tier)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import msgspec
from litestar import Controller, MediaType, Request, get, post, put
from litestar.params import JSONBody
from litestar.response import Template
from litestar.status_codes import HTTP_200_OK

from rowcol.bootstrap import Services
from rowcol.core.domain.collections import (
    CollectionSend,
    ReminderSequence,
    ReminderStep,
    Tone,
)
from rowcol.core.domain.features import Feature
from rowcol.core.domain.ids import AdvisorId, BusinessId
from rowcol.core.domain.tenancy import Actor
from rowcol.core.services.collections import BusinessRun, CollectionCase
from rowcol.entrypoints.http.api import AdvisorPath, AppServices, ClientPath, CurrentActor
from rowcol.entrypoints.http.auth import feature_guard
from rowcol.entrypoints.http.pages import frame, wants_html
from rowcol.entrypoints.http.schemas import MoneyOut, Strict


class StepIO(Strict):
    step_id: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
    offset_days: int
    """Days relative to the due date: negative before it, positive after."""
    template: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
    tone: Tone = Tone.FRIENDLY

    @classmethod
    def of(cls, step: ReminderStep) -> StepIO:
        return cls(step.step_id, step.offset_days, step.template, step.tone)


class SequenceIn(Strict):
    steps: Annotated[list[StepIO], msgspec.Meta(min_length=1, max_length=20)]


class SequenceOut(msgspec.Struct):
    version: int
    steps: list[StepIO]

    @classmethod
    def of(cls, sequence: ReminderSequence) -> SequenceOut:
        return cls(sequence.version, [StepIO.of(s) for s in sequence.steps])


class SendOut(msgspec.Struct):
    step_id: str
    tone: str
    to: list[str]
    status: str
    intended_at: datetime
    sent_at: datetime | None
    attempts: int
    discount: MoneyOut | None

    @classmethod
    def of(cls, s: CollectionSend) -> SendOut:
        return cls(
            s.step_id,
            s.tone.value,
            list(s.to),
            s.status.value,
            s.intended_at,
            s.sent_at,
            s.attempts,
            MoneyOut.of(s.discount) if s.discount is not None else None,
        )


class CaseOut(msgspec.Struct):
    invoice_id: str
    customer: str
    balance: MoneyOut
    due_date: date
    stopped: str | None
    next_step: str | None
    reminders: int
    days_to_pay: int | None
    paid_after_reminder: bool
    sends: list[SendOut]

    @classmethod
    def of(cls, c: CollectionCase) -> CaseOut:
        return cls(
            c.invoice.invoice_id,
            c.customer_name,
            MoneyOut.of(c.invoice.balance),
            c.invoice.due_date,
            c.stopped.value if c.stopped is not None else None,
            c.next_step.step_id if c.next_step is not None else None,
            c.outcome.reminders,
            c.outcome.days_to_pay,
            c.outcome.paid_after_reminder,
            [SendOut.of(s) for s in c.sends],
        )


class CollectionsOut(msgspec.Struct):
    sequence: SequenceOut
    cases: list[CaseOut]


class RunOut(msgspec.Struct):
    sent: int
    failed: int
    unknown: int
    skipped_no_email: int
    skipped_bounced: int
    stopped: int
    notes: list[str]

    @classmethod
    def of(cls, r: BusinessRun) -> RunOut:
        return cls(
            r.sent,
            r.failed,
            r.unknown,
            r.skipped_no_email,
            r.skipped_bounced,
            r.stopped,
            list(r.notes),
        )


class EarlyPayIn(Strict):
    percent: Annotated[str, msgspec.Meta(pattern=r"^\d{1,2}(\.\d{1,2})?$")] = "1.5"
    """The discount offered, in percent, as text (e.g. "1.5")."""
    pay_within_days: Annotated[int, msgspec.Meta(ge=1, le=60)] = 10


class EarlyPayOut(msgspec.Struct):
    cash_short: bool
    reason: str
    offers: list[SendOut]


class CollectionsController(Controller):
    """A client's receivables follow-up (smart features)."""

    path = "/advisor/{advisor_id:str}/clients/{client_id:str}/collections"
    tags = ["collections"]
    guards = [feature_guard]
    opt = {"feature": Feature.SMART_FEATURES_ENABLED}

    @get(
        "/",
        summary="Invoices under the reminder sequence: next step, sends, outcomes (a page for "
        "browsers)",
    )
    async def view(
        self,
        request: Request[Any, Any, Any],
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        actor: CurrentActor,
        services: AppServices,
    ) -> CollectionsOut | Template:
        found = await services.collections.view(actor, AdvisorId(advisor_id), BusinessId(client_id))
        out = CollectionsOut(SequenceOut.of(found.sequence), [CaseOut.of(c) for c in found.cases])
        if not wants_html(request):
            return out
        return await _page(request, services, actor, advisor_id, client_id, out, ran=None)

    @post(
        "/run",
        summary="Send every reminder due today (each step at most once)",
        status_code=HTTP_200_OK,
    )
    async def run(
        self,
        request: Request[Any, Any, Any],
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        actor: CurrentActor,
        services: AppServices,
    ) -> RunOut | Template:
        done = await services.collections.run(actor, AdvisorId(advisor_id), BusinessId(client_id))
        if not wants_html(request):
            return RunOut.of(done)
        found = await services.collections.view(actor, AdvisorId(advisor_id), BusinessId(client_id))
        out = CollectionsOut(SequenceOut.of(found.sequence), [CaseOut.of(c) for c in found.cases])
        return await _page(
            request, services, actor, advisor_id, client_id, out, ran=RunOut.of(done)
        )

    @post(
        "/early-pay",
        summary="Offer early-pay discounts on invoices not yet due when cash is short",
        status_code=HTTP_200_OK,
    )
    async def early_pay(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        data: JSONBody[EarlyPayIn],
        actor: CurrentActor,
        services: AppServices,
    ) -> EarlyPayOut:
        done = await services.acceleration.offer(
            actor,
            AdvisorId(advisor_id),
            BusinessId(client_id),
            percent=Decimal(data.percent),
            pay_within_days=data.pay_within_days,
        )
        return EarlyPayOut(done.cash_short, done.reason, [SendOut.of(o) for o in done.offers])

    @get("/sequence", summary="The business's reminder sequence")
    async def sequence(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        actor: CurrentActor,
        services: AppServices,
    ) -> SequenceOut:
        found = await services.collections.sequence(
            actor, AdvisorId(advisor_id), BusinessId(client_id)
        )
        return SequenceOut.of(found)

    @put("/sequence", summary="Replace the business's reminder sequence (audited)")
    async def set_sequence(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        data: JSONBody[SequenceIn],
        actor: CurrentActor,
        services: AppServices,
    ) -> SequenceOut:
        steps = [ReminderStep(s.step_id, s.offset_days, s.template, s.tone) for s in data.steps]
        saved = await services.collections.set_sequence(
            actor, AdvisorId(advisor_id), BusinessId(client_id), steps
        )
        return SequenceOut.of(saved)


async def _page(
    request: Request[Any, Any, Any],
    services: Services,
    actor: Actor,
    advisor_id: str,
    client_id: str,
    out: CollectionsOut,
    *,
    ran: RunOut | None,
) -> Template:
    scoped = await services.clients.get_client(actor, AdvisorId(advisor_id), BusinessId(client_id))
    return Template(
        "collections.html",
        context={
            "frame": await frame(request, advisor_id),
            "advisor_id": advisor_id,
            "client_id": client_id,
            "business": scoped.business,
            "current": "collections",
            "c": out,
            "ran": ran,
            "active": [k for k in out.cases if k.stopped is None],
            "settled": [k for k in out.cases if k.stopped is not None],
        },
        media_type=MediaType.HTML,
    )
