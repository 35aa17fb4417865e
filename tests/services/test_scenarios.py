"""Scenarios kept per client, run against a fresh baseline with both forecasts kept and
every change audited; another advisor's staff never see them."""

from __future__ import annotations

from pathlib import Path

import pytest

from rowcol.adapters.clock import ManualClock
from rowcol.core.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from rowcol.core.domain.ids import AdvisorId, BusinessId
from rowcol.core.domain.money import Money
from rowcol.core.domain.scenarios import Cadence, NewCost
from rowcol.core.domain.tenancy import Role
from rowcol.demodata import generate_firm
from rowcol.demodata.seed import seed_firm
from support import NOW, make_services


async def test_a_scenario_is_kept_run_against_the_baseline_and_deleted(tmp_path: Path) -> None:
    services = make_services(tmp_path, clock=ManualClock(NOW))
    firm = generate_firm(clients=2, seed=5, today=NOW.date(), history_months=12)
    await seed_firm(services.uow_factory, firm)
    lead = AdvisorId(firm.advisors[0].advisor_id)
    biz = BusinessId(next(c.business_id for c in firm.clients if c.advisor_id == lead))
    controller = next(u for u in firm.users if u.advisor_id == lead and u.role is Role.CONTROLLER)
    actor = await services.advisors.actor_for_user(controller.user_id)
    async with services.uow_factory() as uow:
        business = await uow.businesses.get(biz)
    assert business is not None
    hire = NewCost("new hire", Money.of("4000", business.currency), Cadence.BIWEEKLY, NOW.date())
    planner = services.scenarios

    made = await planner.create(actor, lead, biz, name="hire", changes=[hire])
    with pytest.raises(Conflict):
        await planner.create(actor, lead, biz, name="hire", changes=[hire])
    with pytest.raises(InvalidInput):
        await planner.create(actor, lead, biz, name="bad name", changes=[hire])
    assert await planner.get(actor, lead, biz, "hire") == made
    assert [s.name for s in await planner.list(actor, lead, biz)] == ["hire"]

    baseline, changed, comparison = await planner.run(actor, lead, biz, "hire")

    assert changed.scenario == "hire" and baseline.scenario is None
    for week, b, c in zip(
        comparison.weeks, baseline.forecast.weeks, changed.forecast.weeks, strict=True
    ):
        paid = len(hire.dates(week.ends_on)) - (1 if hire.starts_on <= NOW.date() else 0)
        assert week.difference == c.p50 - b.p50 == -(hire.amount.times(paid))
    async with services.uow_factory() as uow:
        assert await uow.forecasts.latest(biz) == baseline
        assert await uow.forecasts.latest(biz, scenario="hire") == changed
        actions = [e.action for e in await uow.audit.events(advisor_id=lead)]
    assert actions[-2:] == ["scenario.create", "scenario.run"]

    others = next(a.advisor_id for a in firm.advisors if a.advisor_id != lead)
    outsider = next(u for u in firm.users if u.advisor_id == others)
    stranger = await services.advisors.actor_for_user(outsider.user_id)
    with pytest.raises((NotFound, Forbidden)):
        await planner.get(stranger, lead, biz, "hire")

    await planner.delete(actor, lead, biz, "hire")
    with pytest.raises(NotFound):
        await planner.delete(actor, lead, biz, "hire")
    with pytest.raises(NotFound):
        await planner.run(actor, lead, biz, "hire")
    async with services.uow_factory() as uow:
        last = (await uow.audit.events(advisor_id=lead))[-1]
    assert last.action == "scenario.delete" and last.before["name"] == "hire"
