"""Bill schedules: a pay date for every open bill, proposed and, when adopted, turned
into proposed payments for approval (never a payment by itself)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.forecast import CashFlowProjector
from rowcol.core.domain.ids import AdvisorId, BillId, BusinessId
from rowcol.core.domain.money import Money
from rowcol.core.domain.payments import RELEASES_BILL
from rowcol.core.domain.priority import PriorityEngine
from rowcol.core.domain.records import BillStatus
from rowcol.core.domain.schedule import (
    DEFAULT_HURDLE_RATE,
    BillTerms,
    Schedule,
    build_problem,
    daily_path,
    due_date_of,
    explain,
    settle_late,
    terms_of,
)
from rowcol.core.domain.tenancy import Actor
from rowcol.core.services.forecasts import forecast_input
from rowcol.core.services.payments import BillResult, PaymentService
from rowcol.core.services.scope import client_for, record
from rowcol.ports.clock import Clock
from rowcol.ports.repository import UnitOfWorkFactory
from rowcol.ports.solver import ScheduleSolver

HORIZON_WEEKS = 13
_OUT_OF_HORIZON_DAYS = 7 * HORIZON_WEEKS + 365


class ScheduleService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        solver: ScheduleSolver,
        payments: PaymentService,
        *,
        projector: CashFlowProjector | None = None,
        priorities: PriorityEngine | None = None,
        hurdle_rate: Decimal = DEFAULT_HURDLE_RATE,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._solver = solver
        self._payments = payments
        self._projector = projector or CashFlowProjector()
        self._priorities = priorities or PriorityEngine()
        self._hurdle = hurdle_rate

    async def propose(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId
    ) -> Schedule:
        """Pay dates for every open bill that no payment holds yet, over 13 weeks."""
        today = self._clock.today()
        async with self._uow() as uow:
            scoped = await client_for(uow, actor, advisor_id, business_id)
            business = scoped.business
            data = await forecast_input(uow, self._clock, business)
            vendors = {v.vendor_id: v for v in await uow.vendors.list(business_id)}
            held = {
                p.bill_id
                for p in await uow.payments.list(business_id)
                if p.status not in RELEASES_BILL
            }
        currency = business.currency
        open_bills = [
            b
            for b in data.bills
            if b.status is BillStatus.OPEN
            and b.bill_id not in held
            and b.balance.amount_minor > 0
            and b.balance.currency == currency
        ]
        terms = {b.bill_id: terms_of(b) for b in open_bills}
        ranked = {
            p.bill_id: p
            for p in self._priorities.rank(
                open_bills,
                vendors,
                today=today,
                history=data.bills,
                late_fee_bills=frozenset(
                    k for k, t in terms.items() if t.late_fee_monthly_percent is not None
                ),
            )
        }
        entries = [
            BillTerms(
                bill=b,
                vendor_name=vendors[b.vendor_id].name if b.vendor_id in vendors else b.vendor_id,
                due_date=due_date_of(
                    b,
                    vendors[b.vendor_id].payment_terms_days if b.vendor_id in vendors else None,
                ),
                terms=terms[b.bill_id],
                priority=ranked[b.bill_id],
            )
            for b in open_bills
        ]
        # The cash path of everything else: the bills being scheduled move out of reach.
        away = today + timedelta(days=_OUT_OF_HORIZON_DAYS)
        others = replace(
            data, pay_dates={**data.pay_dates, **{b.bill_id: away for b in open_bills}}
        )
        forecast = await asyncio.to_thread(self._projector.project, others, weeks=HORIZON_WEEKS)
        buffer = data.buffer if data.buffer is not None else Money.zero(currency)
        path = daily_path(
            data.opening_balance, [w.p50 for w in forecast.weeks], days=7 * HORIZON_WEEKS + 1
        )
        problem = build_problem(
            entries, as_of=today, cash_path=path, buffer=buffer, hurdle_rate=self._hurdle
        )
        days = await asyncio.to_thread(self._solver.solve, problem)
        days = settle_late(problem, days)
        return explain(
            business_id,
            entries,
            problem,
            days,
            as_of=today,
            buffer=buffer,
            hurdle_rate=self._hurdle,
        )

    async def adopt(
        self,
        actor: Actor,
        advisor_id: AdvisorId,
        business_id: BusinessId,
        bill_ids: Sequence[str] | None = None,
    ) -> list[BillResult]:
        """Proposes a payment on its scheduled date for each named bill (every placed
        bill when none are named), for approval through the usual policy."""
        schedule = await self.propose(actor, advisor_id, business_id)
        placed = {b.bill_id: b for b in schedule.bills if b.pay_on is not None}
        wanted = list(placed) if bill_ids is None else [BillId(b) for b in bill_ids]
        if not wanted:
            raise InvalidInput("the schedule places no bill to adopt")
        missing = [b for b in wanted if b not in placed]
        if missing:
            raise InvalidInput("not placed by the schedule: " + ", ".join(sorted(missing)))
        results: list[BillResult] = []
        by_day: dict[date, list[str]] = {}
        for bill_id in wanted:
            pay_on = placed[bill_id].pay_on
            assert pay_on is not None
            by_day.setdefault(pay_on, []).append(bill_id)
        for pay_on, ids in sorted(by_day.items()):
            results.extend(
                await self._payments.prepare_bills(
                    actor, advisor_id, business_id, ids, pay_on=pay_on
                )
            )
        async with self._uow() as uow:
            await record(
                uow,
                self._clock,
                actor,
                "schedule.adopted",
                f"business:{business_id}",
                after={
                    "bills": {b: str(placed[b].pay_on) for b in wanted},
                    "objective": schedule.objective,
                },
                advisor_id=advisor_id,
            )
            await uow.commit()
        return results
