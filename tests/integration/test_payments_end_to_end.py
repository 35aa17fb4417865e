"""A controller approves bills on the real adapters against the simulators: the
guardrail blocks what would breach the buffer with its numbers, the rest is paid once on
Ramp, and each payment reaches verified through Ramp's webhook, the bank transaction
Plaid reports and the bill payment QBO records."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date
from pathlib import Path

from rowcol.adapters.clock import SystemClock
from rowcol.adapters.memory.repository import MemoryUnitOfWorkFactory
from rowcol.bootstrap import RailSettings, Settings, build
from rowcol.core.domain.crossrail import FindingKind
from rowcol.core.domain.guardrail import BufferRule
from rowcol.core.domain.ids import Rail
from rowcol.core.domain.money import Money
from rowcol.core.domain.payments import PaymentStatus
from rowcol.core.domain.tenancy import SYSTEM_ACTOR, Role
from rowcol.core.services.payments import Outcome
from rowcol.demodata import generate_firm
from rowcol.demodata.seed import seed_firm
from rowcol.entrypoints.http.app import create_app
from rowcol.ports.repository import UnitOfWorkFactory
from rowcol.simulators.faults import FaultKind
from rowcol.simulators.rig import SimulatorRig
from rowcol.simulators.server import BackgroundServer

TODAY = date.today()


async def test_a_week_of_bills_is_approved_some_blocked_the_rest_paid_and_verified(
    tmp_path: Path,
) -> None:
    firm = generate_firm(clients=1, seed=11, today=TODAY, history_months=2)
    biz = firm.businesses[0].business_id
    rig = SimulatorRig(firm)
    uow = MemoryUnitOfWorkFactory()
    await seed_firm(uow, dataclasses.replace(firm, records=()))
    controller = next(
        u
        for u in firm.users
        if u.role is Role.CONTROLLER and u.advisor_id == firm.advisors[0].advisor_id
    )
    with BackgroundServer(rig.hub()) as simulators:
        settings = Settings(
            database_url="unused",
            data_dir=tmp_path,
            jwt_keys={"k": "k" * 40},
            jwt_active_kid="k",
            rails=RailSettings.from_env(rig.environment(simulators.url)),
        )
        services = build(settings, clock=SystemClock(), uow_factory=uow)
        served = build(
            settings, clock=SystemClock(), uow_factory=uow, credentials=services.credentials
        )
        with BackgroundServer(create_app(served, inbox_interval=1)) as rowcol:
            for connection in rig.connections():
                await services.credentials.save(biz, connection.rail, connection.secrets)
                await services.sync.connect(biz, connection.rail, account=connection.account)
            await services.subscriptions.subscribe(biz, Rail.RAMP, f"{rowcol.url}/webhooks/ramp")
            assert all(r.ok for r in await services.sync.sync_business(biz))
            actor = await services.advisors.actor_for_user(controller.user_id)
            advisor = controller.advisor_id

            payable = await services.payments.payable_bills(actor, advisor, biz)
            chosen = sorted(payable, key=lambda p: p.bill.balance.amount_minor)[:3]
            position = await services.payments.position(actor, advisor, biz)
            room = sum(p.bill.balance.amount_minor for p in chosen[:2])
            buffer = position.cash.amount_minor - position.reserves.amount_minor - room
            await services.payments.set_policy(
                actor,
                advisor,
                biz,
                single_approver_limit=Money(10**12, position.cash.currency),
                buffer=BufferRule.fixed(Money(buffer, position.cash.currency)),
            )

            results = await services.payments.approve_bills(
                actor, advisor, biz, [p.bill.bill_id for p in chosen], pay_on=TODAY
            )

            assert [r.outcome for r in results] == [Outcome.PAID, Outcome.PAID, Outcome.BLOCKED]
            blocked = results[2]
            assert blocked.guardrail is not None and blocked.reason is not None
            assert "buffer" in blocked.reason and "short by" in blocked.reason
            again = await services.payments.approve_bills(
                actor, advisor, biz, [chosen[0].bill.bill_id]
            )
            assert again[0].payment_id == results[0].payment_id  # one payment per bill
            ramp_bills = rig.ramp.business_for(biz).bills.values()
            assert sorted(
                b.remote_id or ""
                for b in ramp_bills
                if b.remote_id and b.remote_id.startswith("rowcol-")
            ) == sorted(f"rowcol-{r.payment_id}" for r in results[:2])

            pump = rig.start_delivering(rowcol.url, every=0.2)
            try:
                paid = [r.payment_id for r in results[:2]]
                for _ in range(150):
                    report = await services.verification.run(business_id=biz)
                    async with uow() as unit:
                        states = [(await unit.payments.get(p)) for p in paid]
                    if all(s is not None and s.status is PaymentStatus.VERIFIED for s in states):
                        break
                    await asyncio.sleep(0.2)
            finally:
                pump.stop()
        assert [s.status for s in states if s is not None] == [PaymentStatus.VERIFIED] * 2, report
        view = await services.payments.payment(actor, advisor, biz, paid[0])
        actions = [e.action for e in view.custody]
        assert actions[0] == "payment.approved" and "payment.submitted" in actions
        assert actions[-1] == "payment.verified"
        approved = view.custody[0].after
        assert isinstance(approved, dict) and approved["context"]["guardrail"] == "allowed"
        # Paid in Ramp and in the books alike: the rails agree about these bills.
        report = await services.crossrail.findings(actor, advisor, biz)
        paid_bills = {r.bill_id for r in results[:2]}
        assert report.compared["rail_bills"] == 2 and report.unavailable == []
        assert not [f for f in report.findings if set(f.key.split(":")) & paid_bills]
        # Stripe's payouts, the bank's deposits and the books' deposits agree too.
        assert report.compared["payouts"] > 0 and report.compared["ledger_deposits"] > 0
        payout_kinds = {FindingKind.PAYOUT_NOT_IN_BANK, FindingKind.DEPOSIT_NOT_IN_LEDGER}
        assert not [f for f in report.findings if f.kind in payout_kinds]
        await services.aclose()


async def test_with_rail_faults_and_racing_approvers_each_bill_is_paid_once_and_verified(
    uow_factory: UnitOfWorkFactory, tmp_path: Path
) -> None:
    """The same invariants on the real adapters, with Ramp answering 429 and 5xx and
    dropping an answer after creating the bill, while two controllers approve the same
    bills at once; on memory, SQLite and PostgreSQL."""
    firm = generate_firm(clients=1, seed=12, today=TODAY, history_months=2)
    biz = firm.businesses[0].business_id
    rig = SimulatorRig(firm)
    await seed_firm(uow_factory, dataclasses.replace(firm, records=()))
    lead = firm.advisors[0].advisor_id
    with BackgroundServer(rig.hub()) as simulators:
        settings = Settings(
            database_url="unused",
            data_dir=tmp_path,
            jwt_keys={"k": "k" * 40},
            jwt_active_kid="k",
            rails=RailSettings.from_env(
                {**rig.environment(simulators.url), "ROWCOL_RAMP_REPLICA_LAG_SECONDS": "1"}
            ),
        )
        services = build(settings, clock=SystemClock(), uow_factory=uow_factory)
        for connection in rig.connections():
            await services.credentials.save(biz, connection.rail, connection.secrets)
            await services.sync.connect(biz, connection.rail, account=connection.account)
        assert all(r.ok for r in await services.sync.sync_business(biz))
        first = await services.advisors.add_staff_user(
            SYSTEM_ACTOR, lead, email="c1@firm.example", name="C One", role=Role.CONTROLLER
        )
        second = await services.advisors.add_staff_user(
            SYSTEM_ACTOR, lead, email="c2@firm.example", name="C Two", role=Role.CONTROLLER
        )
        one = await services.advisors.actor_for_user(first.user_id)
        two = await services.advisors.actor_for_user(second.user_id)
        payable = await services.payments.payable_bills(one, lead, biz)
        chosen = [p.bill.bill_id for p in sorted(payable, key=lambda p: p.bill.bill_id)[:4]]
        await services.payments.set_policy(
            one,
            lead,
            biz,
            single_approver_limit=Money(10**12, "USD"),
            buffer=BufferRule.fixed(Money(0, "USD")),
        )
        bills_path = "/developer/v1/bills$"
        rig.plan.add(FaultKind.RATE_LIMIT, path=bills_path, method="POST", retry_after=0)
        rig.plan.add(FaultKind.SERVER_ERROR, path=bills_path, method="POST")
        rig.plan.add(FaultKind.DROP, path=bills_path, method="POST")

        racing = await asyncio.gather(
            services.payments.approve_bills(one, lead, biz, chosen, pay_on=TODAY),
            services.payments.approve_bills(two, lead, biz, list(reversed(chosen)), pay_on=TODAY),
        )

        by_bill: dict[str, set[str | None]] = {}
        for batch in racing:
            for result in batch:
                assert result.outcome in (Outcome.PAID, Outcome.APPROVED), result
                by_bill.setdefault(result.bill_id, set()).add(result.payment_id)
        assert all(len(ids) == 1 for ids in by_bill.values()), "one payment per bill"
        for _ in range(100):
            rig.settle_payments()
            report = await services.verification.run(business_id=biz)
            async with uow_factory() as uow:
                stored = await uow.payments.list(biz)
            if len(stored) == 4 and all(p.status is PaymentStatus.VERIFIED for p in stored):
                break
            await asyncio.sleep(0.5)  # Plaid allows 50 transaction syncs a minute per item
        assert [p.status for p in stored] == [PaymentStatus.VERIFIED] * 4, report
        copies = [
            b.remote_id
            for b in rig.ramp.business_for(biz).bills.values()
            if b.remote_id and b.remote_id.startswith("rowcol-")
        ]
        assert sorted(copies) == sorted(p.reference for p in stored), "each paid once on Ramp"
        assert all(f.times == 0 for f in rig.plan.faults), "every fault was met"
        checked, broken = await services.audit.verify()
        assert broken is None and checked > 0
        await services.aclose()
