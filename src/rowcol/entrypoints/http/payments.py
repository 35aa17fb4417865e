"""Paying bills over HTTP: payable bills with their impact, approvals, payments and their
chain of custody, the approval policy, and reserves.

Role rules live in the services; a refusal arrives here as Forbidden and leaves as 403.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post, put
from litestar.params import FromQuery, JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from rowcol.core.domain.approval import Approval, ApprovalPolicy
from rowcol.core.domain.audit import to_json_value
from rowcol.core.domain.crossrail import Finding
from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.features import Feature
from rowcol.core.domain.guardrail import BufferRule, GuardrailResult
from rowcol.core.domain.ids import AdvisorId, BusinessId, VendorId
from rowcol.core.domain.impact import PaymentImpact
from rowcol.core.domain.money import Money
from rowcol.core.domain.payments import Payment, PaymentStatus
from rowcol.core.domain.reserves import Reserve
from rowcol.core.services.payments import BillResult, PayableBill, PaymentView, Position
from rowcol.entrypoints.http.api import AdvisorPath, AppServices, ClientPath, CurrentActor
from rowcol.entrypoints.http.auth import feature_guard
from rowcol.entrypoints.http.schemas import AuditEventOut, MoneyOut, Strict

IdText = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
PaymentPath = Annotated[str, Parameter(description="The payment id", max_length=64)]
ReservePath = Annotated[str, Parameter(description="The reserve id", max_length=64)]

# -- requests -----------------------------------------------------------------------


class MoneyIn(Strict):
    """Money as `MoneyOut` renders it, without the display text."""

    amount_minor: int
    currency: Annotated[str, msgspec.Meta(min_length=3, max_length=3)]

    def to_money(self) -> Money:
        return Money(self.amount_minor, self.currency.upper())


class ApproveBills(Strict):
    bill_ids: Annotated[list[IdText], msgspec.Meta(min_length=1, max_length=500)]
    pay_on: date | None = None
    submit: bool = True


class HoldIn(Strict):
    note: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class PrepareBills(Strict):
    bill_ids: Annotated[list[IdText], msgspec.Meta(min_length=1, max_length=500)]
    pay_on: date | None = None


class BufferIn(Strict):
    """Exactly one of a fixed `amount` or a number of `weeks` of average outflow."""

    amount: MoneyIn | None = None
    weeks: int | None = None

    def to_rule(self) -> BufferRule:
        if (self.amount is None) == (self.weeks is None):
            raise InvalidInput('a buffer is either {"amount": ...} or {"weeks": n}')
        if self.amount is not None:
            return BufferRule.fixed(self.amount.to_money())
        assert self.weeks is not None
        return BufferRule.weeks(self.weeks)


class EditPolicy(Strict):
    """Fields left out keep their value; `per_payment_cap: null` removes the cap."""

    single_approver_limit: MoneyIn | None = None
    per_payment_cap: MoneyIn | msgspec.UnsetType | None = msgspec.UNSET
    buffer: BufferIn | None = None
    hold_vendors: Annotated[list[IdText], msgspec.Meta(max_length=500)] = msgspec.field(
        default_factory=list
    )
    release_vendors: Annotated[list[IdText], msgspec.Meta(max_length=500)] = msgspec.field(
        default_factory=list
    )


class AddReserve(Strict):
    purpose: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    amount: MoneyIn
    until: date


# -- responses ----------------------------------------------------------------------


def _money(value: Money | None) -> MoneyOut | None:
    return MoneyOut.of(value) if value is not None else None


class PositionOut(msgspec.Struct):
    """What the guardrail weighs now; headroom is what may still be paid."""

    cash: MoneyOut
    reserves: MoneyOut
    in_flight: MoneyOut
    buffer: MoneyOut
    headroom: MoneyOut
    average_weekly_outflow: MoneyOut
    average_weekly_inflow: MoneyOut
    balance_as_of: datetime | None
    balance_age_seconds: int | None

    @classmethod
    def of(cls, p: Position, now: datetime) -> PositionOut:
        as_of = min((b.as_of for b in p.balances), default=None)
        age = None if as_of is None else max(int((now - as_of).total_seconds()), 0)
        return cls(
            MoneyOut.of(p.cash),
            MoneyOut.of(p.reserves),
            MoneyOut.of(p.in_flight),
            MoneyOut.of(p.buffer),
            MoneyOut.of(p.cash - p.reserves - p.in_flight - p.buffer),
            MoneyOut.of(p.average_weekly_outflow),
            MoneyOut.of(p.average_weekly_inflow),
            as_of,
            age,
        )


class ImpactOut(msgspec.Struct):
    runway_days_before: int | None
    runway_days_after: int | None
    headroom_before: MoneyOut
    headroom_after: MoneyOut
    breaches_buffer: bool

    @classmethod
    def of(cls, i: PaymentImpact) -> ImpactOut:
        return cls(
            i.runway_days_before,
            i.runway_days_after,
            MoneyOut.of(i.headroom_before),
            MoneyOut.of(i.headroom_after),
            i.breaches_buffer,
        )


class HoldingPaymentOut(msgspec.Struct):
    payment_id: str
    status: str


class PayableBillOut(msgspec.Struct):
    bill_id: str
    vendor_id: str
    vendor_name: str
    amount: MoneyOut
    due_date: date | None
    payment: HoldingPaymentOut | None
    approvals_required: int
    impact: ImpactOut

    @classmethod
    def of(cls, p: PayableBill) -> PayableBillOut:
        holding = p.payment
        return cls(
            p.bill.bill_id,
            p.bill.vendor_id,
            p.vendor_name,
            MoneyOut.of(p.bill.balance),
            p.bill.due_date,
            HoldingPaymentOut(holding.payment_id, holding.status.value) if holding else None,
            p.required_approvals,
            ImpactOut.of(p.impact),
        )


class PayableBillsOut(msgspec.Struct):
    position: PositionOut
    bills: list[PayableBillOut]


class GuardrailOut(msgspec.Struct):
    outcome: str
    reason: str
    balance: MoneyOut | None
    reserves: MoneyOut
    in_flight: MoneyOut
    buffer: MoneyOut
    headroom: MoneyOut | None
    shortfall: MoneyOut | None
    balance_age_seconds: int | None

    @classmethod
    def of(cls, g: GuardrailResult) -> GuardrailOut:
        return cls(
            g.outcome.value,
            g.reason,
            _money(g.balance),
            MoneyOut.of(g.reserves),
            MoneyOut.of(g.in_flight),
            MoneyOut.of(g.buffer),
            _money(g.headroom),
            _money(g.shortfall),
            g.balance_age_seconds,
        )


class BillResultOut(msgspec.Struct):
    bill_id: str
    outcome: str
    payment_id: str | None
    reason: str | None
    guardrail: GuardrailOut | None

    @classmethod
    def of(cls, r: BillResult) -> BillResultOut:
        return cls(
            r.bill_id,
            r.outcome.value,
            r.payment_id,
            r.reason,
            GuardrailOut.of(r.guardrail) if r.guardrail is not None else None,
        )


class ApprovalOut(msgspec.Struct):
    approver: str
    role: str
    at: datetime
    policy_version: int

    @classmethod
    def of(cls, a: Approval) -> ApprovalOut:
        return cls(a.approver, a.role.value, a.at, a.policy_version)


class PaymentOut(msgspec.Struct):
    payment_id: str
    bill_id: str
    vendor_id: str
    amount: MoneyOut
    pay_on: date
    reference: str
    status: str
    prepared_by: str | None
    approvals: list[ApprovalOut]
    rail_payment_id: str | None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    rail_confirmed_at: datetime | None
    bank_confirmed_at: datetime | None
    ledger_confirmed_at: datetime | None
    blocked_reason: str | None
    failure_reason: str | None
    stuck_reason: str | None
    version: int

    @classmethod
    def of(cls, p: Payment) -> PaymentOut:
        return cls(
            p.payment_id,
            p.bill_id,
            p.vendor_id,
            MoneyOut.of(p.amount),
            p.pay_on,
            p.reference,
            p.status.value,
            p.prepared_by,
            [ApprovalOut.of(a) for a in p.approvals],
            p.rail_payment_id,
            p.created_at,
            p.updated_at,
            p.submitted_at,
            p.rail_confirmed_at,
            p.bank_confirmed_at,
            p.ledger_confirmed_at,
            p.blocked_reason,
            p.failure_reason,
            p.stuck_reason,
            p.version,
        )


class PaymentDetailOut(msgspec.Struct):
    payment: PaymentOut
    custody: list[AuditEventOut]
    """Every audited step of the payment, oldest first."""

    @classmethod
    def of(cls, v: PaymentView) -> PaymentDetailOut:
        return cls(PaymentOut.of(v.payment), [AuditEventOut.of(e) for e in v.custody])


class BufferOut(msgspec.Struct):
    kind: str
    amount: MoneyOut | None
    weeks: int | None
    description: str


class PolicyOut(msgspec.Struct):
    business_id: str
    version: int
    single_approver_limit: MoneyOut
    per_payment_cap: MoneyOut | None
    buffer: BufferOut
    vendor_holds: list[str]
    max_balance_age_seconds: int

    @classmethod
    def of(cls, p: ApprovalPolicy) -> PolicyOut:
        return cls(
            p.business_id,
            p.version,
            MoneyOut.of(p.single_approver_limit),
            _money(p.per_payment_cap),
            BufferOut(
                p.buffer.kind.value,
                _money(p.buffer.fixed_amount),
                p.buffer.weeks_count,
                p.buffer.describe(),
            ),
            sorted(p.vendor_holds),
            int(p.max_balance_age.total_seconds()),
        )


class ReserveOut(msgspec.Struct):
    reserve_id: str
    purpose: str
    amount: MoneyOut
    until: date
    released: bool
    active: bool

    @classmethod
    def of(cls, r: Reserve, today: date) -> ReserveOut:
        return cls(
            r.reserve_id, r.purpose, MoneyOut.of(r.amount), r.until, r.released, r.is_active(today)
        )


# -- controller ---------------------------------------------------------------------


class FindingOut(msgspec.Struct):
    kind: str
    severity: str
    money_at_stake: MoneyOut
    summary: str
    key: str
    left: list[Any]
    """The records on one side (the books, or the payout); empty when missing."""
    right: list[Any]

    @classmethod
    def of(cls, f: Finding) -> FindingOut:
        return cls(
            f.kind.value,
            f.severity.value,
            MoneyOut.of(f.money_at_stake),
            f.summary,
            f.key,
            [to_json_value(r) for r in f.left],
            [to_json_value(r) for r in f.right],
        )


class CrossRailOut(msgspec.Struct):
    findings: list[FindingOut]
    compared: dict[str, int]
    unavailable: list[str]


class PaymentController(Controller):
    """Deciding and paying a client's bills (the basic ritual)."""

    path = "/advisor/{advisor_id:str}/clients/{client_id:str}"
    tags = ["payments"]
    guards = [feature_guard]
    opt = {"feature": Feature.BASIC_RITUAL_ONLY}

    @get("/payable-bills", summary="Open bills with what paying each does, and the position")
    async def payable_bills(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        actor: CurrentActor,
        services: AppServices,
    ) -> PayableBillsOut:
        advisor, business = AdvisorId(advisor_id), BusinessId(client_id)
        bills = await services.payments.payable_bills(actor, advisor, business)
        position = await services.payments.position(actor, advisor, business)
        return PayableBillsOut(
            PositionOut.of(position, services.clock.now()),
            [PayableBillOut.of(b) for b in bills],
        )

    @post(
        "/approve-bills",
        summary="Approve bills; fully approved ones are submitted through the guardrail",
        status_code=HTTP_200_OK,
    )
    async def approve_bills(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        data: JSONBody[ApproveBills],
        actor: CurrentActor,
        services: AppServices,
    ) -> list[BillResultOut]:
        """A batch: the answer is 200 with one outcome per bill, even when some are
        blocked or refused. Naming a bill twice, or one the client does not have, is a
        bad request and nothing is approved."""
        advisor, business = AdvisorId(advisor_id), BusinessId(client_id)
        if len(set(data.bill_ids)) != len(data.bill_ids):
            raise InvalidInput("a bill is named twice")
        known = {b.bill_id for b in await services.records.bills(actor, advisor, business)}
        unknown = [b for b in data.bill_ids if b not in known]
        if unknown:
            raise InvalidInput(f"client {client_id} has no bill {', '.join(unknown)}")
        results = await services.payments.approve_bills(
            actor, advisor, business, data.bill_ids, pay_on=data.pay_on, submit=data.submit
        )
        return [BillResultOut.of(r) for r in results]

    @post(
        "/prepare-bills",
        summary="Propose payments of bills for a controller's approval (bookkeepers)",
        status_code=HTTP_200_OK,
    )
    async def prepare_bills(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        data: JSONBody[PrepareBills],
        actor: CurrentActor,
        services: AppServices,
    ) -> list[BillResultOut]:
        """One outcome per bill: prepared, or refused with the reason. Whoever prepares
        a payment may not approve it."""
        results = await services.payments.prepare_bills(
            actor, AdvisorId(advisor_id), BusinessId(client_id), data.bill_ids, pay_on=data.pay_on
        )
        return [BillResultOut.of(r) for r in results]

    @get(
        "/cross-rail",
        summary="Where the books, Ramp, the bank and Stripe disagree, with both sides",
    )
    async def cross_rail(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        actor: CurrentActor,
        services: AppServices,
    ) -> CrossRailOut:
        report = await services.crossrail.findings(
            actor, AdvisorId(advisor_id), BusinessId(client_id)
        )
        return CrossRailOut(
            [FindingOut.of(f) for f in report.findings], report.compared, report.unavailable
        )

    @get("/payments", summary="The client's payments")
    async def payments(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        actor: CurrentActor,
        services: AppServices,
        status: FromQuery[PaymentStatus | None] = None,
    ) -> list[PaymentOut]:
        found = await services.payments.payments(
            actor,
            AdvisorId(advisor_id),
            BusinessId(client_id),
            statuses=(status,) if status is not None else None,
        )
        return [PaymentOut.of(p) for p in found]

    @get("/payments/{payment_id:str}", summary="A payment and its chain of custody")
    async def payment(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        payment_id: PaymentPath,
        actor: CurrentActor,
        services: AppServices,
    ) -> PaymentDetailOut:
        view = await services.payments.payment(
            actor, AdvisorId(advisor_id), BusinessId(client_id), payment_id
        )
        return PaymentDetailOut.of(view)

    @post(
        "/payments/{payment_id:str}/submit",
        summary="Submit an approved or blocked payment through the guardrail",
        status_code=HTTP_200_OK,
    )
    async def submit(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        payment_id: PaymentPath,
        actor: CurrentActor,
        services: AppServices,
    ) -> BillResultOut:
        result = await services.payments.submit(
            actor, AdvisorId(advisor_id), BusinessId(client_id), payment_id
        )
        return BillResultOut.of(result)

    @post(
        "/payments/{payment_id:str}/cancel",
        summary="Cancel a payment not yet submitted",
        status_code=HTTP_200_OK,
    )
    async def cancel(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        payment_id: PaymentPath,
        actor: CurrentActor,
        services: AppServices,
    ) -> PaymentOut:
        cancelled = await services.payments.cancel(
            actor, AdvisorId(advisor_id), BusinessId(client_id), payment_id
        )
        return PaymentOut.of(cancelled)

    @post(
        "/payments/{payment_id:str}/hold",
        summary="Hold a payment not yet submitted, saying why (the bill is payable again)",
        status_code=HTTP_200_OK,
    )
    async def hold(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        payment_id: PaymentPath,
        data: JSONBody[HoldIn],
        actor: CurrentActor,
        services: AppServices,
    ) -> PaymentOut:
        held = await services.payments.hold(
            actor, AdvisorId(advisor_id), BusinessId(client_id), payment_id, data.note
        )
        return PaymentOut.of(held)

    @get("/approval-policy", summary="Who may approve what, and the liquidity buffer")
    async def policy(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        actor: CurrentActor,
        services: AppServices,
    ) -> PolicyOut:
        found = await services.payments.policy(actor, AdvisorId(advisor_id), BusinessId(client_id))
        return PolicyOut.of(found)

    @put("/approval-policy", summary="Edit the approval policy (a new, audited version)")
    async def set_policy(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        data: JSONBody[EditPolicy],
        actor: CurrentActor,
        services: AppServices,
    ) -> PolicyOut:
        cap = data.per_payment_cap
        edited = await services.payments.set_policy(
            actor,
            AdvisorId(advisor_id),
            BusinessId(client_id),
            single_approver_limit=(
                data.single_approver_limit.to_money() if data.single_approver_limit else None
            ),
            per_payment_cap=cap.to_money() if isinstance(cap, MoneyIn) else None,
            clear_cap=cap is None,
            buffer=data.buffer.to_rule() if data.buffer is not None else None,
            hold_vendors=[VendorId(v) for v in data.hold_vendors],
            release_vendors=[VendorId(v) for v in data.release_vendors],
        )
        return PolicyOut.of(edited)

    @get("/reserves", summary="Cash set aside for a purpose until a date")
    async def reserves(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        actor: CurrentActor,
        services: AppServices,
    ) -> list[ReserveOut]:
        found = await services.reserves.list(actor, AdvisorId(advisor_id), BusinessId(client_id))
        today = services.clock.today()
        return [ReserveOut.of(r, today) for r in found]

    @post("/reserves", summary="Set cash aside (audited)", status_code=HTTP_201_CREATED)
    async def add_reserve(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        data: JSONBody[AddReserve],
        actor: CurrentActor,
        services: AppServices,
    ) -> ReserveOut:
        added = await services.reserves.add(
            actor,
            AdvisorId(advisor_id),
            BusinessId(client_id),
            purpose=data.purpose,
            amount=data.amount.to_money(),
            until=data.until,
        )
        return ReserveOut.of(added, services.clock.today())

    @post(
        "/reserves/{reserve_id:str}/release",
        summary="Release a reserve (audited)",
        status_code=HTTP_200_OK,
    )
    async def release_reserve(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        reserve_id: ReservePath,
        actor: CurrentActor,
        services: AppServices,
    ) -> ReserveOut:
        released = await services.reserves.release(
            actor, AdvisorId(advisor_id), BusinessId(client_id), reserve_id
        )
        return ReserveOut.of(released, services.clock.today())
