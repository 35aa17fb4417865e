"""Paying bills: approvals, the liquidity guardrail at submission, exactly-once execution.

A payment is stored (with its reference) before the rail is called. The guardrail is
checked at submission, not at approval, inside a unit of work that holds the business
(`lock_business`), so two submissions never both spend the same headroom. A rail answer
that is lost leaves the payment submitted without a rail id; `reconcile` looks it up by
reference before anything is sent again.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from rowcol.core.domain import payments as life
from rowcol.core.domain.approval import (
    UNCHANGED,
    ApprovalPolicy,
    ApprovalRefused,
    can_approve,
    can_prepare,
    default_policy,
    evaluate_approval,
    is_fully_approved,
    required_approvals,
)
from rowcol.core.domain.audit import AuditEvent
from rowcol.core.domain.cash import cash_position, runway
from rowcol.core.domain.errors import Forbidden, InvalidInput, NotFound
from rowcol.core.domain.guardrail import (
    BufferRule,
    GuardrailInput,
    GuardrailResult,
    check_liquidity,
)
from rowcol.core.domain.ids import AdvisorId, BillId, BusinessId, PaymentId, VendorId
from rowcol.core.domain.impact import PaymentImpact, payment_impact
from rowcol.core.domain.money import Money
from rowcol.core.domain.payments import Payment, PaymentStatus
from rowcol.core.domain.records import Balance, Bill, BillStatus
from rowcol.core.domain.reserves import active_reserves_total
from rowcol.core.domain.tenancy import SYSTEM_ACTOR, Actor, Business
from rowcol.core.services.scope import client_for, record
from rowcol.ports.bank_verifier import BankVerifier
from rowcol.ports.clock import Clock
from rowcol.ports.errors import OutcomeUnknown, PortError, Rejected
from rowcol.ports.payment_rail import PaymentRail, PaymentRequest, RailPaymentStatus
from rowcol.ports.repository import StaleWrite, UnitOfWork, UnitOfWorkFactory

_RETRIES = 5
FORECAST_FRESHNESS = timedelta(days=7)
"""An older forecast no longer speaks for the weeks ahead."""


class Outcome(StrEnum):
    APPROVED = "approved"
    """Fully approved, waiting to be submitted."""
    NEEDS_SECOND_APPROVAL = "needs_second_approval"
    BLOCKED = "blocked"
    PAID = "paid"
    """Submitted to the rail (verification follows)."""
    REFUSED = "refused"
    """A rule refused this approver or this bill; nothing changed."""
    PREPARED = "prepared"
    """Proposed for approval by its preparer, who may not approve it."""


@dataclass(frozen=True, slots=True)
class BillResult:
    bill_id: BillId
    outcome: Outcome
    payment_id: PaymentId | None = None
    reason: str | None = None
    guardrail: GuardrailResult | None = None


@dataclass(frozen=True, slots=True)
class Position:
    """What the guardrail weighs for a business right now."""

    business: Business
    policy: ApprovalPolicy
    balances: tuple[Balance, ...]
    cash: Money
    reserves: Money
    in_flight: Money
    buffer: Money
    average_weekly_outflow: Money
    average_weekly_inflow: Money
    low_point: Money | None = None
    """The latest forecast's lowest closing (P50) over its horizon, if one is recent."""
    forecast_until: date | None = None


@dataclass(frozen=True, slots=True)
class PayableBill:
    bill: Bill
    vendor_name: str
    payment: Payment | None
    required_approvals: int
    impact: PaymentImpact


@dataclass(frozen=True, slots=True)
class Payables:
    """The cash position and the open bills measured against it, read together."""

    position: Position
    bills: list[PayableBill]


@dataclass(frozen=True, slots=True)
class PaymentView:
    payment: Payment
    custody: tuple[AuditEvent, ...]
    """Every audited step of the payment, oldest first."""


@dataclass(frozen=True, slots=True)
class Reconciled:
    payment: Payment
    action: str
    """`linked` (the rail had it) or `resent` (it had not; sent under the same reference)."""


def new_payment_id() -> PaymentId:
    return PaymentId(f"pay-{secrets.token_hex(8)}")


class PaymentService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        *,
        rail: PaymentRail | None = None,
        bank: BankVerifier | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._rail = rail
        self._bank = bank

    # Policy ------------------------------------------------------------------------

    async def policy(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId
    ) -> ApprovalPolicy:
        async with self._uow() as uow:
            scoped = await client_for(uow, actor, advisor_id, business_id)
            return await _policy(uow, scoped.business)

    async def set_policy(
        self,
        actor: Actor,
        advisor_id: AdvisorId,
        business_id: BusinessId,
        *,
        single_approver_limit: Money | None = None,
        per_payment_cap: Money | None = None,
        clear_cap: bool = False,
        buffer: BufferRule | None = None,
        hold_vendors: Sequence[VendorId] = (),
        release_vendors: Sequence[VendorId] = (),
    ) -> ApprovalPolicy:
        """A new version of the policy (controllers and firm admins); audited."""
        _require_approver(actor, "change the approval policy")
        async with self._uow() as uow:
            scoped = await client_for(uow, actor, advisor_id, business_id)
            stored = await uow.policies.get(business_id)
            current = stored or default_policy(business_id, scoped.business.currency)
            holds = (set(current.vendor_holds) | set(hold_vendors)) - set(release_vendors)
            edited = current.revise(
                single_approver_limit=single_approver_limit or UNCHANGED,
                per_payment_cap=None if clear_cap else (per_payment_cap or UNCHANGED),
                buffer=buffer or UNCHANGED,
                vendor_holds=holds,
            )
            if stored is not None and edited is current:
                return current
            if stored is None:
                # The default was never stored: the first edit is version 1.
                edited = replace(edited, version=1)
            await uow.policies.save(edited)
            await record(
                uow,
                self._clock,
                actor,
                "policy.changed",
                f"business:{business_id}",
                before=_policy_summary(stored) if stored else None,
                after=_policy_summary(edited),
                advisor_id=advisor_id,
            )
            await uow.commit()
        return edited

    # Reading -----------------------------------------------------------------------

    async def position(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId
    ) -> Position:
        async with self._uow() as uow:
            scoped = await client_for(uow, actor, advisor_id, business_id)
            return await self._position(uow, scoped.business)

    async def payable_bills(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId
    ) -> list[PayableBill]:
        """Open bills, soonest due first, with what paying each does to runway and buffer."""
        return (await self.payables(actor, advisor_id, business_id)).bills

    async def payables(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId
    ) -> Payables:
        """The position and the payable bills measured against it, in one read."""
        async with self._uow() as uow:
            scoped = await client_for(uow, actor, advisor_id, business_id)
            position = await self._position(uow, scoped.business)
            bills = [b for b in await uow.bills.list(business_id) if b.status is BillStatus.OPEN]
            vendors = {v.vendor_id: v.name for v in await uow.vendors.list(business_id)}
            holding = _holding(await uow.payments.list(business_id))
        out = []
        for bill in sorted(bills, key=lambda b: (b.due_date or date.max, b.bill_id)):
            if bill.balance.amount_minor <= 0 or bill.balance.currency != position.cash.currency:
                continue
            out.append(
                PayableBill(
                    bill=bill,
                    vendor_name=vendors.get(bill.vendor_id, bill.vendor_id),
                    payment=holding.get(bill.bill_id),
                    required_approvals=required_approvals(position.policy, bill.balance),
                    impact=_impact(position, bill.balance),
                )
            )
        return Payables(position, out)

    async def payments(
        self,
        actor: Actor,
        advisor_id: AdvisorId,
        business_id: BusinessId,
        *,
        statuses: Sequence[PaymentStatus] | None = None,
    ) -> Sequence[Payment]:
        async with self._uow() as uow:
            await client_for(uow, actor, advisor_id, business_id)
            return await uow.payments.list(business_id, statuses=statuses)

    async def payment(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId, payment_id: str
    ) -> PaymentView:
        """The payment and its chain of custody (every audited step)."""
        async with self._uow() as uow:
            await client_for(uow, actor, advisor_id, business_id)
            found = await uow.payments.get(PaymentId(payment_id))
            if found is None or found.business_id != business_id:
                raise NotFound(f"payment {payment_id} not found for client {business_id}")
            return PaymentView(found, await custody(uow, found))

    # Approving and paying ------------------------------------------------------------

    async def approve_bills(
        self,
        actor: Actor,
        advisor_id: AdvisorId,
        business_id: BusinessId,
        bill_ids: Sequence[str],
        *,
        pay_on: date | None = None,
        submit: bool = True,
    ) -> list[BillResult]:
        """Approves each bill for the actor; a bill that is then fully approved is
        submitted at once (unless `submit` is false), through the guardrail."""
        _require_approver(actor, "approve payments")
        if not bill_ids:
            raise InvalidInput("name at least one bill")
        if len(set(bill_ids)) != len(bill_ids):
            raise InvalidInput("a bill is named twice")
        async with self._uow() as uow:
            await client_for(uow, actor, advisor_id, business_id)
        results = []
        for bill_id in bill_ids:
            result = await self._approve_one(
                actor, advisor_id, business_id, BillId(bill_id), pay_on
            )
            check = result.guardrail
            if check is not None and check.second_look and result.outcome is Outcome.APPROVED:
                # Approved, but the forecast says this payment takes the low point under
                # the buffer: a person submits it after a second look.
                result = replace(result, reason=f"second look: {check.second_look_reason}")
            elif submit and result.outcome is Outcome.APPROVED and result.payment_id is not None:
                result = await self._submit(actor, advisor_id, result.payment_id)
            results.append(result)
        return results

    async def prepare_bills(
        self,
        actor: Actor,
        advisor_id: AdvisorId,
        business_id: BusinessId,
        bill_ids: Sequence[str],
        *,
        pay_on: date | None = None,
    ) -> list[BillResult]:
        """Proposes a payment of each bill for approval (bookkeepers' work); the
        preparer is recorded, and segregation of duties keeps them from approving it."""
        if not can_prepare(actor.role):
            raise Forbidden(f"a {actor.role.value} may not prepare payments")
        if not bill_ids:
            raise InvalidInput("name at least one bill")
        if len(set(bill_ids)) != len(bill_ids):
            raise InvalidInput("a bill is named twice")
        now = self._clock.now()
        results = []
        for bill_id in map(BillId, bill_ids):
            async with self._uow() as uow:
                await client_for(uow, actor, advisor_id, business_id)
                bill = await uow.bills.get(business_id, bill_id)
                if bill is None:
                    results.append(
                        BillResult(bill_id, Outcome.REFUSED, reason=f"bill {bill_id} not found")
                    )
                    continue
                holding = _holding(await uow.payments.list(business_id)).get(bill_id)
                if holding is not None:
                    results.append(
                        BillResult(
                            bill_id,
                            Outcome.REFUSED,
                            holding.payment_id,
                            f"bill {bill_id} already has payment {holding.payment_id} "
                            f"({holding.status.value})",
                        )
                    )
                    continue
                try:
                    proposed = life.propose(
                        bill,
                        payment_id=new_payment_id(),
                        pay_on=max(pay_on or bill.due_date or now.date(), now.date()),
                        now=now,
                        existing_payments=(),
                        prepared_by=actor.user_id,
                    )
                    await uow.payments.add(proposed)
                except (life.InvalidTransition, life.DuplicatePayment, InvalidInput) as exc:
                    results.append(BillResult(bill_id, Outcome.REFUSED, reason=str(exc)))
                    continue
                await record(
                    uow,
                    self._clock,
                    actor,
                    "payment.prepared",
                    f"payment:{proposed.payment_id}",
                    after=_summary(proposed),
                    advisor_id=advisor_id,
                )
                await uow.commit()
            results.append(BillResult(bill_id, Outcome.PREPARED, proposed.payment_id))
        return results

    async def submit(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId, payment_id: str
    ) -> BillResult:
        """Submits an approved (or earlier blocked) payment through the guardrail."""
        _require_approver(actor, "pay bills")
        async with self._uow() as uow:
            await client_for(uow, actor, advisor_id, business_id)
            found = await uow.payments.get(PaymentId(payment_id))
        if found is None or found.business_id != business_id:
            raise NotFound(f"payment {payment_id} not found for client {business_id}")
        return await self._submit(actor, advisor_id, found.payment_id)

    async def cancel(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId, payment_id: str
    ) -> Payment:
        return await self._withdraw(actor, advisor_id, business_id, payment_id, note=None)

    async def hold(
        self,
        actor: Actor,
        advisor_id: AdvisorId,
        business_id: BusinessId,
        payment_id: str,
        note: str,
    ) -> Payment:
        """Takes a payment not yet submitted out of the run, with the reason: the bill is
        payable again and the note stays in the payment's chain of custody."""
        note = note.strip()
        if not note:
            raise InvalidInput("say why the payment is held")
        if len(note) > 500:
            raise InvalidInput("a hold note is at most 500 characters")
        return await self._withdraw(actor, advisor_id, business_id, payment_id, note=note)

    async def _withdraw(
        self,
        actor: Actor,
        advisor_id: AdvisorId,
        business_id: BusinessId,
        payment_id: str,
        *,
        note: str | None,
    ) -> Payment:
        _require_approver(actor, "hold payments" if note else "cancel payments")
        for _ in range(_RETRIES):
            async with self._uow() as uow:
                await client_for(uow, actor, advisor_id, business_id)
                found = await uow.payments.get(PaymentId(payment_id))
                if found is None or found.business_id != business_id:
                    raise NotFound(f"payment {payment_id} not found for client {business_id}")
                cancelled = life.cancel(found, now=self._clock.now())
                if cancelled is found:
                    return found
                try:
                    await self._save(
                        uow,
                        actor,
                        found,
                        cancelled,
                        "payment.held" if note else "payment.cancelled",
                        context={"note": note} if note else None,
                    )
                except StaleWrite:
                    continue
                await uow.commit()
                return cancelled
        raise StaleWrite(f"payment {payment_id} keeps changing; try again")

    async def _approve_one(
        self,
        actor: Actor,
        advisor_id: AdvisorId,
        business_id: BusinessId,
        bill_id: BillId,
        pay_on: date | None,
    ) -> BillResult:
        now = self._clock.now()
        for _ in range(_RETRIES):
            async with self._uow() as uow:
                business = await uow.businesses.get(business_id)
                bill = await uow.bills.get(business_id, bill_id)
                if business is None or bill is None:
                    return BillResult(bill_id, Outcome.REFUSED, reason=f"bill {bill_id} not found")
                position = await self._position(uow, business)
                holding = _holding(await uow.payments.list(business_id)).get(bill_id)
                if holding is not None and holding.status is not PaymentStatus.PROPOSED:
                    return _already(bill_id, holding)
                try:
                    payment = holding or life.propose(
                        bill,
                        payment_id=new_payment_id(),
                        pay_on=max(pay_on or bill.due_date or now.date(), now.date()),
                        now=now,
                        existing_payments=(),
                    )
                    decision = evaluate_approval(
                        position.policy,
                        amount=payment.amount,
                        vendor_id=payment.vendor_id,
                        prepared_by=payment.prepared_by,
                        approvals_so_far=payment.approvals,
                        approver=actor.user_id,
                        role=actor.role,
                        at=now,
                    )
                except (ApprovalRefused, life.InvalidTransition, InvalidInput) as exc:
                    return BillResult(
                        bill_id, Outcome.REFUSED, holding.payment_id if holding else None, str(exc)
                    )
                approved = life.approve(payment, decision, now=now)
                preview = _guardrail(position, approved.amount, now, approved.pay_on)
                context = {
                    "decision": {
                        "approvals": len(decision.approvals),
                        "required": decision.required,
                        "policy_version": position.policy.version,
                    },
                    **_context(position, preview),
                }
                try:
                    if holding is None:
                        await uow.payments.add(approved)
                    else:
                        await uow.payments.update(approved)
                except (StaleWrite, life.DuplicatePayment):
                    continue  # someone else moved first: decide again on what they stored
                await record(
                    uow,
                    self._clock,
                    actor,
                    "payment.approved" if decision.fully_approved else "payment.approval_added",
                    f"payment:{approved.payment_id}",
                    before=_summary(holding) if holding else None,
                    after={**_summary(approved), "context": context},
                    advisor_id=advisor_id,
                )
                await uow.commit()
            outcome = Outcome.APPROVED if decision.fully_approved else Outcome.NEEDS_SECOND_APPROVAL
            reason = None
            if not decision.fully_approved:
                reason = f"needs {decision.approvals_needed} more approver(s) above " + (
                    position.policy.single_approver_limit.format()
                )
            return BillResult(bill_id, outcome, approved.payment_id, reason, preview)
        return BillResult(bill_id, Outcome.REFUSED, reason="the bill kept changing; try again")

    async def _fresh_balances(self, business: Business, policy: ApprovalPolicy) -> str | None:
        """Refreshes a stale balance from the bank; the reason money may not move, or None."""
        async with self._uow() as uow:
            latest = await uow.balances.latest(business.business_id)
        now = self._clock.now()
        if latest and all(now - b.as_of <= policy.max_balance_age for b in latest):
            return None
        if self._bank is None:
            return "no bank connection proves the balance, so no payment can go out"
        try:
            balances = await self._bank.get_balances(business.business_id)
        except PortError as exc:
            return f"the bank could not be reached to prove the balance ({exc}); no payment"
        async with self._uow() as uow:
            await uow.balances.add(balances)
            await uow.commit()
        return None

    async def _submit(
        self, actor: Actor, advisor_id: AdvisorId, payment_id: PaymentId
    ) -> BillResult:
        rail = self._rail
        for _ in range(_RETRIES):
            async with self._uow() as uow:
                payment = await uow.payments.get(payment_id)
                business = await uow.businesses.get(payment.business_id) if payment else None
            if payment is None or business is None:
                raise NotFound(f"payment {payment_id} not found")
            if payment.status not in (PaymentStatus.APPROVED, PaymentStatus.BLOCKED):
                return _already(payment.bill_id, payment)
            async with self._uow() as uow:
                policy = await _policy(uow, business)
            problem = await self._fresh_balances(business, policy)
            if problem is None and rail is None:
                problem = "no payment rail is connected"
            now = self._clock.now()
            async with self._uow() as uow:
                await uow.payments.lock_business(business.business_id)
                payment = await uow.payments.get(payment_id)
                if payment is None:
                    raise NotFound(f"payment {payment_id} not found")
                if payment.status not in (PaymentStatus.APPROVED, PaymentStatus.BLOCKED):
                    return _already(payment.bill_id, payment)
                position = await self._position(uow, business)
                check = _guardrail(position, payment.amount, now, payment.pay_on)
                if problem is None and not is_fully_approved(
                    position.policy,
                    amount=payment.amount,
                    vendor_id=payment.vendor_id,
                    prepared_by=payment.prepared_by,
                    approvals=payment.approvals,
                ):
                    problem = (
                        f"the approvals no longer meet policy version {position.policy.version}"
                    )
                if problem is None and not check.allowed:
                    problem = check.reason
                if problem is not None:
                    blocked = life.block(payment, problem, now=now)
                    if blocked is payment:  # blocked again for the same reason
                        return BillResult(
                            payment.bill_id, Outcome.BLOCKED, payment.payment_id, problem, check
                        )
                    try:
                        await self._save(
                            uow,
                            actor,
                            payment,
                            blocked,
                            "payment.blocked",
                            context=_context(position, check),
                            advisor_id=advisor_id,
                        )
                    except StaleWrite:
                        continue
                    await uow.commit()
                    return BillResult(
                        payment.bill_id, Outcome.BLOCKED, payment.payment_id, problem, check
                    )
                submitted = life.submit(payment, now=now)
                try:
                    await self._save(
                        uow,
                        actor,
                        payment,
                        submitted,
                        "payment.submitted",
                        context=_context(position, check),
                        advisor_id=advisor_id,
                    )
                except StaleWrite:
                    continue
                await uow.commit()
            assert rail is not None
            return await self._send(actor, submitted, rail, check)
        raise StaleWrite(f"payment {payment_id} keeps changing; try again")

    async def _send(
        self, actor: Actor, payment: Payment, rail: PaymentRail, check: GuardrailResult | None
    ) -> BillResult:
        """Calls the rail for a payment already stored as submitted."""
        async with self._uow() as uow:
            bill = await uow.bills.get(payment.business_id, payment.bill_id)
        request = PaymentRequest(
            reference=payment.reference,
            business_id=payment.business_id,
            bill_id=payment.bill_id,
            vendor_id=payment.vendor_id,
            amount=payment.amount,
            pay_on=max(payment.pay_on, self._clock.today()),
            due_on=bill.due_date if bill is not None else None,
        )
        try:
            answer = await rail.submit_payment(request)
        except Rejected as exc:
            # A rail refusing a payment it already holds (an earlier send that did land)
            # is no failure: link what it has.
            try:
                held = await rail.find_payment(payment.business_id, payment.reference)
            except PortError:
                held = None
            if held is not None:
                await self._apply_rail(actor, payment.payment_id, held.rail_payment_id, held.status)
                return BillResult(payment.bill_id, Outcome.PAID, payment.payment_id, None, check)
            refusal = f"the rail refused it: {exc}"
            failed = await self._update(
                payment.payment_id,
                lambda p: life.fail(p, refusal, now=self._clock.now()),
                actor,
                "payment.failed",
            )
            return BillResult(
                payment.bill_id, Outcome.BLOCKED, payment.payment_id, failed.failure_reason, check
            )
        except (OutcomeUnknown, PortError) as exc:
            # Stored as submitted with no rail id: `reconcile` asks the rail before any
            # second attempt, so the bill cannot be paid twice.
            await self._note(actor, payment, "payment.outcome_unknown", {"error": str(exc)})
            return BillResult(
                payment.bill_id,
                Outcome.PAID,
                payment.payment_id,
                f"sent; the rail's answer was lost ({exc}); it will be reconciled",
                check,
            )
        await self._apply_rail(actor, payment.payment_id, answer.rail_payment_id, answer.status)
        return BillResult(payment.bill_id, Outcome.PAID, payment.payment_id, None, check)

    async def _apply_rail(
        self,
        actor: Actor,
        payment_id: PaymentId,
        rail_payment_id: str,
        status: RailPaymentStatus,
    ) -> Payment:
        now = self._clock.now()

        def change(p: Payment) -> Payment:
            p = life.submit(p, now=now, rail_payment_id=rail_payment_id)
            if status is RailPaymentStatus.PAID:
                p = life.record_rail_confirmed(p, now=now, rail_payment_id=rail_payment_id)
            elif status in (RailPaymentStatus.FAILED, RailPaymentStatus.CANCELED):
                p = life.fail(p, f"the rail reports it {status.value}", now=now)
            return p

        action = {
            RailPaymentStatus.PAID: "payment.rail_confirmed",
            RailPaymentStatus.FAILED: "payment.failed",
            RailPaymentStatus.CANCELED: "payment.failed",
        }.get(status, "payment.rail_accepted")
        return await self._update(payment_id, change, actor, action)

    async def reconcile(self, *, business_id: BusinessId | None = None) -> list[Reconciled]:
        """Payments whose rail answer was lost: found by reference and linked, or sent
        again under the same reference when the rail has none."""
        rail = self._rail
        if rail is None:
            return []
        async with self._uow() as uow:
            pending = await uow.payments.list(
                business_id, statuses=(PaymentStatus.SUBMITTED, PaymentStatus.STUCK)
            )
        done = []
        for payment in pending:
            if payment.rail_payment_id is not None or payment.rail_confirmed_at is not None:
                continue
            try:
                found = await rail.find_payment(payment.business_id, payment.reference)
            except PortError:
                continue  # the rail cannot tell yet; the next run asks again
            if found is not None:
                linked = await self._apply_rail(
                    SYSTEM_ACTOR, payment.payment_id, found.rail_payment_id, found.status
                )
                done.append(Reconciled(linked, "linked"))
                continue
            await self._note(
                SYSTEM_ACTOR, payment, "payment.resent", {"reference": payment.reference}
            )
            await self._send(SYSTEM_ACTOR, payment, rail, None)
            async with self._uow() as uow:
                again = await uow.payments.get(payment.payment_id)
            done.append(Reconciled(again or payment, "resent"))
        return done

    # Helpers -------------------------------------------------------------------------

    async def _update(
        self, payment_id: PaymentId, change: Any, actor: Actor, action: str
    ) -> Payment:
        for _ in range(_RETRIES):
            async with self._uow() as uow:
                current = await uow.payments.get(payment_id)
                if current is None:
                    raise NotFound(f"payment {payment_id} not found")
                changed: Payment = change(current)
                if changed is current:
                    return current
                # Several transitions at once are still one write.
                changed = replace(changed, version=current.version + 1)
                try:
                    await self._save(uow, actor, current, changed, action)
                except StaleWrite:
                    continue
                await uow.commit()
                return changed
        raise StaleWrite(f"payment {payment_id} keeps changing; try again")

    async def _save(
        self,
        uow: UnitOfWork,
        actor: Actor,
        before: Payment,
        after: Payment,
        action: str,
        *,
        context: dict[str, Any] | None = None,
        advisor_id: str | None = None,
    ) -> None:
        await uow.payments.update(after)
        state = _summary(after)
        if context is not None:
            state["context"] = context
        await record(
            uow,
            self._clock,
            actor,
            action,
            f"payment:{after.payment_id}",
            before=_summary(before),
            after=state,
            advisor_id=advisor_id,
        )

    async def _note(
        self, actor: Actor, payment: Payment, action: str, detail: dict[str, Any]
    ) -> None:
        async with self._uow() as uow:
            await record(
                uow, self._clock, actor, action, f"payment:{payment.payment_id}", after=detail
            )
            await uow.commit()

    async def _position(self, uow: UnitOfWork, business: Business) -> Position:
        business_id = business.business_id
        currency = business.currency
        policy = await _policy(uow, business)
        balances = tuple(
            b for b in await uow.balances.latest(business_id) if b.current.currency == currency
        )
        cash = cash_position(balances, (), (), currency=currency, now=self._clock.now()).cash
        oldest = min((b.as_of for b in balances), default=None)
        payments = await uow.payments.list(business_id, statuses=_MAY_BE_IN_FLIGHT)
        in_flight = life.in_flight_total(payments, currency, balance_as_of=oldest)
        reserves = active_reserves_total(
            await uow.reserves.list(business_id), self._clock.today(), currency
        )
        recent = runway(
            cash, await uow.bank_transactions.list(business_id), today=self._clock.today()
        )
        snapshot = await uow.forecasts.latest(business_id)
        made = snapshot.forecast if snapshot is not None else None
        if made is not None and made.as_of < self._clock.today() - FORECAST_FRESHNESS:
            made = None
        return Position(
            business=business,
            policy=policy,
            balances=balances,
            cash=cash,
            reserves=reserves,
            in_flight=in_flight,
            buffer=policy.buffer.amount(recent.average_weekly_outflow),
            average_weekly_outflow=recent.average_weekly_outflow,
            average_weekly_inflow=recent.average_weekly_inflow,
            low_point=made.low_point if made is not None and made.weeks else None,
            forecast_until=made.weeks[-1].ends_on if made is not None and made.weeks else None,
        )


_MAY_BE_IN_FLIGHT = (
    PaymentStatus.SUBMITTED,
    PaymentStatus.RAIL_CONFIRMED,
    PaymentStatus.BANK_CONFIRMED,
    PaymentStatus.STUCK,
    PaymentStatus.VERIFIED,
)


async def _policy(uow: UnitOfWork, business: Business) -> ApprovalPolicy:
    stored = await uow.policies.get(business.business_id)
    return stored or default_policy(business.business_id, business.currency)


async def custody(uow: UnitOfWork, payment: Payment) -> tuple[AuditEvent, ...]:
    subject = f"payment:{payment.payment_id}"
    return tuple(e for e in await uow.audit.events() if e.subject == subject)


def _require_approver(actor: Actor, what: str) -> None:
    if not can_approve(actor.role):
        raise Forbidden(f"a {actor.role.value} may not {what}; controllers and firm admins may")


def _holding(payments: Sequence[Payment]) -> dict[BillId, Payment]:
    return {p.bill_id: p for p in payments if p.status not in life.RELEASES_BILL}


def _already(bill_id: BillId, payment: Payment) -> BillResult:
    if payment.status is PaymentStatus.APPROVED:
        return BillResult(bill_id, Outcome.APPROVED, payment.payment_id, "already approved")
    if payment.status is PaymentStatus.BLOCKED:
        return BillResult(bill_id, Outcome.BLOCKED, payment.payment_id, payment.blocked_reason)
    if payment.status is PaymentStatus.PROPOSED:
        return BillResult(bill_id, Outcome.NEEDS_SECOND_APPROVAL, payment.payment_id)
    if payment.status in life.RELEASES_BILL:
        return BillResult(
            bill_id, Outcome.REFUSED, payment.payment_id, f"the payment is {payment.status.value}"
        )
    return BillResult(
        bill_id, Outcome.PAID, payment.payment_id, f"already paid ({payment.status.value})"
    )


def _guardrail(
    position: Position, amount: Money, now: datetime, pay_on: date | None = None
) -> GuardrailResult:
    low = position.low_point
    if low is not None and low.currency != amount.currency:
        low = None
    until = position.forecast_until
    if low is not None and pay_on is not None and until is not None and pay_on <= until:
        # The forecast already counts an open bill paid within its horizon; the
        # guardrail wants the low point without this payment.
        low = low + amount
    return check_liquidity(
        GuardrailInput(
            balances=position.balances,
            now=now,
            max_age=position.policy.max_balance_age,
            reserves=position.reserves,
            in_flight=position.in_flight,
            amount=amount,
            buffer=position.buffer,
            projected_low_point=low,
        )
    )


def _impact(position: Position, amount: Money) -> PaymentImpact:
    return payment_impact(
        cash=position.cash,
        reserves=position.reserves,
        in_flight=position.in_flight,
        buffer=position.buffer,
        average_weekly_outflow=position.average_weekly_outflow,
        average_weekly_inflow=position.average_weekly_inflow,
        amount=amount,
    )


def _context(position: Position, check: GuardrailResult) -> dict[str, Any]:
    """What the approver or submitter saw, kept with the audit event."""
    return {
        "balance": check.balance,
        "balance_as_of": check.balance_as_of,
        "balance_age_seconds": check.balance_age_seconds,
        "reserves": check.reserves,
        "in_flight": check.in_flight,
        "buffer": check.buffer,
        "guardrail": check.outcome.value,
        "guardrail_reason": check.reason,
        "policy_version": position.policy.version,
        "forecast_low_point": check.projected_low_point,
    }


def _policy_summary(policy: ApprovalPolicy) -> dict[str, Any]:
    return {
        "version": policy.version,
        "single_approver_limit": policy.single_approver_limit,
        "per_payment_cap": policy.per_payment_cap,
        "buffer": policy.buffer.describe(),
        "vendor_holds": sorted(policy.vendor_holds),
        "max_balance_age_seconds": int(policy.max_balance_age.total_seconds()),
    }


def _summary(payment: Payment) -> dict[str, Any]:
    return {
        "status": payment.status.value,
        "bill_id": payment.bill_id,
        "amount": payment.amount,
        "reference": payment.reference,
        "approvals": [a.approver for a in payment.approvals],
        "rail_payment_id": payment.rail_payment_id,
        "version": payment.version,
    }
