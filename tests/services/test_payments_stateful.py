"""Money never moves twice, nor below the liquidity guardrail, whatever fails.

A hypothesis state machine drives `PaymentService` through approvals, submissions,
double clicks, balance changes, rail and bank outages, lost answers, crashes between
storing a payment and calling the rail, restarts, reconciles, reserves and the passing
of time, and checks after every step:

1. no bill has more than one payment holding it, and the rail holds at most one
   payment per bill;
2. every payment the rail holds was first sent while the guardrail, on the data then
   available (a model kept here: the balance set, reserves, payments in flight), allowed
   it: balance − reserves − in flight − amount ≥ buffer on a balance at most 15 minutes
   old;
3. every payment the rail holds is known to RowCol by its reference, and after a final
   reconcile with no faults every submitted payment carries its rail id;
4. the audit chain verifies.

Runs 150 examples of up to 50 steps each (about 11 s on one core).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    precondition,
    rule,
)

from rowcol.adapters.clock import ManualClock
from rowcol.adapters.memory.rails import MemoryBankVerifier, MemoryPaymentRail
from rowcol.adapters.memory.repository import MemoryUnitOfWorkFactory
from rowcol.bootstrap import Services
from rowcol.core.domain.errors import Conflict
from rowcol.core.domain.guardrail import BufferRule
from rowcol.core.domain.ids import (
    BankAccountId,
    BillId,
    BusinessId,
    PaymentId,
    ReserveId,
    VendorId,
)
from rowcol.core.domain.money import Money
from rowcol.core.domain.payments import RELEASES_BILL, Payment, PaymentStatus
from rowcol.core.domain.records import Balance, BankAccount, Bill, Vendor
from rowcol.core.domain.reserves import Reserve
from rowcol.core.domain.tenancy import SYSTEM_ACTOR, Actor, Role
from rowcol.core.services.payments import BillResult, Outcome, PaymentService
from rowcol.ports.clock import Clock
from rowcol.ports.errors import Rejected, Unavailable
from rowcol.ports.payment_rail import PaymentRequest, RailPayment
from rowcol.ports.repository import UnitOfWorkFactory
from support import NOW, Tenant, add_tenant, make_services

T = TypeVar("T")

USD = "USD"
LIMIT = 100_000
"""Single-approver limit, in cents: bills above it need two approvers."""
BUFFER = 50_000
MAX_BALANCE_AGE = timedelta(minutes=15)
RAMP_VENDOR = VendorId("v-ramp")
UNKNOWN_VENDOR = VendorId("v-not-in-ramp")
"""Ramp refuses this vendor's payments: they fail and release their bill."""
ACCOUNT = BankAccountId("acc-1")
CONTROLLERS = ("u-1-controller", "u-ctl-2", "u-ctl-3", "u-1-firm_admin")


def usd(cents: int) -> Money:
    return Money(cents, USD)


@dataclass(frozen=True, slots=True)
class BillSpec:
    bill_id: str
    amount_minor: int
    prepared_by: str | None
    vendor_id: VendorId = RAMP_VENDOR
    due: date = date(2026, 11, 20)


BILLS = (
    BillSpec("b-small", 20_000, "u-1-controller"),
    BillSpec("b-mid", 60_000, None, due=date(2026, 10, 31)),
    BillSpec("b-near-limit", 100_000, "u-ctl-2"),
    BillSpec("b-large", 150_000, "u-1-controller"),
    BillSpec("b-huge", 250_000, None),
    BillSpec("b-refused-by-ramp", 40_000, None, vendor_id=UNKNOWN_VENDOR),
)


class ProcessCrashed(Exception):
    """The process died after storing a payment as submitted, before the rail saw it."""


@dataclass(frozen=True, slots=True)
class FirstSend:
    """The model's guardrail verdict when a payment first reached the rail."""

    allowed: bool
    detail: str


class WatchedRail(MemoryPaymentRail):
    """The memory rail, plus: a hook on every submission before anything happens, a
    crash before the rail sees the request, and outages for a number of calls."""

    def __init__(self, clock: Clock, on_submit: Callable[[PaymentRequest], None]) -> None:
        super().__init__(clock)
        self.on_submit = on_submit
        self.on_rejected: Callable[[PaymentRequest], None] = lambda _: None
        self.crash_next = False
        self.down_for_calls = 0

    def _check(self, business_id: BusinessId) -> None:
        if self.down_for_calls > 0:
            self.down_for_calls -= 1
            raise Unavailable("payment rail answers 503")
        super()._check(business_id)

    async def submit_payment(self, request: PaymentRequest) -> RailPayment:
        self.on_submit(request)
        if self.crash_next:
            self.crash_next = False
            raise ProcessCrashed(f"died before sending {request.reference}")
        try:
            return await super().submit_payment(request)
        except Rejected:
            self.on_rejected(request)
            raise


class WatchedBank(MemoryBankVerifier):
    """The memory bank verifier, telling the model when the service fetched a balance."""

    def __init__(self, clock: Clock, on_fetch: Callable[[Sequence[Balance]], None]) -> None:
        super().__init__(clock)
        self.on_fetch = on_fetch

    async def get_balances(self, business_id: BusinessId) -> Sequence[Balance]:
        balances = await super().get_balances(business_id)
        self.on_fetch(balances)
        return balances


async def _seed_business(services: Services, tenant: Tenant) -> BusinessId:
    controller = tenant.actors[Role.CONTROLLER]
    view = await services.clients.add_client_to_advisor(controller, tenant.advisor_id, name="Acme")
    biz = view.business.business_id
    async with services.uow_factory() as uow:
        await uow.vendors.upsert(
            [Vendor(RAMP_VENDOR, biz, "Rent Co"), Vendor(UNKNOWN_VENDOR, biz, "New Co")]
        )
        await uow.bank_accounts.upsert([BankAccount(ACCOUNT, biz, "Operating")])
        await uow.bills.upsert(
            [
                Bill(
                    BillId(spec.bill_id),
                    biz,
                    spec.vendor_id,
                    usd(spec.amount_minor),
                    usd(spec.amount_minor),
                    date(2026, 10, 1),
                    spec.due,
                    prepared_by=spec.prepared_by,
                )
                for spec in BILLS
            ]
        )
        await uow.commit()
    return biz


async def _more_controllers(services: Services, tenant: Tenant) -> dict[str, Actor]:
    actors: dict[str, Actor] = {
        tenant.actors[Role.CONTROLLER].user_id: tenant.actors[Role.CONTROLLER],
        tenant.actors[Role.FIRM_ADMIN].user_id: tenant.actors[Role.FIRM_ADMIN],
    }
    for user_id in ("u-ctl-2", "u-ctl-3"):
        user = await services.advisors.add_staff_user(
            SYSTEM_ACTOR,
            tenant.advisor_id,
            email=f"{user_id}@firm-1.example",
            name=user_id,
            role=Role.CONTROLLER,
            user_id=user_id,
        )
        actors[user_id] = await services.advisors.actor_for_user(user.user_id)
    return actors


class PaymentMachine(RuleBasedStateMachine):
    payments = Bundle("payments")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self._tmp = tempfile.TemporaryDirectory()
        self.clock = ManualClock(NOW)
        self.uow = MemoryUnitOfWorkFactory()
        self.services = make_services(Path(self._tmp.name), uow_factory=self.uow, clock=self.clock)
        # The model: what the bank says, the balances RowCol has stored (by as_of), the
        # reserves, and the payments that reached the rail at least once.
        self.bank_cents = 300_000
        self.stored: dict[datetime, int] = {}
        self.reserves: list[Reserve] = []
        self.in_flight: dict[str, int] = {}
        self.first_sends: dict[str, FirstSend] = {}
        self.rail = WatchedRail(self.clock, self._rail_sees)
        self.rail.on_rejected = self._rail_refused
        self.bank = WatchedBank(self.clock, self._bank_fetched)
        self.tenant = self.run(add_tenant(self.services, 1))
        self.actors = self.run(_more_controllers(self.services, self.tenant))
        self.biz = self.run(_seed_business(self.services, self.tenant))
        self.rail.connect(self.biz, [RAMP_VENDOR])
        self.bank.accounts[self.biz].append(BankAccount(ACCOUNT, self.biz, "Operating"))
        self.bank.balances[self.biz] = [self._balance(self.bank_cents, NOW)]
        self.service = self._start_service()
        self.run(
            self.service.set_policy(
                self.actors[CONTROLLERS[0]],
                self.tenant.advisor_id,
                self.biz,
                single_approver_limit=usd(LIMIT),
                buffer=BufferRule.fixed(usd(BUFFER)),
            )
        )

    def teardown(self) -> None:
        try:
            self.rail.crash_next = False
            self.rail.down_for_calls = 0
            self.rail.lose_next_answer = False
            self.run(self.service.reconcile(business_id=self.biz))
            for payment in self.run(self._stored_payments()):
                if payment.status in (PaymentStatus.SUBMITTED, PaymentStatus.RAIL_CONFIRMED):
                    assert payment.rail_payment_id is not None, (
                        f"{payment.payment_id} is still unknown after a reconcile with no faults"
                    )
                    assert (self.biz, payment.reference) in self.rail.payments
            self.nothing_is_paid_twice()
            self.the_rail_holds_only_what_the_guardrail_allowed()
            self.the_rail_holds_only_payments_rowcol_knows()
            self.the_audit_chain_verifies()
        finally:
            self.loop.close()
            self._tmp.cleanup()

    # Plumbing -----------------------------------------------------------------------

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(work)

    def _start_service(self) -> PaymentService:
        return PaymentService(self.uow, self.clock, rail=self.rail, bank=self.bank)

    def _balance(self, cents: int, as_of: datetime) -> Balance:
        return Balance(ACCOUNT, self.biz, usd(cents), None, as_of)

    def _guarded(self, work: Callable[[], Awaitable[T]]) -> T | None:
        """Runs a service call; a crash ends this process and starts a fresh service on
        the same storage, as a restarted worker would."""

        async def call() -> T:
            return await work()

        try:
            return self.run(call())
        except ProcessCrashed:
            self.service = self._start_service()
            return None

    def _rail_sees(self, request: PaymentRequest) -> None:
        if request.reference in self.first_sends:
            return  # a resend of a payment decided earlier; judged when it was decided
        now = self.clock.now()
        others = sum(c for ref, c in self.in_flight.items() if ref != request.reference)
        reserves = sum(
            r.amount.amount_minor for r in self.reserves if r.is_active(self.clock.today())
        )
        amount = request.amount.amount_minor
        if not self.stored:
            verdict = FirstSend(False, "no balance was ever stored")
        else:
            as_of = max(self.stored)
            balance = self.stored[as_of]
            after = balance - reserves - others - amount
            fresh = now - as_of <= MAX_BALANCE_AGE
            verdict = FirstSend(
                fresh and after >= BUFFER,
                f"balance {balance} as of {as_of} (now {now}), reserves {reserves}, "
                f"in flight {others}, amount {amount}: leaves {after} against {BUFFER}",
            )
        self.first_sends[request.reference] = verdict
        self.in_flight[request.reference] = amount

    def _rail_refused(self, request: PaymentRequest) -> None:
        self.in_flight.pop(request.reference, None)

    def _bank_fetched(self, balances: Sequence[Balance]) -> None:
        assert [b.current.amount_minor for b in balances] == [self.bank_cents]
        self.stored[self.clock.now()] = self.bank_cents

    async def _stored_payments(self) -> Sequence[Payment]:
        async with self.uow() as uow:
            return await uow.payments.list(self.biz)

    # Rules --------------------------------------------------------------------------

    @rule(
        target=payments,
        bill=st.sampled_from(BILLS),
        approver=st.sampled_from(CONTROLLERS),
        submit=st.booleans(),
    )
    def approve(self, bill: BillSpec, approver: str, submit: bool) -> Any:
        results = self._guarded(
            lambda: self.service.approve_bills(
                self.actors[approver],
                self.tenant.advisor_id,
                self.biz,
                [bill.bill_id],
                submit=submit,
            )
        )
        if results is None:
            return multiple()
        (result,) = results
        if result.outcome is Outcome.PAID:
            assert result.payment_id is not None
        if result.payment_id is None:
            return multiple()
        return result.payment_id

    @rule(payment_id=payments)
    def submit(self, payment_id: str) -> None:
        self._guarded(
            lambda: self.service.submit(
                self.actors[CONTROLLERS[2]], self.tenant.advisor_id, self.biz, payment_id
            )
        )

    @rule(payment_id=payments)
    def double_click_submit(self, payment_id: str) -> None:
        actor = self.actors[CONTROLLERS[0]]

        async def twice() -> tuple[BillResult | BaseException, BillResult | BaseException]:
            return await asyncio.gather(
                self.service.submit(actor, self.tenant.advisor_id, self.biz, payment_id),
                self.service.submit(actor, self.tenant.advisor_id, self.biz, payment_id),
                return_exceptions=True,
            )

        outcomes = self.run(twice())
        for outcome in outcomes:
            if isinstance(outcome, ProcessCrashed):
                self.service = self._start_service()
            elif isinstance(outcome, BaseException):
                raise outcome

    @rule(payment_id=payments)
    def cancel(self, payment_id: str) -> None:
        actor = self.actors[CONTROLLERS[1]]
        try:
            self.run(self.service.cancel(actor, self.tenant.advisor_id, self.biz, payment_id))
        except Conflict:
            stored = {p.payment_id: p for p in self.run(self._stored_payments())}
            assert stored[PaymentId(payment_id)].is_submitted, (
                "only a submitted payment refuses to cancel"
            )

    @rule(
        cents=st.integers(0, 600_000),
        kept=st.sampled_from(["fresh", "stale", "bank only"]),
        stale_by=st.sampled_from([timedelta(minutes=16), timedelta(hours=3)]),
    )
    def bank_balance_changes(self, cents: int, kept: str, stale_by: timedelta) -> None:
        now = self.clock.now()
        self.bank_cents = cents
        self.bank.balances[self.biz] = [self._balance(cents, now)]
        if kept == "bank only":
            return  # RowCol has not heard yet
        as_of = now if kept == "fresh" else now - stale_by

        async def store() -> None:
            async with self.uow() as uow:
                await uow.balances.add([self._balance(cents, as_of)])
                await uow.commit()

        self.run(store())
        self.stored[as_of] = cents

    @rule(reachable=st.booleans())
    def bank_reachability(self, reachable: bool) -> None:
        self.bank.unavailable = not reachable

    @rule()
    def next_rail_answer_is_lost(self) -> None:
        self.rail.lose_next_answer = True

    @rule(calls=st.integers(1, 4))
    def rail_unavailable_for_a_while(self, calls: int) -> None:
        self.rail.down_for_calls = calls

    @rule()
    def crash_before_the_next_send(self) -> None:
        self.rail.crash_next = True

    @rule()
    def restart(self) -> None:
        self.service = self._start_service()

    @rule()
    def reconcile(self) -> None:
        self._guarded(lambda: self.service.reconcile(business_id=self.biz))

    @rule(
        step=st.sampled_from(
            [timedelta(minutes=1), timedelta(minutes=10), timedelta(minutes=20), timedelta(days=1)]
        )
    )
    def time_passes(self, step: timedelta) -> None:
        self.clock.advance(step)

    @precondition(lambda self: len(self.reserves) < 4)
    @rule(cents=st.integers(1, 200_000), days=st.integers(0, 2))
    def reserve_cash(self, cents: int, days: int) -> None:
        reserve = Reserve(
            ReserveId(f"r-{len(self.reserves) + 1}"),
            self.biz,
            "payroll",
            usd(cents),
            self.clock.today() + timedelta(days=days),
        )

        async def store() -> None:
            async with self.uow() as uow:
                await uow.reserves.upsert([reserve])
                await uow.commit()

        self.run(store())
        self.reserves.append(reserve)

    # Invariants ---------------------------------------------------------------------

    @invariant()
    def nothing_is_paid_twice(self) -> None:
        stored = self.run(self._stored_payments())
        holding = Counter(p.bill_id for p in stored if p.status not in RELEASES_BILL)
        assert all(n == 1 for n in holding.values()), f"bills held twice: {holding}"
        at_rail = Counter(r.bill_id for r in self.rail.requests)
        assert all(n == 1 for n in at_rail.values()), f"bills the rail paid twice: {at_rail}"

    @invariant()
    def the_rail_holds_only_what_the_guardrail_allowed(self) -> None:
        for (_, reference), _paid in self.rail.payments.items():
            verdict = self.first_sends.get(reference)
            assert verdict is not None, f"{reference} reached the rail unseen"
            assert verdict.allowed, f"{reference} was sent past the guardrail: {verdict.detail}"

    @invariant()
    def the_rail_holds_only_payments_rowcol_knows(self) -> None:
        async def check() -> None:
            async with self.uow() as uow:
                for (_, reference), paid in self.rail.payments.items():
                    found = await uow.payments.find_by_reference(reference)
                    assert found is not None, f"the rail holds {reference}, unknown to RowCol"
                    assert found.amount == paid.amount
                    assert found.is_submitted and found.status not in RELEASES_BILL, (
                        f"the rail holds {reference} but RowCol has it {found.status.value}"
                    )
                    assert found.rail_payment_id in (None, paid.rail_payment_id)

        self.run(check())

    @invariant()
    def in_flight_and_reserves_match_the_model(self) -> None:
        position = self.run(
            self.service.position(self.actors[CONTROLLERS[0]], self.tenant.advisor_id, self.biz)
        )
        assert position.in_flight == usd(sum(self.in_flight.values()))
        active = [r for r in self.reserves if r.is_active(self.clock.today())]
        assert position.reserves == usd(sum(r.amount.amount_minor for r in active))
        assert position.buffer == usd(BUFFER)

    @invariant()
    def approvals_follow_the_policy(self) -> None:
        for payment in self.run(self._stored_payments()):
            approvers = {a.approver for a in payment.approvals}
            assert payment.prepared_by not in approvers, "a preparer approved their own bill"
            if payment.status in (PaymentStatus.PROPOSED, PaymentStatus.CANCELLED):
                continue
            needed = 1 if payment.amount <= usd(LIMIT) else 2
            assert len(approvers) >= needed, f"{payment.payment_id} went ahead unapproved"

    @invariant()
    def the_audit_chain_verifies(self) -> None:
        checked, broken = self.run(self.services.audit.verify())
        assert broken is None, broken
        assert checked > 0


PaymentMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=50, deadline=None)
TestPayments = PaymentMachine.TestCase


# Concurrent approvals, on every storage backend ---------------------------------------


@pytest.mark.parametrize(
    ("cents", "approvals"),
    [pytest.param(40_000, 1, id="one-approver"), pytest.param(150_000, 2, id="two-approvers")],
)
async def test_two_controllers_approving_one_bill_at_once_make_one_payment(
    uow_factory: UnitOfWorkFactory, tmp_path: Path, cents: int, approvals: int
) -> None:
    clock = ManualClock(NOW)
    services = make_services(tmp_path, uow_factory=uow_factory, clock=clock)
    tenant = await add_tenant(services, 1)
    actors = await _more_controllers(services, tenant)
    biz = await _seed_business(services, tenant)
    async with uow_factory() as uow:
        bill = Bill(
            BillId("b-race"), biz, RAMP_VENDOR, usd(cents), usd(cents), date(2026, 10, 1), None
        )
        await uow.bills.upsert([bill])
        await uow.balances.add([Balance(ACCOUNT, biz, usd(1_000_000), None, NOW)])
        await uow.commit()
    rail = MemoryPaymentRail(clock)
    rail.connect(biz, [RAMP_VENDOR])
    service = PaymentService(uow_factory, clock, rail=rail)
    first, second = actors["u-ctl-2"], actors["u-ctl-3"]
    await service.set_policy(
        first,
        tenant.advisor_id,
        biz,
        single_approver_limit=usd(LIMIT),
        buffer=BufferRule.fixed(usd(BUFFER)),
    )

    results = await asyncio.gather(
        service.approve_bills(first, tenant.advisor_id, biz, ["b-race"]),
        service.approve_bills(second, tenant.advisor_id, biz, ["b-race"]),
    )

    async with uow_factory() as uow:
        stored = [p for p in await uow.payments.list(biz) if p.bill_id == "b-race"]
    assert len(stored) == 1
    (payment,) = stored
    assert {r.payment_id for (r,) in results} == {payment.payment_id}
    assert len({a.approver for a in payment.approvals}) == approvals
    assert payment.status is PaymentStatus.RAIL_CONFIRMED or payment.is_submitted
    assert [r.bill_id for r in rail.requests] == ["b-race"]
    checked, broken = await services.audit.verify()
    assert broken is None and checked > 0
