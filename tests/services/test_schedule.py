"""Bill schedules from stored records: every open bill gets a date (or is named as not
placed) with its reasons, and adopting the schedule proposes payments for approval on
those dates; nothing is paid by itself. Shown through the API to the smart tier."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from litestar.testing import AsyncTestClient

from rowcol.adapters.clock import ManualClock
from rowcol.core.domain.ids import AdvisorId, BusinessId
from rowcol.core.domain.payments import PaymentStatus
from rowcol.core.domain.records import BillStatus
from rowcol.core.domain.tenancy import SYSTEM_ACTOR, Role, RunwayTier
from rowcol.core.services.payments import Outcome
from rowcol.demodata import generate_firm
from rowcol.demodata.seed import seed_firm
from rowcol.entrypoints.http.app import create_app
from support import NOW, bearer, make_services


async def test_a_schedule_dates_every_open_bill_and_adopting_it_only_proposes_payments(
    tmp_path: Path,
) -> None:
    services = make_services(tmp_path, clock=ManualClock(NOW))
    firm = generate_firm(clients=1, seed=5, today=NOW.date(), history_months=6)
    await seed_firm(services.uow_factory, firm)
    lead = AdvisorId(firm.advisors[0].advisor_id)
    biz = BusinessId(next(c.business_id for c in firm.clients if c.advisor_id == lead))
    controller = next(u for u in firm.users if u.advisor_id == lead and u.role is Role.CONTROLLER)
    actor = await services.advisors.actor_for_user(controller.user_id)

    schedule = await services.schedule.propose(actor, lead, biz)
    async with services.uow_factory() as uow:
        open_ids = {
            b.bill_id
            for b in await uow.bills.list(biz)
            if b.status is BillStatus.OPEN and b.balance.amount_minor > 0
        }
    assert open_ids and {b.bill_id for b in schedule.bills} == open_ids
    horizon_end = NOW.date() + timedelta(days=91)
    for bill in schedule.bills:
        assert bill.explanation and bill.reasons
        if bill.pay_on is not None:
            assert NOW.date() <= bill.pay_on <= horizon_end

    placed = [b for b in schedule.bills if b.placed]
    assert placed, "the demo client can pay some of its bills"
    chosen = [str(b.bill_id) for b in placed[:2]]
    results = await services.schedule.adopt(actor, lead, biz, chosen)
    assert [r.outcome for r in results] == [Outcome.PREPARED] * len(chosen)
    async with services.uow_factory() as uow:
        payments = await uow.payments.list(biz)
    assert {p.bill_id for p in payments} == set(chosen)
    assert all(p.status is PaymentStatus.PROPOSED for p in payments)
    wanted = {b.bill_id: b.pay_on for b in placed[:2]}
    assert {p.bill_id: p.pay_on for p in payments} == wanted

    # Adopted bills are held by their payments: the next proposal leaves them out.
    again = await services.schedule.propose(actor, lead, biz)
    assert not {b.bill_id for b in again.bills} & set(chosen)

    base = f"/advisor/{lead}/clients/{biz}/schedule"
    async with AsyncTestClient(create_app(services)) as client:
        headers = bearer(services, actor)
        await services.advisors.set_plan(SYSTEM_ACTOR, lead, runway_tier=RunwayTier.BASIC)
        refused = await client.get(base, headers=headers)
        assert refused.status_code == 403
        await services.advisors.set_plan(SYSTEM_ACTOR, lead, runway_tier=RunwayTier.SMART)
        shown = await client.get(base, headers=headers)
        assert shown.status_code == 200, shown.text
        body = shown.json()
        assert {b["bill_id"] for b in body["bills"]} == {str(b.bill_id) for b in again.bills}
        assert all(b["explanation"] for b in body["bills"])
        assert body["hurdle_rate"] == "0.12"
        typo = await client.post(f"{base}/adopt", json={"bills": []}, headers=headers)
        assert typo.status_code == 400
        next_placed = [b["bill_id"] for b in body["bills"] if b["pay_on"] is not None][:1]
        adopted = await client.post(
            f"{base}/adopt", json={"bill_ids": next_placed}, headers=headers
        )
        assert adopted.status_code == 200, adopted.text
        assert [r["outcome"] for r in adopted.json()] == ["prepared"] * len(next_placed)
