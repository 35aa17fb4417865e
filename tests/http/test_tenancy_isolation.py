"""No request reads or changes another tenant's data, on every storage backend.

Random actors (every role of every advisor of two firms) send random requests at random
advisors and clients, including other tenants' ids. After each request the stored state
is compared with what the actor was allowed to do, and the response is searched for any
business the actor may not see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient

from rowcol.bootstrap import Services
from rowcol.core.domain.ids import AdvisorId, BillId, BusinessId, VendorId
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import Bill, Vendor
from rowcol.core.domain.tenancy import Actor, Role
from rowcol.entrypoints.http.app import create_app
from rowcol.ports.repository import UnitOfWorkFactory
from support import Tenant, add_tenant, bearer, make_services

FIRMS = {"adv-1": "firm-a", "adv-2": "firm-a", "adv-3": "firm-b"}


@dataclass
class World:
    services: Services
    tenants: dict[str, Tenant]


async def ensure_world(uow_factory: UnitOfWorkFactory, tmp_path: Path) -> World:
    services = make_services(tmp_path, uow_factory=uow_factory)
    async with uow_factory() as uow:
        seeded = await uow.advisors.get(AdvisorId("adv-1")) is not None
    tenants: dict[str, Tenant] = {}
    for n, (advisor_id, firm) in enumerate(FIRMS.items(), start=1):
        if seeded:
            actors = {}
            for role in Role:
                actors[role] = await services.advisors.actor_for_user(
                    f"u-{n}-{role.value}"  # type: ignore[arg-type]
                )
            tenants[advisor_id] = Tenant(AdvisorId(advisor_id), firm, actors)
            continue
        tenant = await add_tenant(services, n, firm=firm)
        tenants[advisor_id] = tenant
        owner = tenant.actors[Role.CONTROLLER]
        for k in range(2):
            view = await services.clients.add_client_to_advisor(
                owner, tenant.advisor_id, name=f"Client {n}-{k}"
            )
            await _give_records(uow_factory, view.business.business_id)
    return World(services, tenants)


async def _give_records(uow_factory: UnitOfWorkFactory, business_id: BusinessId) -> None:
    async with uow_factory() as uow:
        vendor = Vendor(VendorId("v1"), business_id, f"Vendor of {business_id}")
        bill = Bill(
            BillId("b1"),
            business_id,
            vendor.vendor_id,
            Money(12_345, "USD"),
            Money(12_345, "USD"),
            date(2026, 10, 1),
            date(2026, 10, 31),
            memo=f"secret memo of {business_id}",
        )
        await uow.vendors.upsert([vendor])
        await uow.bills.upsert([bill])
        await uow.commit()


async def snapshot(uow_factory: UnitOfWorkFactory) -> dict[str, set[str]]:
    async with uow_factory() as uow:
        return {
            advisor_id: {
                c.business_id for c, _ in await uow.clients.list_for_advisor(AdvisorId(advisor_id))
            }
            for advisor_id in FIRMS
        }


def may_act_for(actor: Actor, advisor_id: str) -> bool:
    return actor.advisor_id == advisor_id or (
        actor.role is Role.FIRM_ADMIN and FIRMS[actor.advisor_id] == FIRMS[advisor_id]
    )


OPERATIONS = ["list", "add", "remove", "summary", "bills", "vendors", "audit", "advisor", "staff"]

requests = st.lists(
    st.tuples(
        st.sampled_from(sorted(FIRMS)),
        st.sampled_from(list(Role)),
        st.sampled_from(OPERATIONS),
        st.sampled_from(sorted(FIRMS)),
        st.integers(min_value=0, max_value=20),
    ),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=requests)
async def test_no_request_reads_or_changes_another_tenants_data(
    uow_factory: UnitOfWorkFactory, tmp_path: Path, batch: list[tuple[str, Role, str, str, int]]
) -> None:
    world = await ensure_world(uow_factory, tmp_path)
    async with AsyncTestClient(create_app(world.services)) as client:
        for actor_advisor, role, operation, target, pick in batch:
            actor = world.tenants[actor_advisor].actors[role]
            before = await snapshot(uow_factory)
            every_business = sorted(set().union(*before.values()))
            business = every_business[pick % len(every_business)] if every_business else "biz-none"
            base = f"/advisor/{target}"
            headers = bearer(world.services, actor)
            if operation == "list":
                response = await client.get(f"{base}/clients", headers=headers)
            elif operation == "add":
                response = await client.post(
                    f"{base}/clients", json={"name": f"New {pick}"}, headers=headers
                )
            elif operation == "remove":
                response = await client.delete(f"{base}/clients/{business}", headers=headers)
            elif operation == "summary":
                response = await client.get(f"{base}/clients/{business}", headers=headers)
            elif operation in ("bills", "vendors"):
                response = await client.get(
                    f"{base}/clients/{business}/{operation}", headers=headers
                )
            elif operation == "audit":
                response = await client.get(f"{base}/audit?limit=1000", headers=headers)
            elif operation == "advisor":
                response = await client.get(f"{base}/", headers=headers)
            else:
                response = await client.get(f"{base}/staff", headers=headers)
            after = await snapshot(uow_factory)

            assert response.status_code < 500, response.text
            allowed = may_act_for(actor, target)
            if not allowed:
                assert response.status_code in (403, 404), (operation, response.text)
                assert after == before, "a refused request changed stored state"
            owns_business = business in before[target]
            if operation in ("summary", "bills", "vendors", "remove") and allowed:
                expected = {True: (200, 204), False: (404,)}[owns_business]
                if operation == "remove" and role is Role.BOOKKEEPER:
                    expected = (403,) if owns_business else (403, 404)
                assert response.status_code in expected, (operation, response.text)

            # Nothing in any answer names a business outside what the actor may see.
            visible = {
                b
                for state in (before, after)
                for a, bs in state.items()
                if may_act_for(actor, a)
                for b in bs
            }
            hidden = set().union(*before.values(), *after.values()) - visible
            if response.status_code >= 400:
                hidden.discard(business)  # an error may echo the id the request itself named
            for other in hidden:
                assert other not in response.text, f"{other} leaked to {actor.label}"
            # Other tenants' client lists change only through their own requests.
            for advisor_id in FIRMS:
                if advisor_id != target:
                    assert after[advisor_id] == before[advisor_id]
