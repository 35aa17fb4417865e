from pathlib import Path

import pytest

from rowcol.adapters.memory.repository import MemoryUnitOfWorkFactory
from rowcol.core.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from rowcol.core.domain.ids import AdvisorId, BusinessId
from rowcol.core.domain.tenancy import SYSTEM_ACTOR, Role, RunwayTier
from support import add_tenant, make_services


async def test_a_firm_admin_sees_every_advisor_of_the_firm_but_not_another_firms(
    tmp_path: Path,
) -> None:
    services = make_services(tmp_path)
    a1 = await add_tenant(services, 1, firm="firm-a")
    a2 = await add_tenant(services, 2, firm="firm-a")
    b3 = await add_tenant(services, 3, firm="firm-b")
    admin = a1.actors[Role.FIRM_ADMIN]
    view = await services.clients.add_client_to_advisor(admin, a2.advisor_id, name="Shared Co")
    listed = await services.clients.list_clients_for_advisor(admin, a2.advisor_id)
    assert [v.business.business_id for v in listed] == [view.business.business_id]
    with pytest.raises(Forbidden):
        await services.clients.list_clients_for_advisor(admin, b3.advisor_id)
    advisors = await services.advisors.list_advisors(admin)
    assert {a.advisor_id for a in advisors} == {a1.advisor_id, a2.advisor_id}


async def test_a_controller_cannot_reach_a_client_of_another_advisor_even_in_the_same_firm(
    tmp_path: Path,
) -> None:
    services = make_services(tmp_path)
    a1 = await add_tenant(services, 1)
    a2 = await add_tenant(services, 2)
    theirs = await services.clients.add_client_to_advisor(
        a2.actors[Role.CONTROLLER], a2.advisor_id, name="Theirs"
    )
    mine = a1.actors[Role.CONTROLLER]
    with pytest.raises(Forbidden):
        await services.records.summary(mine, a2.advisor_id, theirs.business.business_id)
    with pytest.raises(NotFound):
        await services.records.summary(mine, a1.advisor_id, theirs.business.business_id)
    with pytest.raises(NotFound):
        await services.clients.remove_client_from_advisor(
            mine, a1.advisor_id, theirs.business.business_id
        )
    still = await services.clients.list_clients_for_advisor(a2.actors[Role.ADVISOR], a2.advisor_id)
    assert len(still) == 1


async def test_a_failed_change_leaves_no_half_written_state(tmp_path: Path) -> None:
    uow_factory = MemoryUnitOfWorkFactory()
    services = make_services(tmp_path, uow_factory=uow_factory)
    await services.advisors.create_advisor(
        email="a@x.example", name="A", advisor_id="adv-1", firm_id="firm-1"
    )
    with pytest.raises(Conflict):
        await services.advisors.create_advisor(
            email="A@X.example", name="Copy", advisor_id="adv-2", firm_id="firm-2"
        )
    async with uow_factory() as uow:
        assert await uow.firms.get("firm-2") is None  # type: ignore[arg-type]
        assert await uow.audit.head_count() == 2  # firm.created + advisor.created, once


async def test_changing_a_plan_is_audited_with_before_and_after(tmp_path: Path) -> None:
    services = make_services(tmp_path)
    tenant = await add_tenant(services, 1)
    await services.advisors.set_plan(
        SYSTEM_ACTOR,
        tenant.advisor_id,
        runway_tier=RunwayTier.SMART,
        feature_flags={"enterprise_portfolio": True},
    )
    events = await services.audit.events_for_advisor(SYSTEM_ACTOR, tenant.advisor_id)
    change = events[-1]
    assert change.action == "advisor.plan_changed"
    assert change.before == {"runway_tier": "basic", "feature_flags": {}}
    assert change.after == {
        "runway_tier": "smart",
        "feature_flags": {"enterprise_portfolio": True},
    }
    with pytest.raises(InvalidInput):
        await services.advisors.set_plan(
            SYSTEM_ACTOR, tenant.advisor_id, feature_flags={"teleport": True}
        )
    with pytest.raises(Forbidden):
        await services.advisors.set_plan(
            tenant.actors[Role.CONTROLLER], tenant.advisor_id, runway_tier=RunwayTier.ENTERPRISE
        )


async def test_an_unsupported_currency_is_refused_before_anything_is_stored(
    tmp_path: Path,
) -> None:
    services = make_services(tmp_path)
    tenant = await add_tenant(services, 1)
    with pytest.raises(InvalidInput):
        await services.clients.add_client_to_advisor(
            tenant.actors[Role.CONTROLLER], tenant.advisor_id, name="Acme", currency="ZZZ"
        )
    assert (
        await services.clients.list_clients_for_advisor(
            tenant.actors[Role.CONTROLLER], AdvisorId("adv-1")
        )
        == []
    )
    with pytest.raises(NotFound):
        await services.records.summary(
            tenant.actors[Role.CONTROLLER], tenant.advisor_id, BusinessId("biz-none")
        )
