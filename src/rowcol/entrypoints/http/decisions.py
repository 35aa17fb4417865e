"""The controller's decision console for one client, as a page: payable bills with what
paying each does to runway and buffer, the proposed pay schedule, approve / hold /
second-approve in batches with the guardrail's numbers, and payments in flight with
their chain of custody. It drives the same services as the payments API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Template

from rowcol.bootstrap import Services
from rowcol.core.domain.approval import can_approve, can_prepare
from rowcol.core.domain.errors import DomainError, InvalidInput
from rowcol.core.domain.features import Feature
from rowcol.core.domain.ids import AdvisorId, BusinessId
from rowcol.core.domain.money import Money
from rowcol.core.domain.payments import PaymentStatus
from rowcol.core.domain.schedule import Schedule
from rowcol.core.domain.tenancy import Actor
from rowcol.core.services.payments import BillResult, Outcome, PayableBill, PaymentView
from rowcol.entrypoints.http.api import AdvisorPath, AppServices, ClientPath, CurrentActor
from rowcol.entrypoints.http.errors import status_of
from rowcol.entrypoints.http.pages import frame

IN_FLIGHT = (
    PaymentStatus.SUBMITTED,
    PaymentStatus.RAIL_CONFIRMED,
    PaymentStatus.BANK_CONFIRMED,
    PaymentStatus.STUCK,
)
MAX_BATCH = 200


@dataclass(frozen=True, slots=True)
class Done:
    """One line of a batch's outcome, as the page shows it."""

    bill_id: str
    vendor: str
    outcome: str
    reason: str | None
    result: BillResult | None


class DecisionController(Controller):
    path = "/advisor/{advisor_id:str}/clients/{client_id:str}/decisions"
    tags = ["pages"]
    include_in_schema = False

    @get("/")
    async def page(
        self,
        request: Request[Any, Any, Any],
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        actor: CurrentActor,
        services: AppServices,
    ) -> Template:
        return await _render(request, services, actor, advisor_id, client_id, done=(), error=None)

    @post("/", status_code=200)
    async def act(
        self,
        request: Request[Any, Any, Any],
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        actor: CurrentActor,
        services: AppServices,
    ) -> Template:
        """A batch from the page's form: `action` (approve, hold, prepare), the chosen
        `bill_id`s, and a `note` for a hold. The page comes back with each bill's outcome.
        (A signed-in browser's post must come from RowCol's own pages: see auth.)"""
        form = await request.form()
        action = str(form.get("action", ""))
        bill_ids = [str(b) for b in form.getall("bill_id", [])]
        note = str(form.get("note", ""))
        pay_on_text = str(form.get("pay_on", "")).strip()
        done: list[Done] = []
        error = None
        status = 200
        try:
            if not bill_ids:
                raise InvalidInput("choose at least one bill")
            if len(bill_ids) > MAX_BATCH:
                raise InvalidInput(f"at most {MAX_BATCH} bills in one batch")
            pay_on = _day(pay_on_text)
            done = await _apply(
                services, actor, advisor_id, client_id, action, bill_ids, note, pay_on
            )
        except DomainError as exc:
            error, status = str(exc), status_of(exc)
        return await _render(
            request, services, actor, advisor_id, client_id, done=done, error=error, status=status
        )


async def _apply(
    services: Services,
    actor: Actor,
    advisor_id: str,
    client_id: str,
    action: str,
    bill_ids: list[str],
    note: str,
    pay_on: date | None,
) -> list[Done]:
    advisor, business = AdvisorId(advisor_id), BusinessId(client_id)
    payable: dict[str, PayableBill] = {
        p.bill.bill_id: p for p in await services.payments.payable_bills(actor, advisor, business)
    }
    unknown = [b for b in bill_ids if b not in payable]
    if unknown:
        raise InvalidInput("not a payable bill of this client: " + ", ".join(unknown))
    if action == "approve":
        results = await services.payments.approve_bills(
            actor, advisor, business, bill_ids, pay_on=pay_on
        )
        return [_done(r, payable[r.bill_id].vendor_name) for r in results]
    if action == "prepare":
        results = await services.payments.prepare_bills(
            actor, advisor, business, bill_ids, pay_on=pay_on
        )
        return [_done(r, payable[r.bill_id].vendor_name) for r in results]
    if action == "hold":
        if not note.strip():
            raise InvalidInput(
                "say why the bills are held (the note goes into each payment's record)"
            )
        out = []
        for bill_id in bill_ids:
            holding = payable[bill_id].payment
            vendor = payable[bill_id].vendor_name
            if holding is None:
                out.append(Done(bill_id, vendor, "not held", "no payment is proposed for it", None))
                continue
            held = await services.payments.hold(actor, advisor, business, holding.payment_id, note)
            out.append(Done(bill_id, vendor, "held", f"payment {held.payment_id} withdrawn", None))
        return out
    raise InvalidInput("the action must be approve, prepare or hold")


def _day(text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput("the pay date must be a date (YYYY-MM-DD)") from None


def _done(result: BillResult, vendor: str) -> Done:
    label = {
        Outcome.PAID: "submitted for payment",
        Outcome.APPROVED: "approved",
        Outcome.NEEDS_SECOND_APPROVAL: "needs a second approval",
        Outcome.BLOCKED: "blocked by the guardrail",
        Outcome.REFUSED: "refused",
        Outcome.PREPARED: "prepared for approval",
    }[result.outcome]
    return Done(result.bill_id, vendor, label, result.reason, result)


async def _render(
    request: Request[Any, Any, Any],
    services: Services,
    actor: Actor,
    advisor_id: str,
    client_id: str,
    *,
    done: list[Done] | tuple[Done, ...],
    error: str | None,
    status: int = 200,
) -> Template:
    advisor, business = AdvisorId(advisor_id), BusinessId(client_id)
    payables = await services.payments.payables(actor, advisor, business)
    position, payable = payables.position, payables.bills
    features = await services.features.features_for(actor, advisor)
    schedule: Schedule | None = None
    schedule_note = None
    if Feature.SMART_FEATURES_ENABLED in features:
        try:
            schedule = await services.schedule.propose(actor, advisor, business)
        except DomainError as exc:
            schedule_note = str(exc)
    else:
        schedule_note = "The proposed pay schedule comes with the smart plan."
    flying = await services.payments.payments(actor, advisor, business, statuses=IN_FLIGHT)
    views: list[PaymentView] = [
        await services.payments.payment(actor, advisor, business, p.payment_id) for p in flying
    ]
    vendors = {p.bill.bill_id: p.vendor_name for p in payable}
    return Template(
        "decisions.html",
        context={
            "frame": await frame(request, advisor_id),
            "advisor_id": advisor_id,
            "client_id": client_id,
            "current": "decisions",
            "business": position.business,
            "position": position,
            "payable": payable,
            "schedule": schedule,
            "schedule_by_bill": {b.bill_id: b for b in schedule.bills} if schedule else {},
            "schedule_note": schedule_note,
            "in_flight": views,
            "vendors": vendors,
            "done": done,
            "error": error,
            "may_approve": can_approve(actor.role),
            "may_prepare": can_prepare(actor.role),
            "money": _money,
        },
        status_code=status,
    )


def _money(value: Money | None) -> str:
    return "-" if value is None else value.format()
