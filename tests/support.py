"""Shared builders for tests: a firm with advisors and staff, and tokens for them."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rowcol.adapters.clock import ManualClock, SystemClock
from rowcol.adapters.memory.repository import MemoryUnitOfWorkFactory
from rowcol.bootstrap import RailSettings, Services, Settings, build
from rowcol.core.domain.ids import AdvisorId, Rail
from rowcol.core.domain.tenancy import Actor, Role, RunwayTier
from rowcol.demodata.seed import seed_firm
from rowcol.ports.repository import UnitOfWorkFactory
from rowcol.simulators.rig import SimulatorRig

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
KEYS = {"k-old": "o" * 40, "k-new": "n" * 40}


def settings_for_tests(tmp_path: Path, *, active: str = "k-new") -> Settings:
    return Settings(
        database_url="unused",
        data_dir=tmp_path,
        jwt_keys=KEYS,
        jwt_active_kid=active,
        storage="memory",
    )


def make_services(
    tmp_path: Path, uow_factory: UnitOfWorkFactory | None = None, clock: ManualClock | None = None
) -> Services:
    return build(
        settings_for_tests(tmp_path),
        clock=clock or ManualClock(NOW),
        uow_factory=uow_factory or MemoryUnitOfWorkFactory(),
    )


async def connected_to_rig(
    rig: SimulatorRig, url: str, tmp_path: Path, *, rails: Collection[Rail] | None = None
) -> Services:
    """Services on a fresh memory store holding the rig's firm (its people and clients,
    no records: those come from the rails), each business connected to the simulators
    served at `url` on every rail (or only `rails`)."""
    uow = MemoryUnitOfWorkFactory()
    await seed_firm(uow, dataclasses.replace(rig.firm, records=()))
    settings = Settings(
        database_url="unused",
        data_dir=tmp_path,
        jwt_keys={"k": "k" * 40},
        jwt_active_kid="k",
        rails=RailSettings.from_env(rig.environment(url)),
    )
    services = build(settings, clock=SystemClock(), uow_factory=uow)
    for connection in rig.connections():
        if rails is not None and connection.rail not in rails:
            continue
        await services.credentials.save(connection.business_id, connection.rail, connection.secrets)
        await services.sync.connect(
            connection.business_id, connection.rail, account=connection.account
        )
    return services


@dataclass
class Tenant:
    advisor_id: AdvisorId
    firm_id: str
    actors: dict[Role, Actor]


async def add_tenant(
    services: Services, n: int, *, firm: str = "firm-1", tier: RunwayTier = RunwayTier.BASIC
) -> Tenant:
    advisor = await services.advisors.create_advisor(
        email=f"advisor{n}@{firm}.example",
        name=f"Advisor {n}",
        advisor_id=f"adv-{n}",
        firm_id=firm,
        runway_tier=tier,
    )
    actors: dict[Role, Actor] = {}
    from rowcol.core.domain.tenancy import SYSTEM_ACTOR

    for role in Role:
        user = await services.advisors.add_staff_user(
            SYSTEM_ACTOR,
            advisor.advisor_id,
            email=f"{role.value}{n}@{firm}.example",
            name=f"{role.value.title()} {n}",
            role=role,
            user_id=f"u-{n}-{role.value}",
        )
        actors[role] = await services.advisors.actor_for_user(user.user_id)
    return Tenant(advisor.advisor_id, firm, actors)


def bearer(services: Services, actor: Actor, ttl: timedelta = timedelta(hours=1)) -> dict[str, str]:
    return {"Authorization": f"Bearer {services.tokens.issue(actor, ttl=ttl)}"}
