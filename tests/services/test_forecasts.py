"""Forecasts from stored records: kept as snapshots, shown 4/8/13 weeks through the API
to the smart tier only, and a payment the forecast says would take the low point under
the buffer waits for a person's second look instead of going out by itself."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

from litestar.testing import AsyncTestClient

from rowcol.adapters.clock import ManualClock
from rowcol.adapters.memory.rails import MemoryBankVerifier, MemoryPaymentRail
from rowcol.core.domain.guardrail import BufferRule
from rowcol.core.domain.ids import AdvisorId, BusinessId
from rowcol.core.domain.money import Money
from rowcol.core.domain.tenancy import SYSTEM_ACTOR, Role, RunwayTier
from rowcol.core.services.payments import Outcome, PaymentService
from rowcol.demodata import generate_firm
from rowcol.demodata.seed import seed_firm
from rowcol.entrypoints.http.app import create_app
from support import NOW, bearer, make_services


async def test_forecasts_are_kept_shown_to_the_smart_tier_and_guard_payments(
    tmp_path: Path,
) -> None:
    clock = ManualClock(NOW)
    services = make_services(tmp_path, clock=clock)
    firm = generate_firm(clients=2, seed=5, today=NOW.date(), history_months=12)
    await seed_firm(services.uow_factory, firm)
    lead = firm.advisors[0].advisor_id
    biz = next(c.business_id for c in firm.clients if c.advisor_id == lead)
    controller = next(u for u in firm.users if u.advisor_id == lead and u.role is Role.CONTROLLER)
    actor = await services.advisors.actor_for_user(controller.user_id)

    made = await services.forecasts.forecast(actor, AdvisorId(lead), BusinessId(biz))
    weeks = made.forecast.weeks
    assert [w.week for w in weeks] == list(range(1, 14))
    assert all(w.p10.amount_minor <= w.p50.amount_minor <= w.p90.amount_minor for w in weeks)
    latest = await services.forecasts.latest(actor, AdvisorId(lead), BusinessId(biz))
    assert latest == made

    base = f"/advisor/{lead}/clients/{biz}/forecast"
    async with AsyncTestClient(create_app(services)) as client:
        headers = bearer(services, actor)
        await services.advisors.set_plan(
            SYSTEM_ACTOR, AdvisorId(lead), runway_tier=RunwayTier.BASIC
        )
        refused = await client.get(f"{base}?weeks=4", headers=headers)
        assert refused.status_code == 403 and "smart_features_enabled" in refused.text
        await services.advisors.set_plan(
            SYSTEM_ACTOR, AdvisorId(lead), runway_tier=RunwayTier.SMART
        )
        shown = await client.get(f"{base}?weeks=4", headers=headers)
        assert shown.status_code == 200, shown.text
        body = shown.json()
        assert len(body["weeks"]) == 4 and body["snapshot_id"] == made.snapshot_id
        bad = await client.get(f"{base}?weeks=5", headers=headers)
        assert bad.status_code == 422 and "4, 8, 13" in bad.text
        fresh = await client.post(base, headers=headers)
        assert fresh.status_code == 201 and fresh.json()["snapshot_id"] != made.snapshot_id

    # A buffer just above the forecast's low point: the cash today covers the payment, but
    # the weeks ahead would dip under the buffer with it.
    rail = MemoryPaymentRail(clock)
    bank = MemoryBankVerifier(clock)
    payments = PaymentService(services.uow_factory, clock, rail=rail, bank=bank)
    services = dataclasses.replace(services, payments=payments)
    payable = await payments.payable_bills(actor, AdvisorId(lead), BusinessId(biz))
    bill = max(
        (p for p in payable if p.required_approvals == 1), key=lambda p: p.bill.balance.amount_minor
    ).bill
    low = made.forecast.low_point
    await payments.set_policy(
        actor,
        AdvisorId(lead),
        BusinessId(biz),
        buffer=BufferRule.fixed(Money(low.amount_minor + 1, low.currency)),
    )
    clock.advance(timedelta(minutes=1))
    async with services.uow_factory() as uow:
        vendors = [v.vendor_id for v in await uow.vendors.list(BusinessId(biz))]
        fresh = [
            dataclasses.replace(b, as_of=clock.now())
            for b in await uow.balances.latest(BusinessId(biz))
        ]
        await uow.balances.add(fresh)
        await uow.commit()
    rail.connect(BusinessId(biz), vendors)

    (result,) = await payments.approve_bills(
        actor, AdvisorId(lead), BusinessId(biz), [bill.bill_id], pay_on=NOW.date()
    )

    assert result.guardrail is not None and result.guardrail.second_look, result
    assert result.outcome is Outcome.APPROVED and rail.requests == []
    assert result.reason is not None and result.reason.startswith("second look")
